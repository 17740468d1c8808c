//! `coracle artifact ...`: OCI artifacts added from files, listed,
//! inspected, extracted, removed, pushed to the test registry and pulled
//! back; bad input refused with the artifact store unchanged.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
const TITLE: &str = "org.opencontainers.image.title";

/// Input files the command's user can read, in a directory it owns.
fn input(env: &TestEnv, name: &str, content: &[u8]) -> String {
    let p = env.home.join("in").join(name);
    env.write_user_file(&p, content);
    p.to_str().unwrap().to_string()
}

/// An empty directory the command's user may write in.
fn out_dir(env: &TestEnv, name: &str) -> PathBuf {
    let dir = env.home.join(name);
    env.write_user_file(&dir.join(".keep"), b"");
    std::fs::remove_file(dir.join(".keep")).unwrap();
    dir
}

fn inspect(env: &TestEnv, name: &str) -> Value {
    let out = env.ok(&["artifact", "inspect", name]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("artifact inspect: {e}: {out}"))
}

fn titles(doc: &Value) -> Vec<String> {
    doc["Manifest"]["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["annotations"][TITLE].as_str().unwrap().to_string())
        .collect()
}

/// What the artifact store holds, for "unchanged" checks.
fn snapshot(env: &TestEnv) -> (String, Vec<String>) {
    let ls = env.ok(&[
        "artifact",
        "ls",
        "--no-trunc",
        "--format",
        "{{.Repository}} {{.Tag}} {{.Digest}} {{.VirtualSize}}",
    ]);
    let blobs = env.store_dir().join("artifacts/blobs/sha256");
    let mut names: Vec<String> = std::fs::read_dir(&blobs)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    (ls, names)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

both_modes!(artifact_lifecycle);
fn artifact_lifecycle(mode: Mode) {
    let env = TestEnv::new(mode);
    let txt = input(&env, "notes.txt", b"hello artifact\n");
    let bin = input(&env, "model.bin", b"\x00\x01\x02weights");
    let name = "quay.io/coracle/art";

    // add: one layer per file, titled by its name, typed by its content.
    let digest = env.ok(&[
        "artifact",
        "add",
        "--type",
        "application/x.coracle.test",
        "--annotation",
        "k=v",
        name,
        &txt,
        &bin,
    ]);
    let digest = digest.trim().to_string();
    assert!(is_hex(&digest, 64), "add prints the digest: {digest:?}");
    let doc = inspect(&env, name);
    assert_eq!(doc["Name"], "quay.io/coracle/art:latest");
    assert_eq!(doc["Digest"], format!("sha256:{digest}"));
    let m = &doc["Manifest"];
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(m["artifactType"], "application/x.coracle.test");
    assert_eq!(m["config"]["mediaType"], EMPTY_CONFIG);
    assert_eq!(m["config"]["size"], 2);
    assert_eq!(m["annotations"]["k"], "v");
    assert!(m["annotations"]["org.opencontainers.image.created"]
        .as_str()
        .is_some_and(|c| c.ends_with('Z')));
    assert_eq!(titles(&doc), ["notes.txt", "model.bin"]);
    assert_eq!(m["layers"][0]["mediaType"], "text/plain; charset=utf-8");
    assert_eq!(m["layers"][1]["mediaType"], "application/octet-stream");
    assert_eq!(m["layers"][0]["size"], 15);
    assert_eq!(m["layers"][0]["annotations"]["k"], "v");
    // The store is an OCI layout that names the artifact.
    let index = std::fs::read_to_string(env.store_dir().join("artifacts/index.json")).unwrap();
    assert!(index.contains("\"org.opencontainers.image.ref.name\":\"quay.io/coracle/art:latest\""));

    // inspect by a digest prefix, through a template.
    assert_eq!(
        env.ok(&[
            "artifact",
            "inspect",
            "--format",
            "{{.Name}} {{.TotalSizeBytes}} {{.Digest}}",
            &digest[..8],
        ])
        .trim(),
        format!("quay.io/coracle/art:latest 25 sha256:{digest}")
    );

    // ls: podman's columns; the digest cut to 12 unless --no-trunc.
    let ls = env.ok(&["artifact", "ls"]);
    let mut lines = ls.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["REPOSITORY", "TAG", "DIGEST", "CREATED", "SIZE"]);
    let row = lines.next().unwrap();
    assert!(row.starts_with("quay.io/coracle/art"), "{ls}");
    assert!(
        row.contains(&digest[..12]) && !row.contains(&digest[..13]),
        "{ls}"
    );
    assert!(row.trim_end().ends_with("25B"), "{ls}");
    assert_eq!(
        env.ok(&[
            "artifact",
            "ls",
            "--no-trunc",
            "--noheading",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.Digest}} {{.VirtualSize}}"
        ]),
        format!("quay.io/coracle/art:latest {digest} 25\n")
    );

    // --append adds a file and keeps the creation time; --replace starts over.
    let yaml = input(&env, "config.yaml", b"a: 1\n");
    let appended = env.ok(&["artifact", "add", "--append", name, &yaml]);
    let doc2 = inspect(&env, name);
    assert_eq!(titles(&doc2), ["notes.txt", "model.bin", "config.yaml"]);
    assert_eq!(
        doc2["Manifest"]["annotations"]["org.opencontainers.image.created"],
        m["annotations"]["org.opencontainers.image.created"]
    );
    assert_ne!(appended.trim(), digest);

    // extract: a directory gets every blob under its title.
    let dir = out_dir(&env, "out");
    env.ok(&["artifact", "extract", name, s(&dir)]);
    assert_eq!(
        std::fs::read(dir.join("notes.txt")).unwrap(),
        b"hello artifact\n"
    );
    assert_eq!(
        std::fs::read(dir.join("model.bin")).unwrap(),
        b"\x00\x01\x02weights"
    );
    assert_eq!(std::fs::read(dir.join("config.yaml")).unwrap(), b"a: 1\n");
    // A file target takes one blob (by title), replacing what was there.
    let file = dir.join("one");
    env.write_user_file(&file, b"old content that is longer");
    env.ok(&[
        "artifact",
        "extract",
        "--title",
        "config.yaml",
        name,
        s(&file),
    ]);
    assert_eq!(std::fs::read(&file).unwrap(), b"a: 1\n");
    // --digest into a directory names the file by the digest.
    let bin_digest = doc2["Manifest"]["layers"][1]["digest"].as_str().unwrap();
    let dir2 = out_dir(&env, "out2");
    env.ok(&[
        "artifact",
        "extract",
        "--digest",
        bin_digest,
        name,
        s(&dir2),
    ]);
    let listed: Vec<String> = std::fs::read_dir(&dir2)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, [bin_digest.replace(':', "-")]);

    let replaced = env.ok(&["artifact", "add", "--replace", name, &yaml]);
    assert_eq!(titles(&inspect(&env, name)), ["config.yaml"]);
    // The replaced manifest's blobs are gone from the layout.
    let (_, blobs) = snapshot(&env);
    assert_eq!(blobs.len(), 3, "config, one layer, the manifest: {blobs:?}");

    // rm by a digest prefix prints the removed digest.
    let second = env.ok(&["artifact", "add", "localhost/other:v1", &txt]);
    let rm = env.ok(&["artifact", "rm", &replaced.trim()[..10]]);
    assert_eq!(rm.trim(), replaced.trim());
    assert_eq!(
        env.ok(&["artifact", "ls", "--format", "{{.Repository}} {{.Tag}}"]),
        "localhost/other v1\n"
    );
    assert_eq!(env.ok(&["artifact", "rm", "--all"]).trim(), second.trim());
    assert_eq!(env.ok(&["artifact", "ls", "--noheading"]), "");
    assert_eq!(snapshot(&env).1.len(), 0, "rm leaves no blobs");
    // Each change is an artifact event, as podman's.
    let events = env.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "type=artifact",
        "--format",
        "{{.Status}} {{.Name}}",
    ]);
    let first: Vec<&str> = events.lines().take(2).collect();
    assert_eq!(
        first,
        [
            "add quay.io/coracle/art:latest",
            "add quay.io/coracle/art:latest"
        ]
    );
    assert!(events.contains("remove localhost/other:v1"), "{events}");
}

