//! `coracle build`'s `--sbom` flags (a scanner image run over the built
//! image and the context, its outputs merged), `--jobs` (stages built at
//! once) and `--userns*` (the RUN steps' user namespace), as root and
//! rootless.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// A context directory holding `files`; `{BASE}` becomes the `rt` image.
fn context(env: &TestEnv, name: &str, base: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.dir.join(name);
    mkdir_mode(&dir, 0o755);
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content.replace("{BASE}", base)).unwrap();
    }
    dir
}

/// `build -q ARGS CTX`; returns the image id (stdout's last line).
fn build(env: &TestEnv, args: &[&str], ctx: &Path) -> String {
    let mut a = vec!["build", "-q"];
    a.extend_from_slice(args);
    a.push(ctx.to_str().unwrap());
    let out = env.ok(&a);
    let id = out.lines().last().unwrap_or("").to_string();
    assert!(is_hex(&id, 64), "[{:?}] no image id: {out}", env.mode);
    id
}

/// A scanner: `/scan FORMAT DIR OUT` writes a CycloneDX (`cdx`) or SPDX
/// (`spdx`) document with one package per name in DIR.
const SCAN: &str = r#"#!/bin/sh
fmt=$1; dir=$2; out=$3
sep=
if [ "$fmt" = cdx ]; then printf '{"bomFormat":"CycloneDX","components":[' > "$out"
else printf '{"spdxVersion":"SPDX-2.3","packages":[' > "$out"; fi
for f in $(ls "$dir" | sort); do
  if [ "$fmt" = cdx ]; then
    printf '%s{"name":"%s","version":"1","purl":"pkg:generic/%s@1"}' "$sep" "$f" "$f" >> "$out"
  else
    printf '%s{"name":"%s","versionInfo":"1","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:generic/%s@1"}]}' "$sep" "$f" "$f" >> "$out"
  fi
  sep=,
done
printf ']}\n' >> "$out"
"#;

