//! What the example probe, the fuzz targets and tests/fuzz_corpora.rs use;
//! nothing else of the library is API, so rustc reports code that nothing
//! calls.

pub use crate::build::containerfile::{expand, parse, Instruction};
pub use crate::runtime::userns::{enter_user_namespace, is_rootless, IdMaps};
pub use crate::storage::compression::auto_decompress;
pub use crate::storage::unpack::{unpack_layer, UnpackOptions, WhiteoutForm};

/// The fuzz entry points: arbitrary bytes through one parser and what its
/// callers then do with the result. None may panic, loop, or take memory
/// out of proportion to its input; errors are the expected outcome. The
/// cargo-fuzz targets in fuzz/ and tests/fuzz_corpora.rs call these same
/// functions, so a saved input replays the same code in a plain test.
pub mod fuzz {
    use crate::build::containerfile::{self, Instruction};
    use crate::engine::filter;
    use crate::format::template::Template;
    use crate::registry::{manifest, reference, resolve};
    use crate::storage::digest::Digest;
    use crate::storage::image_config::ImageConfig;
    use crate::storage::unpack::{unpack_layer, UnpackOptions, WhiteoutForm, XattrPrefix};
    use std::path::Path;

    /// One entry point.
    pub type Target = fn(&[u8]);

    /// Every target by name, as the corpora directories are named.
    pub const TARGETS: &[(&str, Target)] = &[
        ("containerfile", containerfile),
        ("reference", reference),
        ("manifest", manifest),
        ("image_config", image_config),
        ("layer_tar", layer_tar),
        ("template", template),
        ("filter", filter),
        ("quadlet", quadlet),
        ("compose", compose),
    ];

    /// The Containerfile parser, expansion, stage selection, RUN programs.
    pub fn containerfile(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let lookup = |n: &str| n.len().is_multiple_of(3).then(|| n.to_string());
        let _ = containerfile::expand(text, &lookup);
        let Ok(file) = containerfile::parse(text, "fuzz") else {
            return;
        };
        let _ = file.meta_args(&lookup);
        let _ = file.stages_for_target(None, &lookup);
        for (i, stage) in file.stages.iter().enumerate() {
            let _ = file.stages_for_target(stage.name.as_deref(), &lookup);
            if let Ok(meta) = file.meta_args(&lookup) {
                let _ = file.resolve_from(i, &meta);
            }
            for step in &stage.instructions {
                let _ = step.instruction.expand(file.escape, &lookup);
                if let Instruction::Run(run) = &step.instruction {
                    let _ = run.program();
                }
            }
        }
    }

    /// Image references as `pull`, `tag` and the filters read them.
    pub fn reference(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(r) = reference::Reference::parse(text) {
            let _ = (r.repo_name(), r.reference_str());
            let s = r.to_string();
            // What was printed parses back to the same reference.
            assert_eq!(
                reference::Reference::parse(&s).ok().as_ref(),
                Some(&r),
                "{text:?} printed as {s:?}"
            );
        }
        if let Ok(p) = reference::parse_name(text) {
            let _ = p.qualify("docker.io").reference_str();
        }
        let _ = resolve::split_name(text);
        let _ = Digest::parse(text);
        let _ = filter::reference_matches(text, "127.0.0.1:5000/tools/busybox:1");
    }