both_modes!(artifact_bad_input);
fn artifact_bad_input(mode: Mode) {
    let env = TestEnv::new(mode);
    let a = input(&env, "a.txt", b"a\n");
    let b = input(&env, "b.txt", b"b\n");
    let name = "quay.io/coracle/bad:1";
    env.ok(&["artifact", "add", name, &a, &b]);
    let before = snapshot(&env);
    let dir = out_dir(&env, "x");
    let missing = env.home.join("in/missing");
    let refused = |args: &[&str], needle: &str| {
        assert_refused(&env, args, needle);
        assert_eq!(
            snapshot(&env),
            before,
            "`{}` changed the store",
            args.join(" ")
        );
    };
    refused(&["artifact", "add", "short", &a], "must be canonical");
    refused(
        &["artifact", "add", "docker.io/short", &a],
        "must be canonical",
    );
    refused(
        &["artifact", "add", "quay.io/UPPER", &a],
        "invalid reference format",
    );
    refused(&["artifact", "add", "quay.io/x/y", s(&missing)], "missing");
    refused(&["artifact", "add", name, &a], "artifact already exists");
    refused(
        &["artifact", "add", "--append", "quay.io/no/such", &a],
        "artifact does not exist",
    );
    refused(
        &["artifact", "add", "--append", name, &a],
        "a.txt: file already exists in artifact",
    );
    refused(
        &["artifact", "add", "--append", "--replace", name, &a],
        "cannot be used together",
    );
    refused(
        &["artifact", "add", "--append", "--type", "t/x", name, &a],
        "not compatible with type",
    );
    refused(
        &[
            "artifact",
            "add",
            "--annotation",
            "novalue",
            "quay.io/x/y",
            &a,
        ],
        "novalue",
    );
    refused(
        &["artifact", "rm", "quay.io/no/such"],
        "quay.io/no/such:latest: artifact does not exist",
    );
    refused(
        &["artifact", "rm", name, "quay.io/no/such"],
        "artifact does not exist",
    );
    refused(&["artifact", "rm", "--all", name], "--all");
    refused(&["artifact", "rm"], "at least one");
    refused(
        &["artifact", "inspect", "quay.io/no/such"],
        "artifact does not exist",
    );
    refused(
        &["artifact", "extract", name, s(&dir.join("f"))],
        "several blobs",
    );
    refused(
        &["artifact", "extract", "--title", "zzz", name, s(&dir)],
        "no blob with the title",
    );
    refused(
        &[
            "artifact",
            "extract",
            "--title",
            "a.txt",
            "--digest",
            "sha256:00",
            name,
            s(&dir),
        ],
        "--digest",
    );
    refused(
        &["artifact", "pull", "--decryption-key", "k", "quay.io/x/y"],
        "not supported",
    );
    assert!(
        std::fs::read_dir(&dir).unwrap().next().is_none(),
        "refused extracts wrote nothing"
    );
    // --ignore skips what does not exist and removes the rest.
    let ignored = env.ok(&["artifact", "rm", "--ignore", "quay.io/no/such", name]);
    assert_eq!(ignored.lines().count(), 1);
    assert_eq!(env.ok(&["artifact", "ls", "--noheading"]), "");
}