fn names(doc: &Value, list: &str) -> Vec<String> {
    let mut n: Vec<String> = doc[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {doc}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

both_modes!(sbom_scans_the_image_and_context_into_the_image_and_files);
fn sbom_scans_the_image_and_context_into_the_image_and_files(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let sctx = context(
        &env,
        "scanner",
        &base,
        &[
            ("Containerfile", "FROM {BASE}\nCOPY scan /scan\n"),
            ("scan", SCAN),
        ],
    );
    std::fs::set_permissions(
        sctx.join("scan"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    build(&env, &["-t", "scanner"], &sctx);
    // The image has /app-only and /shared; the context ctx-only and shared.
    let ctx = context(
        &env,
        "app",
        &base,
        &[
            (
                "Containerfile",
                "FROM {BASE}\nRUN mkdir /app-only /shared\nCMD [\"sh\"]\n",
            ),
            ("ctx-only", "x"),
            ("shared", "x"),
        ],
    );
    let out = env.dir.join("out");
    mkdir_mode(&out, 0o777);
    let (sbom, purl) = (out.join("sbom.json"), out.join("purl.json"));
    let cdx = [
        "--sbom-scanner-image=scanner",
        "--sbom-scanner-command=/scan cdx {ROOTFS} {OUTPUT}",
        "--sbom-scanner-command=/scan cdx {CONTEXT} {OUTPUT}",
        "--sbom-merge-strategy=merge-cyclonedx-by-component-name-and-version",
    ];
    let mut args: Vec<String> = cdx.iter().map(|s| s.to_string()).collect();
    args.extend([
        format!("--sbom-output={}", sbom.display()),
        format!("--sbom-purl-output={}", purl.display()),
        "--sbom-image-output=/root/sbom.json".into(),
        "--sbom-image-purl-output=/root/purl.json".into(),
        "-t".into(),
        "app".into(),
    ]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = build(&env, &a, &ctx);
    assert_eq!(env.inspect("app")["Id"], id.as_str());
    let local = std::fs::read_to_string(&sbom).unwrap();
    let doc: Value = serde_json::from_str(&local).unwrap();
    let got = names(&doc, "components");
    // Merged by name and version: `shared` once, both scans' names there.
    for want in ["Containerfile", "app-only", "bin", "ctx-only", "etc"] {
        assert!(got.contains(&want.to_string()), "[{mode:?}] {got:?}");
    }
    assert_eq!(
        got.iter().filter(|n| *n == "shared").count(),
        1,
        "[{mode:?}] {got:?}"
    );
    assert_eq!(doc["bomFormat"], "CycloneDX");
    let purls: Value = serde_json::from_str(&std::fs::read_to_string(&purl).unwrap()).unwrap();
    let deps = purls["image_contents"]["dependencies"].as_array().unwrap();
    assert!(
        deps.contains(&Value::from("pkg:generic/ctx-only@1"))
            && deps.contains(&Value::from("pkg:generic/app-only@1")),
        "[{mode:?}] {purls}"
    );
    // The same files in the image, in a layer of their own; the scan's
    // own files are not in the image.
    assert_eq!(
        env.sh("app", &[], "cat /root/sbom.json").trim(),
        local.trim()
    );
    assert_eq!(
        env.sh(
            "app",
            &[],
            "cat /root/purl.json; ls -d /.rootfs /.scans 2>&1 | wc -l"
        )
        .trim(),
        format!("{}\n2", std::fs::read_to_string(&purl).unwrap().trim())
    );
    assert_eq!(
        env.inspect("app")["Config"]["Cmd"],
        serde_json::json!(["sh"])
    );
    let plain = build(&env, &[], &ctx);
    let layers = |i: &str| env.inspect(i)["RootFS"]["Layers"].as_array().unwrap().len();
    assert_eq!(layers(&id), layers(&plain) + 1, "[{mode:?}]");

    // SPDX, merged by name and versionInfo; only a local file.
    let spdx = out.join("spdx.json");
    let so = format!("--sbom-output={}", spdx.display());
    build(
        &env,
        &[
            "--sbom-scanner-image=scanner",
            "--sbom-scanner-command=/scan spdx {ROOTFS} {OUTPUT}",
            "--sbom-scanner-command=/scan spdx {CONTEXT} {OUTPUT}",
            "--sbom-merge-strategy=merge-spdx-by-package-name-and-versioninfo",
            &so,
            "-t",
            "app-spdx",
        ],
        &ctx,
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&spdx).unwrap()).unwrap();
    let got = names(&doc, "packages");
    assert!(
        got.contains(&"app-only".into()) && got.contains(&"ctx-only".into()),
        "[{mode:?}] {got:?}"
    );
    assert_eq!(got.iter().filter(|n| *n == "shared").count(), 1);
    // Nothing went into the image: its layers are the plain build's.
    assert_eq!(env.inspect("app-spdx")["Id"], plain.as_str());

    // cat: the outputs one after the other, a shell command with a
    // redirection run under the scanner's shell.
    let cat = out.join("cat.txt");
    let co = format!("--sbom-output={}", cat.display());
    build(
        &env,
        &[
            "--sbom-scanner-image=scanner",
            "--sbom-scanner-command=echo ROOT {ROOTFS} > {OUTPUT}",
            "--sbom-scanner-command=echo CTX {CONTEXT} > {OUTPUT}",
            "--sbom-merge-strategy=cat",
            &co,
        ],
        &ctx,
    );
    assert_eq!(
        std::fs::read_to_string(&cat).unwrap(),
        "ROOT /.rootfs\nCTX /.context0\n"
    );

    // Bad settings: refused before anything is built.
    let c = ctx.to_str().unwrap();
    assert_refused(
        &env,
        &["build", "--sbom=nope", "--sbom-output=/tmp/x", c],
        "unrecognized preset",
    );
    assert_refused(&env, &["build", "--sbom=syft", c], "--sbom-output");
    assert_refused(
        &env,
        &[
            "build",
            "--sbom-scanner-image=scanner",
            "--sbom-scanner-command=a {ROOTFS}",
            "--sbom-scanner-command=b {ROOTFS}",
            "--sbom-output=/tmp/x",
            c,
        ],
        "--sbom-merge-strategy",
    );
    assert_refused(
        &env,
        &[
            "build",
            "--sbom-scanner-image=scanner",
            "--sbom-scanner-command=a {ROOTFS}",
            "--sbom-merge-strategy=zip",
            "--sbom-output=/tmp/x",
            c,
        ],
        "unrecognized merge strategy",
    );
    // A preset's scanner image that is not here: a clear error, and the
    // built image is not tagged.
    let o = env.fails(
        &[
            "build",
            "--pull=never",
            "--sbom=syft",
            "--sbom-image-output=/sbom.json",
            "-t",
            "nosbom",
            c,
        ],
        125,
    );
    assert!(o.stderr.contains("ghcr.io/anchore/syft"), "{}", o.stderr);
    env.fails(&["image", "inspect", "nosbom"], 125);
}

both_modes!(jobs_build_independent_stages_at_once);
fn jobs_build_independent_stages_at_once(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    // Stages a and b each wait (5 s at most) for the other's file in a
    // shared volume: one after the other, the first would give up.
    let wait = |mine: &str, other: &str| {
        format!(
            "RUN touch /shared/{mine} && if [ \"$WAIT\" = 1 ]; then i=0; \
             while [ ! -e /shared/{other} ]; do i=$((i+1)); [ $i -gt 50 ] && exit 7; sleep 0.1; done; fi; \
             echo {mine} > /{mine}\n"
        )
    };
    let file = format!(
        "FROM {{BASE}} AS a\nARG WAIT\n{}FROM {{BASE}} AS b\nARG WAIT\n{}\
         FROM {{BASE}} AS unused\nRUN exit 9\n\
         FROM {{BASE}}\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nRUN cat /a /b > /ab\n",
        wait("a", "b"),
        wait("b", "a")
    );
    let ctx = context(&env, "jobs", &base, &[("Containerfile", &file)]);
    let shared = env.dir.join("shared");
    mkdir_mode(&shared, 0o777);
    let vol = format!("{}:/shared", shared.display());
    let id = build(
        &env,
        &["--jobs=2", "--build-arg=WAIT=1", "-v", &vol, "-t", "ab"],
        &ctx,
    );
    assert_eq!(env.sh("ab", &[], "cat /ab").trim(), "a\nb", "[{mode:?}]");
    assert_eq!(env.inspect("ab")["Id"], id.as_str());

    // Without the rendezvous, the same image as a build one stage at a time.
    let same = [
        "--no-cache",
        "--timestamp=0",
        "--build-arg=WAIT=0",
        "-v",
        &vol,
    ];
    let serial = build(&env, &[&same[..], &["--jobs=1"]].concat(), &ctx);
    let unlimited = build(&env, &[&same[..], &["--jobs=0"]].concat(), &ctx);
    assert_eq!(serial, unlimited, "[{mode:?}]");

    // A stage that fails fails the build, with its step named.
    let bad = context(
        &env,
        "jobs-bad",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE} AS a\nRUN exit 3\nFROM {BASE} AS b\nRUN true\n\
             FROM {BASE}\nCOPY --from=a /etc/group /a\nCOPY --from=b /etc/group /b\n",
        )],
    );
    let o = env.fails(
        &["build", "--jobs=2", "-t", "bad", bad.to_str().unwrap()],
        125,
    );
    assert!(o.stderr.contains("RUN exit 3"), "[{mode:?}] {}", o.stderr);
    env.fails(&["image", "inspect", "bad"], 125);
}

both_modes!(userns_maps_for_run_steps);
fn userns_maps_for_run_steps(mode: Mode) {
    let env = TestEnv::new(mode);
    let base = env.rt_image();
    let ctx = context(
        &env,
        "userns",
        &base,
        &[(
            "Containerfile",
            "FROM {BASE}\n\
             RUN cat /proc/self/uid_map > /map && cat /proc/self/gid_map > /gmap && \
             mkdir -p /made/d && echo hi > /made/d/f && chown 7:8 /made/d/f && rm /bin/stty\n",
        )],
    );
    // Root: host ids; rootless: ids of the rootless user namespace.
    let (map, host) = match mode {
        Mode::Root => ("0:100000:65536", None),
        Mode::Rootless => ("0:1:500", Some("500")),
    };
    let flag = format!("--userns-uid-map={map}");
    let id = build(&env, &[&flag, "-t", "mapped"], &ctx);
    let words = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let uid_map = words(env.sh(&id, &[], "cat /map"));
    let gid_map = words(env.sh(&id, &[], "cat /gmap"));
    match host {
        None => assert_eq!(uid_map, "0 100000 65536", "[{mode:?}]"),
        Some(size) => {
            let f: Vec<&str> = uid_map.split(' ').collect();
            assert_eq!((f[0], f[2]), ("0", size), "[{mode:?}] {uid_map}");
        }
    }
    // --userns-uid-map alone maps the gids the same way.
    assert_eq!(gid_map, uid_map, "[{mode:?}]");
    // The layer holds the step's changes only, owned as in the step.
    assert_eq!(
        env.sh(
            &id,
            &[],
            "stat -c '%u:%g' /made/d/f /made; cat /made/d/f; test -e /bin/stty || echo gone; test -e /bin/sh && echo sh"
        )
        .trim(),
        "7:8\n0:0\nhi\ngone\nsh",
        "[{mode:?}]"
    );
    let size = |i: &str| env.inspect(i)["Size"].as_u64().unwrap();
    assert!(
        size(&id) - size(&base) < 100_000,
        "[{mode:?}] the layer is {} bytes",
        size(&id) - size(&base)
    );
    if mode == Mode::Root {
        let id = build(&env, &["--userns=container", "--no-cache"], &ctx);
        assert_eq!(words(env.sh(&id, &[], "cat /map")), "0 0 4294967295");
        // A user's /etc/subuid and /etc/subgid ranges (the group's too).
        let line = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
        if let Some(l) = line.lines().find(|l| l.starts_with("cotest:")) {
            let f: Vec<&str> = l.split(':').collect();
            let id = build(&env, &["--userns-uid-map-user=cotest"], &ctx);
            let want = format!("0 {} {}", f[1], f[2]);
            assert_eq!(words(env.sh(&id, &[], "cat /map")), want);
            assert_eq!(words(env.sh(&id, &[], "cat /gmap")), want);
        }
    }
    let c = ctx.to_str().unwrap();
    assert_refused(
        &env,
        &["build", "--userns=host", "--userns-uid-map=0:1:1", c],
        "host's user namespace",
    );
    assert_refused(
        &env,
        &["build", "--userns=ns:/proc/1/ns/user", c],
        "--userns",
    );
    assert_refused(&env, &["build", "--userns-uid-map=0:1", c], "userns");
}
