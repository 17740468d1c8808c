//! `auto-update` against the test registry: containers labelled
//! `io.containers.autoupdate` and run from a unit (`PODMAN_SYSTEMD_UNIT`,
//! recorded by `run`) get the image the registry (or the local store) now
//! has for their name, their unit is restarted, and a restart that fails
//! rolls the name back to the old image and restarts again. systemd here
//! is a fake `systemctl` first on PATH that records its calls and
//! restarts the container through coracle; the real systemctl restarting
//! a real unit is exercised in the VM (tests/vm, the systemd boot).

mod common;

use common::oci::{push_image, Compression, Layer, TarBuilder};
use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

const FAKE_SYSTEMCTL: &str = r#"#!/bin/sh
# a stand-in for systemctl: records the call; `restart UNIT` runs the unit's
# script from $FAKE_UNITS (which starts the container again)
echo "$*" >> "$FAKE_LOG"
[ "$1" = --user ] && shift
[ "$1" = restart ] || exit 1
exec sh "$FAKE_UNITS/$2"
"#;

struct Fixture {
    env: TestEnv,
    /// `HOST/REPO:1` in the test registry.
    reference: String,
    log: PathBuf,
}

/// The unit's container is not the test's to mark: remove it at the end.
impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.env.run(&["rm", "-a", "-f", "-t", "0"]);
    }
}