both_modes!(artifact_push_pull);
fn artifact_push_pull(mode: Mode) {
    let env = TestEnv::new(mode);
    let reg = registry();
    let name = format!("{}/{}:v1", reg.host, unique("artifacts/push"));
    let a = input(&env, "weights.bin", b"\x00\x00weights\x01");
    let b = input(&env, "readme.md", b"# readme\n");
    let digest = env.ok(&[
        "artifact",
        "add",
        "--type",
        "application/x.coracle.model",
        &name,
        &a,
        &b,
    ]);
    let digest = format!("sha256:{}", digest.trim());
    let digestfile = env.home.join("digest");
    let pushed = env.run(&[
        "artifact",
        "push",
        "--tls-verify=false",
        "--retry",
        "1",
        "--retry-delay",
        "100ms",
        "--digestfile",
        s(&digestfile),
        &name,
    ]);
    assert_eq!(pushed.status, 0, "push: {}", pushed.stderr);
    assert!(
        pushed
            .stderr
            .contains("Writing manifest to image destination"),
        "{}",
        pushed.stderr
    );
    assert_eq!(std::fs::read_to_string(&digestfile).unwrap(), digest);
    // The registry serves the artifact's manifest as it was stored.
    let remote: Value =
        serde_json::from_str(&env.ok(&["manifest", "inspect", "--tls-verify=false", &name]))
            .unwrap();
    assert_eq!(remote["artifactType"], "application/x.coracle.model");
    assert_eq!(remote["config"]["mediaType"], EMPTY_CONFIG);

    // A fresh store pulls it back, byte for byte.
    let fresh = TestEnv::new(mode);
    let out = fresh.run(&["artifact", "pull", "-q", "--tls-verify=false", &name]);
    assert_eq!(out.status, 0, "pull: {}", out.stderr);
    assert_eq!(out.stderr, "", "--quiet prints no progress");
    let doc = inspect(&fresh, &name);
    assert_eq!(doc["Digest"], digest);
    let dir = out_dir(&fresh, "got");
    fresh.ok(&["artifact", "extract", &name, s(&dir)]);
    assert_eq!(
        std::fs::read(dir.join("weights.bin")).unwrap(),
        b"\x00\x00weights\x01"
    );
    assert_eq!(std::fs::read(dir.join("readme.md")).unwrap(), b"# readme\n");
    // Pulling again replaces it in place; pulling what is not there fails cleanly.
    fresh.ok(&["artifact", "pull", "-q", "--tls-verify=false", &name]);
    assert_eq!(
        fresh.ok(&["artifact", "ls", "--noheading"]).lines().count(),
        1
    );
    let before = snapshot(&fresh);
    let missing = format!("{}/{}:nope", reg.host, unique("artifacts/none"));
    let out = fresh.run(&["artifact", "pull", "--tls-verify=false", &missing]);
    assert_error(mode, "pull missing", &out, 125, &["nope"]);
    assert_eq!(snapshot(&fresh), before);
    // A Docker image's manifest is no artifact: refused.
    let img = docker();
    let out = fresh.run(&["artifact", "pull", "--tls-verify=false", &img.reference()]);
    assert_error(mode, "pull image", &out, 125, &["not an artifact"]);
    assert_eq!(snapshot(&fresh), before);
}

