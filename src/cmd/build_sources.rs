//! `build`'s flags on where its inputs come from: `--from` (the first
//! FROM's image), `--build-context` (named extra sources) and
//! `--cpp-flag` (Containerfiles named `*.in` go through cpp first).

use crate::engine::build as engine;
use crate::engine::types::{Containerfile, NamedContext};
use anyhow::{bail, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Args, Debug, Default)]
pub struct SourceFlags {
    /// Image to use instead of the one the first FROM names
    #[arg(long, value_name = "IMAGE")]
    pub from: Option<String>,
    /// An additional build context: NAME=DIR or NAME=container-image://IMAGE (also docker-image://, docker://), for FROM NAME and COPY --from=NAME
    #[arg(long = "build-context", value_name = "NAME=VALUE")]
    pub build_context: Vec<String>,
    /// Flag for cpp(1), which preprocesses Containerfiles whose names end in .in
    #[arg(long = "cpp-flag", value_name = "FLAG", allow_hyphen_values = true)]
    pub cpp_flag: Vec<String>,
}

impl SourceFlags {
    /// The Containerfile's text as the parser gets it: through cpp when
    /// its name ends in `.in`.
    pub fn preprocess(&self, text: String, name: &str) -> Result<String> {
        if !name.ends_with(".in") {
            return Ok(text);
        }
        let dir = Path::new(name).parent().unwrap_or(Path::new("."));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        engine::preprocess(&text, dir, &self.cpp_flag)
    }

    /// `--from`: the first stage's base replaced.
    pub fn apply_from(&self, file: &mut Containerfile) -> Result<()> {
        if let Some(image) = &self.from {
            if image.is_empty() {
                bail!("--from: the image name is empty");
            }
            engine::replace_first_from(file, image);
        }
        Ok(())
    }

    pub fn contexts(&self) -> Result<BTreeMap<String, NamedContext>> {
        let mut out = BTreeMap::new();
        for c in &self.build_context {
            let (name, ctx) = engine::parse_build_context(c)?;
            out.insert(name, ctx);
        }
        Ok(out)
    }
}
