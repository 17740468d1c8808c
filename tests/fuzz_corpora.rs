//! The fuzz corpora (fuzz/seeds/<target>/: the seeds and what the recorded
//! cargo-fuzz runs kept, minimized) replayed in plain tests: through the
//! same entry points the fuzz targets call (coracle::testing::fuzz), and
//! through the verbs that read such input, as root and rootless. No input
//! may panic or hang; a verb answers with its output or one `Error:` line.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

/// At most `n` of a target's inputs, spread over the whole corpus, for
/// the verbs (each costs a process or more).
fn sample(target: &str, n: usize) -> Vec<PathBuf> {
    let all = seeds(target);
    let step = all.len().div_ceil(n).max(1);
    all.into_iter().step_by(step).collect()
}

#[test]
fn every_input_replays_without_panic() {
    for (target, entry) in coracle::testing::fuzz::TARGETS {
        for file in seeds(target) {
            let data = std::fs::read(&file).unwrap();
            let start = Instant::now();
            let r = std::panic::catch_unwind(|| entry(&data));
            assert!(r.is_ok(), "{target}: {} panicked", file.display());
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{target}: {} took {:?}",
                file.display(),
                start.elapsed()
            );
        }
    }
}

/// A verb's answer to hostile input: success, or podman's error contract;
/// never a panic.
fn answered(mode: Mode, args: &[&str], out: &Out) {
    assert_no_panic(mode, args, out);
    if out.status != 0 {
        let errors = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("Error: "))
            .count();
        // 1: "no" (`image exists`) or not found; 125 with its one line.
        assert!(
            (out.status == 1 && errors <= 1) || (out.status == 125 && errors == 1),
            "[{mode:?}] coracle {args:?}: exit {} with stderr:\n{}",
            out.status,
            out.stderr
        );
    }
}

/// Text of a corpus file, when it is text a command line can carry.
fn arg_text(file: &Path) -> Option<String> {
    let s = String::from_utf8(std::fs::read(file).ok()?).ok()?;
    (!s.contains('\0')).then_some(s)
}

both_modes!(no_verb_panics_on_the_corpora);
fn no_verb_panics_on_the_corpora(mode: Mode) {
    let env = TestEnv::new(mode);
    let run = |args: &[&str]| answered(mode, args, &env.run(args));
    let user_file = |name: &str, data: &[u8]| -> String {
        let p = env.dir.join("inputs").join(name);
        env.write_user_file(&p, data);
        p.to_str().unwrap().to_string()
    };
    let ctx = env.dir.join("ctx");
    mkdir_mode(&ctx, 0o755);
    let ctx = ctx.to_str().unwrap().to_string();

    for (i, f) in sample("containerfile", 25).iter().enumerate() {
        let p = user_file(&format!("Containerfile.{i}"), &std::fs::read(f).unwrap());
        run(&["build", "--pull=never", "-q", "-f", &p, &ctx]);
    }
    for f in sample("reference", 25) {
        let Some(r) = arg_text(&f) else { continue };
        run(&["image", "exists", &r]);
        run(&["inspect", "--type", "image", &r]);
        run(&["tag", "nosuchimage", &r]);
    }
    for f in sample("template", 25) {
        let Some(t) = arg_text(&f) else { continue };
        let t = t.lines().next().unwrap_or("");
        run(&["version", "--format", t]);
        run(&["ps", "-a", "--format", t]);
    }
    for f in sample("filter", 25) {
        let Some(text) = arg_text(&f) else { continue };
        for line in text.lines().take(4) {
            run(&["ps", "-a", "--filter", line]);
            run(&["images", "--filter", line]);
        }
    }
    for (i, f) in sample("layer_tar", 15).iter().enumerate() {
        let data = std::fs::read(f).unwrap();
        let p = user_file(&format!("layer.{i}.tar"), data.get(1..).unwrap_or_default());
        run(&["import", "-q", &p]);
    }
    for (i, f) in sample("manifest", 15).iter().enumerate() {
        let data = std::fs::read(f).unwrap();
        let p = user_file(&format!("oci.{i}.tar"), &oci_archive_with_index(&data));
        run(&["load", "-q", "-i", &p]);
    }
    for (i, f) in sample("image_config", 15).iter().enumerate() {
        let data = std::fs::read(f).unwrap();
        let p = user_file(
            &format!("docker.{i}.tar"),
            &docker_archive_with_config(&data),
        );
        run(&["load", "-q", "-i", &p]);
    }
    // Whatever the imports and loads made, the store still lists.
    env.ok(&["images", "-a"]);
    env.ok(&["ps", "-a"]);

    // Quadlet units, as the generator's dry run reads a directory of them.
    let mut env = env;
    let units = env.dir.join("units");
    mkdir_mode(&units, 0o755);
    for (i, f) in sample("quadlet", 25).iter().enumerate() {
        let Some(text) = arg_text(f) else { continue };
        let (name, body) = text.split_once('\n').unwrap_or(("x.container", &text));
        let kind = name.rsplit('.').next().unwrap_or_default();
        let kind = match kind.bytes().all(|b| b.is_ascii_alphanumeric()) && !kind.is_empty() {
            true => kind,
            false => "container",
        };
        env.write_user_file(&units.join(format!("u{i}.{kind}")), body.as_bytes());
    }
    env.set_env("QUADLET_UNIT_DIRS", &units.to_string_lossy());
    // The generator reports each bad file on its own line and goes on with
    // the rest, as podman's does: no panic is the whole contract here.
    let args = ["quadlet", "--dryrun"];
    assert_no_panic(mode, &args, &env.run(&args));

    // Compose files, as `compose config` and `compose convert --kube` read
    // them: the normalized project, or one error line naming the file.
    let project = env.dir.join("project");
    mkdir_mode(&project, 0o755);
    for (i, f) in sample("compose", 20).iter().enumerate() {
        let file = project.join(format!("c{i}.yaml"));
        env.write_user_file(&file, &std::fs::read(f).unwrap());
        let file = file.to_string_lossy();
        for verb in [&["config"][..], &["convert", "--kube"][..]] {
            let mut args = vec!["compose", "-p", "fuzz", "-f", &file];
            args.extend_from_slice(verb);
            answered(mode, &args, &env.run(&args));
        }
    }
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// An OCI archive whose index.json is `index`.
fn oci_archive_with_index(index: &[u8]) -> Vec<u8> {
    tar_of(&[
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
        ("index.json", index),
    ])
}

/// A docker archive of one image without layers whose config is `config`.
fn docker_archive_with_config(config: &[u8]) -> Vec<u8> {
    let manifest = br#"[{"Config":"config.json","RepoTags":["fuzz:1"],"Layers":[]}]"#;
    tar_of(&[("manifest.json", manifest), ("config.json", config)])
}