both_modes!(manifest_artifact);
fn manifest_artifact(mode: Mode) {
    let env = TestEnv::new(mode);
    let reg = registry();
    let img = busybox();
    env.pull(&img.reference());
    let json_file = input(&env, "settings.json", b"{\"a\": 1}\n");
    let bin = input(&env, "blob.bin", b"\x00\x01\x02");
    env.ok(&["manifest", "create", "localhost/arts"]);

    // Artifact flags need --artifact, named as podman names them.
    assert_refused(
        &env,
        &[
            "manifest",
            "add",
            "--artifact-type",
            "x/y",
            "localhost/arts",
            &img.reference(),
        ],
        "--artifact-type requires --artifact",
    );
    assert_refused(
        &env,
        &[
            "manifest",
            "add",
            "--artifact",
            "localhost/arts",
            s(&env.home.join("in/none")),
        ],
        "none",
    );

    let id = env.ok(&[
        "manifest",
        "add",
        "--artifact",
        "--artifact-type",
        "application/x.coracle.cfg",
        "--artifact-subject",
        &img.reference(),
        "--annotation",
        "k=v",
        "--os",
        "linux",
        "--arch",
        "arm64",
        "localhost/arts",
        &json_file,
        &bin,
    ]);
    assert!(is_hex(id.trim(), 64), "add prints the list's id: {id:?}");
    let index: Value =
        serde_json::from_str(&env.ok(&["manifest", "inspect", "localhost/arts"])).unwrap();
    let entry = &index["manifests"][0];
    assert_eq!(
        entry["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(entry["artifactType"], "application/x.coracle.cfg");
    assert_eq!(entry["annotations"]["k"], "v");
    assert_eq!(entry["platform"]["architecture"], "arm64");
    let art_digest = entry["digest"].as_str().unwrap().to_string();
    // Not a named artifact: `artifact ls` does not list it.
    assert_eq!(env.ok(&["artifact", "ls", "--noheading"]), "");

    // The index's own subject: only for the index, not an entry.
    assert_refused(
        &env,
        &[
            "manifest",
            "annotate",
            "--subject",
            &img.reference(),
            "localhost/arts",
            &art_digest,
        ],
        "requires no instance digest",
    );
    env.ok(&[
        "manifest",
        "annotate",
        "--index",
        "--subject",
        &img.reference(),
        "localhost/arts",
    ]);
    let index: Value =
        serde_json::from_str(&env.ok(&["manifest", "inspect", "localhost/arts"])).unwrap();
    assert_eq!(index["subject"]["digest"], img.digest);

    // Pushed with the list: the artifact's manifest and files reach the registry.
    let dest = format!("{}/{}:1", reg.host, unique("artifacts/list"));
    env.ok(&[
        "manifest",
        "push",
        "-q",
        "--tls-verify=false",
        "localhost/arts",
        &dest,
    ]);
    let at = format!("{}@{art_digest}", dest.rsplit_once(':').unwrap().0);
    let remote: Value =
        serde_json::from_str(&env.ok(&["manifest", "inspect", "--tls-verify=false", &at])).unwrap();
    assert_eq!(remote["artifactType"], "application/x.coracle.cfg");
    assert_eq!(remote["subject"]["digest"], img.digest);
    assert_eq!(remote["config"]["mediaType"], EMPTY_CONFIG);
    assert_eq!(remote["layers"][0]["mediaType"], "application/json");
    assert_eq!(remote["layers"][0]["annotations"][TITLE], "settings.json");
    assert_eq!(remote["layers"][1]["mediaType"], "application/octet-stream");
    assert_eq!(remote["layers"][1]["size"], 3);
    // ... and read back as an artifact.
    let fresh = TestEnv::new(mode);
    fresh.ok(&["artifact", "pull", "-q", "--tls-verify=false", &at]);
    let dir = out_dir(&fresh, "got");
    fresh.ok(&[
        "artifact",
        "extract",
        "--title",
        "settings.json",
        &at,
        s(&dir),
    ]);
    assert_eq!(
        std::fs::read(dir.join("settings.json")).unwrap(),
        b"{\"a\": 1}\n"
    );
}

both_modes!(artifact_registry_auth);
fn artifact_registry_auth(mode: Mode) {
    let env = TestEnv::new(mode);
    let reg = auth_registry();
    let name = format!("{}/{}:1", reg.host, unique("artifacts/auth"));
    let f = input(&env, "f.txt", b"secret-ish\n");
    let digest = env.ok(&["artifact", "add", &name, &f]);
    // Without credentials the registry refuses; --creds gets in.
    let out = env.run(&["artifact", "push", "-q", "--tls-verify=false", &name]);
    assert_error(mode, "push without creds", &out, 125, &[]);
    let creds = format!(
        "{}:{}",
        reg.user.as_deref().unwrap(),
        reg.pass.as_deref().unwrap()
    );
    env.ok(&[
        "artifact",
        "push",
        "-q",
        "--tls-verify=false",
        "--creds",
        &creds,
        &name,
    ]);
    // An auth file names them too; a missing one is refused up front.
    let fresh = TestEnv::new(mode);
    let authfile = fresh.home.join("auth.json");
    fresh.write_user_file(&authfile, reg.auth_json().as_bytes());
    assert_refused(
        &fresh,
        &[
            "artifact",
            "pull",
            "--authfile",
            s(&fresh.home.join("nope.json")),
            &name,
        ],
        "nope.json",
    );
    fresh.ok(&[
        "artifact",
        "pull",
        "-q",
        "--tls-verify=false",
        "--authfile",
        s(&authfile),
        &name,
    ]);
    assert_eq!(
        inspect(&fresh, &name)["Digest"],
        format!("sha256:{}", digest.trim())
    );
}
