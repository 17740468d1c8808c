//! The images a build will name, found before it starts: each stage's
//! FROM (meta ARGs expanded, a `--build-context` put in its place) and
//! each COPY --from image, for the stages the build runs. What
//! `--source-policy-file` vets and `--all-platforms` takes platforms from.

use super::containerfile::{expand_with_escape, BaseRef, Containerfile, Instruction, Stage};
use super::named_context::NamedContext;
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;

/// What picks the stages a build runs and what their names mean (the
/// build options' own: `BuildOptions::selection`).
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    pub target: Option<&'a str>,
    pub build_args: &'a BTreeMap<String, String>,
    /// `--skip-unused-stages=false`: every stage up to the target.
    pub all_stages: bool,
    pub contexts: &'a BTreeMap<String, NamedContext>,
}

/// An image a build names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedImage {
    /// The name the build looks up.
    pub name: String,
    /// The instruction that names it, as written.
    pub text: String,
    /// A stage's base (FROM), not a COPY --from source.
    pub base: bool,
}

/// A base that names a `--build-context`: its image; a directory cannot
/// be a base.
pub fn context_base(opts: Selection, stage: &Stage, base: BaseRef) -> Result<BaseRef> {
    let name = match &base {
        BaseRef::Scratch => return Ok(base),
        BaseRef::Image(n) => n.clone(),
        BaseRef::Stage(_) => stage.from.image.clone(),
    };
    match opts.contexts.get(&name) {
        None => Ok(base),
        Some(NamedContext::Image(image)) => Ok(BaseRef::Image(image.clone())),
        Some(NamedContext::Dir(d)) => bail!(
            "{}: build context {name} is a directory ({}): FROM needs an image",
            stage.text,
            d.display()
        ),
    }
}

/// The stages a build of `file` runs, in order (as the builder picks them).
pub fn stages_to_build(file: &Containerfile, opts: Selection) -> Result<Vec<usize>> {
    let lookup = |n: &str| opts.build_args.get(n).cloned();
    let mut stages = file
        .stages_for_target(opts.target, &lookup)
        .map_err(|e| anyhow!("{e}"))?;
    if opts.all_stages {
        let target = stages.last().copied().unwrap_or_default();
        stages = (0..=target).collect();
    }
    Ok(stages)
}

/// Every image the stages to build name, in order. A COPY --from value
/// is expanded with the meta ARGs only (a stage's own ARGs are not known
/// yet): the builder vets what it finds there again as it resolves it.
pub fn named_images(file: &Containerfile, opts: Selection) -> Result<Vec<NamedImage>> {
    let lookup = |n: &str| opts.build_args.get(n).cloned();
    let meta = file.meta_args(&lookup).map_err(|e| anyhow!("{e}"))?;
    let mut out = Vec::new();
    for i in stages_to_build(file, opts)? {
        let stage = &file.stages[i];
        let base = file.resolve_from(i, &meta).map_err(|e| anyhow!("{e}"))?;
        if let BaseRef::Image(name) = context_base(opts, stage, base)? {
            out.push(NamedImage {
                name,
                text: stage.text.clone(),
                base: true,
            });
        }
        for step in &stage.instructions {
            let Instruction::Copy(c) = &step.instruction else {
                continue;
            };
            let Some(from) = &c.from else { continue };
            let from = expand_with_escape(from, file.escape, &|n: &str| meta.get(n).cloned())
                .unwrap_or_else(|_| from.clone());
            let name = match opts.contexts.get(&from) {
                Some(NamedContext::Image(image)) => image.clone(),
                Some(NamedContext::Dir(_)) => continue,
                None => match file.resolve_copy_from(i, &from) {
                    Ok(BaseRef::Image(name)) => name,
                    // A bad reference is the builder's to report, in turn.
                    _ => continue,
                },
            };
            out.push(NamedImage {
                name,
                text: step.text.clone(),
                base: false,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::containerfile::parse;

    #[test]
    fn bases_and_copy_sources_of_the_stages_built() {
        let file = parse(
            "ARG V=1\nFROM a:$V AS one\nFROM one\nCOPY --from=b:2 /x /x\nCOPY --from=one /y /y\n\
             FROM ctx AS three\nFROM scratch AS four\nCOPY --from=dir /z /z\n",
            "Containerfile",
        )
        .unwrap();
        let mut contexts = BTreeMap::new();
        contexts.insert("ctx".into(), NamedContext::Image("c:3".into()));
        contexts.insert("dir".into(), NamedContext::Dir("/tmp".into()));
        let mut build_args = BTreeMap::new();
        let opts = Selection {
            target: None,
            build_args: &build_args,
            all_stages: true,
            contexts: &contexts,
        };
        let got: Vec<(String, bool)> = named_images(&file, opts)
            .unwrap()
            .into_iter()
            .map(|n| (n.name, n.base))
            .collect();
        let want = [("a:1", true), ("b:2", false), ("c:3", true)];
        assert_eq!(
            got,
            want.map(|(n, b)| (n.to_string(), b)).to_vec(),
            "every stage"
        );
        build_args.insert("V".into(), "9".into());
        let opts = Selection {
            target: Some("one"),
            build_args: &build_args,
            all_stages: false,
            contexts: &contexts,
        };
        let got: Vec<String> = named_images(&file, opts)
            .unwrap()
            .into_iter()
            .map(|n| n.name)
            .collect();
        assert_eq!(got, ["a:9"]);
    }
}