    /// Manifests and indexes, under every media type a registry may
    /// announce, and the platform choice of an index.
    pub fn manifest(data: &[u8]) {
        for content_type in [
            "",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ] {
            match manifest::parse_manifest(data, content_type) {
                Ok(manifest::ParsedManifest::Index(index)) => {
                    let _ = manifest::choose_manifest(&index, &manifest::host_platform());
                    for d in &index.manifests {
                        if let Some(p) = &d.platform {
                            let _ = manifest::parse_platform(&p.to_string());
                        }
                    }
                }
                Ok(manifest::ParsedManifest::Image(m)) => {
                    for l in &m.layers {
                        let _ = manifest::layer_compression(&l.media_type);
                    }
                }
                Err(_) => {}
            }
        }
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = manifest::parse_platform(text);
        }
    }

    /// Image configurations, and the rewrite of their diff ids.
    pub fn image_config(data: &[u8]) {
        if let Ok(cfg) = ImageConfig::parse(data) {
            let _ = serde_json::to_vec(&cfg);
            for id in &cfg.rootfs.diff_ids {
                let _ = Digest::parse(id);
            }
        }
        let _ = crate::storage::image_config::with_diff_ids(data, &[]);
    }

    /// A layer, compressed or not, unpacked into a fresh directory. Whatever
    /// the tar holds, nothing may appear beside that directory.
    pub fn layer_tar(data: &[u8]) {
        let Some((&flags, tar)) = data.split_first() else {
            return;
        };
        let base = std::env::temp_dir().join(format!("coracle-fuzz-{}", std::process::id()));
        let dest = base.join("layer");
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&dest).expect("creating the fuzz directory");
        let opts = UnpackOptions {
            xattr_prefix: XattrPrefix::User,
            whiteout: if flags & 1 == 0 {
                WhiteoutForm::Xattr
            } else {
                WhiteoutForm::CharDevice
            },
            // Device nodes and ownership stay out of a fuzz run's /tmp.
            rootless: true,
            merge: Default::default(),
        };
        if let Ok(reader) = crate::storage::compression::auto_decompress(tar) {
            let _ = unpack_layer(reader, &dest, &opts);
        }
        let beside: Vec<_> = std::fs::read_dir(&base)
            .expect("reading the fuzz directory")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(beside, vec![std::ffi::OsString::from("layer")], "escaped");
        let _ = remove_tree(&base);
    }

    /// Removes what an unpack made, even directories it left unwritable.
    fn remove_tree(dir: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let mut dirs = vec![dir.to_path_buf()];
        while let Some(d) = dirs.pop() {
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700));
            if let Ok(rd) = std::fs::read_dir(&d) {
                dirs.extend(
                    rd.flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path()),
                );
            }
        }
        std::fs::remove_dir_all(dir)
    }

    /// A `--format` template (the first line) rendered against a container
    /// record and against the JSON of the rest of the input.
    pub fn template(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let (src, rest) = text.split_once('\n').unwrap_or((text, ""));
        let Ok(t) = Template::parse(src) else {
            return;
        };
        let _ = t.field_paths();
        let sample = serde_json::json!({
            "ID": "0123456789ab", "Names": ["web"], "Image": "busybox:1",
            "Labels": {"a": "1", "b": ""}, "Ports": [{"host_port": 8080}],
            "Size": 1234, "Created": 1700000000, "State": {"Running": true},
            "Mounts": [], "Config": {"Env": ["A=1"], "Cmd": null}
        });
        let _ = t.render(&sample);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(rest) {
            let _ = t.render(&v);
        }
    }

    /// `--filter` values (one a line) as ps, pod ps, images and prune read
    /// them: grouped by key, names as regexps, labels, references, times.
    pub fn filter(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let lines: Vec<String> = text.lines().map(String::from).collect();
        let _ = crate::engine::containers::PruneFilter::parse(&lines);
        let Ok(groups) = filter::group_filters(&lines) else {
            return;
        };
        let labels = [("a".to_string(), "1".to_string())].into();
        for values in groups.values() {
            for v in values {
                let re = filter::Regex::new(v);
                let _ = re.is_match("web-1.example_container");
                let _ = re.is_full_match("127.0.0.1:5000/tools/busybox:1");
                let _ = filter::label_matches(v, &labels);
                let _ = filter::reference_matches(v, "127.0.0.1:5000/tools/busybox:1");
            }
        }
    }

    /// A Quadlet unit: the first line is the file name (its suffix picks
    /// the kind), the rest the unit's text, parsed and turned into a
    /// service as the systemd generator would.
    pub fn quadlet(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let (name, body) = text.split_once('\n').unwrap_or(("fuzz.container", text));
        let name = if crate::quadlet::is_unit_name(name) {
            name
        } else {
            "fuzz.container"
        };
        let Ok(unit) = crate::quadlet::UnitFile::parse(name, body, Path::new(name)) else {
            return;
        };
        let mut out = crate::quadlet::Outcome::default();
        crate::quadlet::generate(&[unit], "/usr/bin/coracle", false, &mut out);
    }

    /// A compose file, loaded as `compose -f FILE` does (interpolation,
    /// includes, extends, profiles, normalization, the checks), then what
    /// `compose config` and `compose convert --kube` make of it. The file
    /// sits alone in a directory of this process's own; what it includes
    /// or extends from elsewhere is read as the user running it may.
    pub fn compose(data: &[u8]) {
        use crate::engine::compose::{self, KubeOptions, LoadOptions};
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let dir = std::env::temp_dir().join(format!("coracle-fuzz-compose-{}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        let file = dir.join("compose.yaml");
        if std::fs::write(&file, text).is_err() {
            return;
        }
        let options = LoadOptions {
            files: vec![file],
            project_name: Some("fuzz".into()),
            project_directory: Some(dir),
            ..Default::default()
        };
        let Ok(project) = compose::load(&options) else {
            return;
        };
        let _ = serde_yaml_ng::to_string(&project);
        let _ = serde_json::to_string(&project);
        let names: Vec<String> = project.services.keys().cloned().collect();
        let _ = compose::start_order(&project, &names, true);
        for name in &names {
            let _ = compose::image_name(&project, name);
        }
        for kind in ["pod", "deployment"] {
            let o = KubeOptions {
                kind: kind.into(),
                service: true,
                ..Default::default()
            };
            let _ = compose::to_kube(&project, &o);
        }
    }
}