/// A store with a container `web` run "from the unit web.service" with
/// the given policy, on the image the registry has for the reference.
fn setup(mode: Mode, policy: &str) -> Fixture {
    let mut env = TestEnv::new(mode);
    let repo = unique("autoupdate/web");
    push_image(registry(), &repo, "1", &unique_image(&format!("{repo}-v1")));
    let reference = format!("{}/{repo}:1", registry().host);
    let bin = env.dir.join("fakebin");
    let units = env.dir.join("units");
    mkdir_mode(&bin, 0o755);
    mkdir_mode(&units, 0o755);
    std::fs::write(bin.join("systemctl"), FAKE_SYSTEMCTL).unwrap();
    std::fs::set_permissions(
        bin.join("systemctl"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let store_flags = match mode {
        Mode::Root => format!(
            "--root {} --runroot {}",
            env.store_dir().display(),
            env.runroot_dir().display()
        ),
        Mode::Rootless => String::new(),
    };
    // the unit: the container started anew on whatever the name means now
    let unit = format!(
        "C=\"{} {store_flags}\"\n$C rm -f -t 0 web >/dev/null 2>&1\nexec $C run -d --name web --network none --label {}={policy} {reference} sh -c 'sleep 1000'\n",
        coracle_bin().display(),
        "io.containers.autoupdate"
    );
    std::fs::write(units.join("web.service"), unit).unwrap();
    let log = env.dir.join("systemctl.log");
    env.write_user_file(&log, b"");
    env.set_env(
        "PATH",
        &format!(
            "{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            bin.display()
        ),
    );
    env.set_env("FAKE_LOG", &log.to_string_lossy());
    env.set_env("FAKE_UNITS", &units.to_string_lossy());
    env.set_env("PODMAN_SYSTEMD_UNIT", "web.service");
    env.ok(&["pull", "-q", &reference]);
    // systemd starting the unit
    let out = env.run_program("sh", &[&units.join("web.service").to_string_lossy()]);
    assert_eq!(out.status, 0, "[{mode:?}] starting the unit: {out:?}");
    Fixture {
        env,
        reference,
        log,
    }
}

fn image_of(env: &TestEnv, ctr: &str) -> String {
    env.ok(&["inspect", ctr, "--format", "{{.Image}}"])
        .trim()
        .to_string()
}

fn calls(f: &Fixture) -> String {
    std::fs::read_to_string(&f.log).unwrap()
}

fn restart_call(mode: Mode) -> &'static str {
    match mode {
        Mode::Root => "restart web.service\n",
        Mode::Rootless => "--user restart web.service\n",
    }
}

both_modes!(
    registry_update_dry_run_then_real,
    a_failed_restart_rolls_back,
    local_policy_and_errors,
);

fn registry_update_dry_run_then_real(mode: Mode) {
    let f = setup(mode, "registry");
    let env = &f.env;
    let label = env.ok(&[
        "inspect",
        "web",
        "--format",
        "{{index .Config.Labels \"PODMAN_SYSTEMD_UNIT\"}}",
    ]);
    assert_eq!(
        label.trim(),
        "web.service",
        "[{mode:?}] run records the unit it runs in"
    );
    let v1 = image_of(env, "web");
    let id = env
        .ok(&["inspect", "web", "--format", "{{.Id}}"])
        .trim()
        .to_string();

    // nothing new in the registry
    let out = env.ok(&["auto-update"]);
    let want = |updated: &str| {
        format!(
            "UNIT         CONTAINER{}  IMAGE{}  POLICY      UPDATED\nweb.service  {} (web)  {}  registry    {updated}\n",
            " ".repeat(12 + 6 - 9),
            " ".repeat(f.reference.len() - 5),
            &id[..12],
            f.reference
        )
    };
    assert_eq!(out, want("false"), "[{mode:?}]");
    assert_eq!(calls(&f), "", "[{mode:?}] nothing to restart");

    // a new image under the same name
    let repo = f
        .reference
        .split_once('/')
        .unwrap()
        .1
        .trim_end_matches(":1");
    let v2_image = unique_image(&format!("{repo}-v2"));
    push_image(registry(), repo, "1", &v2_image);
    let images_before = env.ok(&["images", "-q", "--no-trunc"]);
    let out = env.ok(&["auto-update", "--dry-run"]);
    assert_eq!(out, want("pending"), "[{mode:?}]");
    assert_eq!(calls(&f), "", "[{mode:?}] a dry run restarts nothing");
    assert_eq!(
        env.ok(&["images", "-q", "--no-trunc"]),
        images_before,
        "[{mode:?}] a dry run pulls nothing"
    );
    let out = env.ok(&[
        "auto-update",
        "--dry-run",
        "--format",
        "{{.Unit}} {{.ContainerName}} {{.Policy}} {{.Updated}}",
    ]);
    assert_eq!(out, "web.service web registry pending\n", "[{mode:?}]");

    let out = env.ok(&["auto-update"]);
    assert_eq!(out, want("true"), "[{mode:?}]");
    assert_eq!(calls(&f), restart_call(mode), "[{mode:?}]");
    let v2 = image_of(env, "web");
    assert_ne!(v2, v1, "[{mode:?}] the unit runs the new image");
    assert_eq!(format!("sha256:{v2}"), v2_image.config_digest, "[{mode:?}]");
    let state = env.ok(&["inspect", "web", "--format", "{{.State.Status}}"]);
    assert_eq!(state.trim(), "running", "[{mode:?}]");

    // up to date now
    let out = env.ok(&["auto-update", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["Updated"], "false", "[{mode:?}] {out}");
    assert_eq!(v[0]["ContainerName"], "web", "[{mode:?}] {out}");
    assert_eq!(v[0]["Image"], f.reference.as_str(), "[{mode:?}] {out}");
}

fn a_failed_restart_rolls_back(mode: Mode) {
    let f = setup(mode, "registry");
    let env = &f.env;
    let v1 = image_of(env, "web");
    // the new image has no shell: the restarted unit fails
    let repo = f
        .reference
        .split_once('/')
        .unwrap()
        .1
        .trim_end_matches(":1");
    let mut t = TarBuilder::new();
    t.file("etc/broken", b"no sh here\n", 0o644, 0, 0);
    let broken = single_layer_image(
        &format!("{repo}-broken"),
        Layer::new(&t.finish(), Compression::Gzip),
    );
    push_image(registry(), repo, "1", &broken);

    let out = env.ok(&["auto-update", "--format", "{{.Updated}}"]);
    assert_eq!(out, "rolled back\n", "[{mode:?}]");
    let r = restart_call(mode);
    assert_eq!(
        calls(&f),
        format!("{r}{r}"),
        "[{mode:?}] restarted, then again after the rollback"
    );
    assert_eq!(image_of(env, "web"), v1, "[{mode:?}] back on the old image");
    let state = env.ok(&["inspect", "web", "--format", "{{.State.Status}}"]);
    assert_eq!(state.trim(), "running", "[{mode:?}]");
    let named = env.ok(&["image", "inspect", &f.reference, "--format", "{{.Id}}"]);
    assert_eq!(
        named.trim(),
        v1,
        "[{mode:?}] the name is the old image's again"
    );

    // without rollback: failed, said so, exit 125
    let out = env.fails(
        &[
            "auto-update",
            "--rollback=false",
            "--format",
            "{{.Updated}}",
        ],
        125,
    );
    assert_eq!(out.stdout, "failed\n", "[{mode:?}]");
    assert!(
        out.stderr.starts_with("Error: restarting unit web.service during update: systemctl restart web.service: exit status: 127"),
        "[{mode:?}] {}",
        out.stderr
    );
}

fn local_policy_and_errors(mode: Mode) {
    let f = setup(mode, "local");
    let env = &f.env;
    let out = env.ok(&["auto-update", "--format", "{{.Policy}} {{.Updated}}"]);
    assert_eq!(out, "local false\n", "[{mode:?}]");
    // the name now means another local image
    let other = busybox().reference();
    env.ok(&["pull", "-q", &other]);
    env.ok(&["tag", &other, &f.reference]);
    let out = env.ok(&[
        "auto-update",
        "--dry-run",
        "--format",
        "{{.Policy}} {{.Updated}}",
    ]);
    assert_eq!(out, "local pending\n", "[{mode:?}]");
    let out = env.ok(&["auto-update", "--format", "{{.Policy}} {{.Updated}}"]);
    assert_eq!(out, "local true\n", "[{mode:?}]");
    assert_eq!(image_of(env, "web"), busybox().id(), "[{mode:?}]");
    assert_eq!(calls(&f), restart_call(mode), "[{mode:?}]");

    // labelled, but not run from a unit
    let plain = TestEnv::new(mode);
    plain.ok(&["pull", "-q", &other]);
    plain.ok(&[
        "run",
        "-d",
        "--name",
        "lone",
        "--network",
        "none",
        "--label",
        "io.containers.autoupdate=registry",
        &other,
        "sleep",
        "1000",
    ]);
    let id = plain
        .ok(&["inspect", "lone", "--format", "{{.Id}}"])
        .trim()
        .to_string();
    let out = plain.fails(&["auto-update"], 125);
    assert_eq!(out.stdout, "", "[{mode:?}]");
    assert_eq!(
        out.stderr,
        format!("Error: auto-updating container \"{id}\": no PODMAN_SYSTEMD_UNIT label found\n"),
        "[{mode:?}]"
    );
    plain.ok(&["rm", "-f", "-t", "0", "lone"]);
    env.ok(&["rm", "-f", "-t", "0", "web"]);
}
