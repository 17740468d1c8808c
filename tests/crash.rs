//! Crash injection: each operation is SIGKILLed, round after round, at
//! the named points the code exposes (`CORACLE_TEST_CRASH_AT`) and after
//! random delays; after each kill every listing verb works, the operation
//! succeeds when run again, what existed before is unchanged, no leftover
//! (tmp/ entry, `.tmp-*` file, mount, process) survives the next command,
//! and `system check` finds a clean store. Root and rootless.
//!
//! `CORACLE_CRASH_ROUNDS` rounds per operation (default 2: one named point,
//! one random delay); `CORACLE_CRASH_SEED` repeats a run's delays.

mod common;

use common::oci::{build_image, push_image, Compression, ImageSpec, Layer, TarBuilder};
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const CRASH_ENV: &str = "CORACLE_TEST_CRASH_AT";

fn rounds() -> usize {
    std::env::var("CORACLE_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// A small xorshift: delays a failing run can repeat (the seed is printed).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("CORACLE_CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("crash: CORACLE_CRASH_SEED={seed}");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, d: Duration) -> Duration {
        let us = d.as_micros().max(1) as u64;
        Duration::from_micros(self.next() % us)
    }
}

/// Pseudo-random bytes: layers gzip cannot shrink.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `crash/big:1`: three layers of 8 MB each (24 MB), pushed once.
fn big() -> String {
    static REF: OnceLock<String> = OnceLock::new();
    REF.get_or_init(|| {
        let layers: Vec<Layer> = (0..3u64)
            .map(|i| {
                let mut t = TarBuilder::new();
                t.dir("data", 0o755, 0, 0);
                t.file(
                    &format!("data/blob{i}"),
                    &noise(i + 7, 8 << 20),
                    0o644,
                    0,
                    0,
                );
                Layer::new(&t.finish(), Compression::Gzip)
            })
            .collect();
        let img = build_image(&ImageSpec::new("crash-big"), layers);
        push_image(registry(), "crash/big", "1", &img);
        format!("{}/crash/big:1", registry().host)
    })
    .clone()
}

/// One test's store with the things that must survive every crash.
struct Ctx {
    env: TestEnv,
    rt: String,
    keeper: String,
    rt_id: String,
    ctx_dir: PathBuf,
    archive: PathBuf,
}

impl Ctx {
    fn new(mode: Mode) -> Ctx {
        let env = TestEnv::new(mode);
        let rt = env.rt_image();
        let rt_id = env.inspect(&rt)["Id"].as_str().unwrap().to_string();
        let keeper = env
            .ok(&["create", "--name", "keeper", "-e", &env.mark(), &rt, "true"])
            .trim()
            .to_string();
        env.ok(&["volume", "create", "keep"]);
        env.ok(&[
            "run",
            "--rm",
            "-v",
            "keep:/d",
            &rt,
            "sh",
            "-c",
            "echo precious > /d/f",
        ]);
        let ctx_dir = env.dir.join("ctx");
        mkdir_mode(&ctx_dir, 0o755);
        fs::write(
            ctx_dir.join("Containerfile"),
            format!("FROM {rt}\nRUN echo built > /built\n"),
        )
        .unwrap();
        let archive = env.user_dir("archives").join("img.tar");
        Ctx {
            env,
            rt,
            keeper,
            rt_id,
            ctx_dir,
            archive,
        }
    }

    fn run(&self, args: &[&str]) -> Out {
        self.env.run(args)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.env.ok(args)
    }

    fn exists(&self, args: &[&str]) -> bool {
        self.run(args).status == 0
    }

    /// Run with a named kill point.
    fn crash_at(&self, point: &str, args: &[String]) -> Out {
        let bin = coracle_bin();
        let mut all = vec![format!("{CRASH_ENV}={point}"), bin.display().to_string()];
        if self.env.mode == Mode::Root {
            all.extend([
                "--root".to_string(),
                self.env.store_dir().display().to_string(),
                "--runroot".to_string(),
                self.env.runroot_dir().display().to_string(),
            ]);
        }
        all.extend(args.iter().cloned());
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        self.env.run_program("/usr/bin/env", &refs)
    }

    /// Run and SIGKILL its whole process group after `delay`.
    fn kill_after(&self, delay: Duration, args: &[String]) {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = self
            .env
            .coracle_command(&refs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // SAFETY: the child leads its own process group (TestEnv does setpgid).
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait();
    }
}

/// One operation under test.
struct Op {
    name: &'static str,
    /// Kill points it passes.
    points: &'static [&'static str],
    /// Put the store in the state the operation starts from.
    reset: fn(&Ctx),
    args: fn(&Ctx) -> Vec<String>,
    /// After a kill: run the operation again (it must succeed, or be found
    /// already done).
    finish: fn(&Ctx),
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn run_rounds(mode: Mode, op: &Op) {
    let c = Ctx::new(mode);
    let _reaper = Reaper(&c.env);
    let mut rng = Rng::new();
    // How long the operation takes when nothing kills it: the range of
    // the random delays.
    (op.reset)(&c);
    let t0 = Instant::now();
    let args = (op.args)(&c);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    c.ok(&refs);
    let took = t0.elapsed();
    let (mut named_rounds, mut fired) = (0, 0);
    for round in 0..rounds() {
        (op.reset)(&c);
        let named = round % 2 == 0 && !op.points.is_empty();
        let what = if named {
            let point = op.points[(round / 2) % op.points.len()];
            let out = c.crash_at(point, &args);
            named_rounds += 1;
            if out.status == 0 {
                // The work that point guards was already done (a layer
                // another round left, which this one reuses).
                format!("nowhere ({point} not on this round's path)")
            } else {
                fired += 1;
                format!("at {point}")
            }
        } else {
            let delay = rng.below(took);
            c.kill_after(delay, &args);
            format!("after {delay:?}")
        };
        let ctx = format!("[{mode:?}] {} round {round}, killed {what}", op.name);
        for listing in [
            &["ps", "-a"][..],
            &["images"],
            &["volume", "ls"],
            &["pod", "ps"],
        ] {
            let out = c.run(listing);
            assert_eq!(out.status, 0, "{ctx}: {listing:?}: {out:?}");
        }
        (op.finish)(&c);
        assert_sound(&c, &ctx);
    }
    assert!(
        named_rounds == 0 || fired > 0,
        "[{mode:?}] {}: no kill point was ever reached",
        op.name
    );
    eprintln!(
        "crash: [{mode:?}] {}: {} rounds, {fired} of {named_rounds} named kills fired, 0 failures",
        op.name,
        rounds()
    );
}

/// The pid a leftover's name starts with (`<pid>_<start>-...`).
fn owner_pid(name: &str) -> Option<u32> {
    let tag = name
        .rsplit('/')
        .next()?
        .split('-')
        .find(|t| t.contains('_'))?;
    tag.split('_').next()?.parse().ok()
}

fn owner_alive(name: &str) -> bool {
    owner_pid(name).is_some_and(|p| Path::new(&format!("/proc/{p}")).exists())
}

/// What the owner of a leftover is doing, for a failure message.
fn owner_state(name: &str) -> String {
    let Some(pid) = owner_pid(name) else {
        return format!("{name}: no owner in the name");
    };
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let cmd = fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default();
    format!("pid {pid}: stat {stat:?} cmdline {cmd:?}")
}

fn tmp_entries(root: &Path) -> Vec<String> {
    fs::read_dir(root.join("tmp"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".tmp-"))
                .collect()
        })
        .unwrap_or_default()
}

/// The store after the operation was finished. tmp/ must be empty each
/// round: temp space does not grow.
fn assert_sound(c: &Ctx, ctx: &str) {
    let root = c.env.store_dir();
    // Leftovers are swept by the next command that writes; the finishing
    // command may have had nothing to write (`rm --ignore` of a container
    // the kill had already removed).
    c.ok(&["volume", "create", "next-writer"]);
    c.ok(&["volume", "rm", "next-writer"]);
    // Background deletions (`--rm`, `rm`) may still be running: they end
    // (slowly on a loaded machine), and what a process that died since
    // left is the next writer's to sweep.
    wait_for(Duration::from_secs(30), || {
        let left = tmp_entries(&root);
        if left.iter().any(|n| !owner_alive(n)) {
            c.ok(&["volume", "create", "next-writer"]);
            c.ok(&["volume", "rm", "next-writer"]);
        }
        tmp_entries(&root).is_empty()
    });
    let left = tmp_entries(&root);
    let owners: Vec<String> = left.iter().map(|n| owner_state(n)).collect();
    assert!(
        left.is_empty(),
        "{ctx}: tmp/ keeps {left:?}, owners {owners:?}"
    );
    for dir in [
        root.clone(),
        root.join("blobs/sha256"),
        root.join("container-names"),
    ] {
        let t = temp_files(&dir);
        assert!(t.is_empty(), "{ctx}: {} keeps {t:?}", dir.display());
    }
    let out = c.run(&["system", "check"]);
    assert!(
        out.status == 0 && out.stdout.is_empty(),
        "{ctx}: system check: {out:?}"
    );
    // What existed before is there, unchanged.
    assert!(
        c.ok(&["images", "-q", "--no-trunc"]).contains(&c.rt_id),
        "{ctx}: rt image lost"
    );
    assert_eq!(
        c.ok(&[
            "inspect",
            "--format",
            "{{.Id}} {{.Name}} {{.State.Status}}",
            "keeper"
        ])
        .trim(),
        format!("{} keeper created", c.keeper),
        "{ctx}"
    );
    assert_eq!(
        c.ok(&["run", "--rm", "-v", "keep:/d", &c.rt, "cat", "/d/f"])
            .trim(),
        "precious",
        "{ctx}"
    );
    // No container process, no mount of the store left on the host.
    assert!(
        wait_for(Duration::from_secs(10), || c.env.marked_pids().is_empty()),
        "{ctx}: container processes left: {:?}",
        c.env.marked_pids()
    );
    let mounts = host_mounts_mentioning(&root);
    assert!(mounts.is_empty(), "{ctx}: mounts left: {mounts:?}");
}

// ------------------------------------------------------------- operations

const PULL: Op = Op {
    name: "pull",
    points: &[
        "blob-written",
        "layer-staged",
        "layer-committed",
        "images-saving",
    ],
    reset: |c| {
        c.run(&["rmi", "--ignore", &big()]);
    },
    args: |_| strings(&["pull", &big()]),
    finish: |c| {
        c.env.pull(&big());
    },
};

const RUN_RM: Op = Op {
    name: "run --rm",
    points: &[
        "container-dir-made",
        "container-config-written",
        "container-unlinked",
    ],
    reset: |_| {},
    args: |c| strings(&["run", "--rm", "-e", &c.env.mark(), &c.rt, "true"]),
    finish: |c| {
        c.ok(&["run", "--rm", "-e", &c.env.mark(), &c.rt, "true"]);
    },
};

const RUN_D: Op = Op {
    name: "run -d",
    points: &["container-dir-made", "container-config-written"],
    reset: |c| {
        c.ok(&["rm", "-f", "-t", "0", "--ignore", "d1"]);
    },
    args: |c| {
        strings(&[
            "run",
            "-d",
            "--name",
            "d1",
            "-e",
            &c.env.mark(),
            &c.rt,
            "sleep",
            "1000",
        ])
    },
    finish: |c| {
        // Killed before or after it was made: either way rm -f ends it and
        // the name is free again.
        c.ok(&["rm", "-f", "-t", "0", "--ignore", "d1"]);
        c.ok(&[
            "run",
            "-d",
            "--name",
            "d1",
            "-e",
            &c.env.mark(),
            &c.rt,
            "sleep",
            "1000",
        ]);
        c.ok(&["rm", "-f", "-t", "0", "d1"]);
    },
};

const RM_F: Op = Op {
    name: "rm -f",
    points: &["container-unlinked"],
    reset: |c| {
        c.ok(&["rm", "-f", "-t", "0", "--ignore", "d2"]);
        c.ok(&[
            "run",
            "-d",
            "--name",
            "d2",
            "-e",
            &c.env.mark(),
            &c.rt,
            "sleep",
            "1000",
        ]);
    },
    args: |_| strings(&["rm", "-f", "-t", "0", "d2"]),
    finish: |c| {
        c.ok(&["rm", "-f", "-t", "0", "--ignore", "d2"]);
        assert!(!c.exists(&["container", "exists", "d2"]));
    },
};

const CREATE: Op = Op {
    name: "create",
    points: &["container-dir-made", "container-config-written"],
    reset: |c| {
        c.ok(&["rm", "-f", "--ignore", "cr"]);
    },
    args: |c| strings(&["create", "--name", "cr", "-e", &c.env.mark(), &c.rt, "true"]),
    finish: |c| {
        if !c.exists(&["container", "exists", "cr"]) {
            c.ok(&["create", "--name", "cr", "-e", &c.env.mark(), &c.rt, "true"]);
        }
        c.ok(&["start", "-a", "cr"]);
    },
};

const COMMIT: Op = Op {
    name: "commit",
    points: &[
        "layer-staged",
        "layer-committed",
        "blob-written",
        "images-saving",
        "images-written",
    ],
    reset: |c| {
        c.run(&["rmi", "--ignore", "localhost/crash-commit"]);
    },
    args: |_| strings(&["commit", "keeper", "localhost/crash-commit"]),
    finish: |c| {
        c.ok(&["commit", "keeper", "localhost/crash-commit"]);
    },
};

const BUILD: Op = Op {
    name: "build",
    points: &[
        "container-dir-made",
        "layer-staged",
        "layer-committed",
        "images-saving",
    ],
    reset: |c| {
        c.run(&["rmi", "--ignore", "localhost/crash-build"]);
    },
    args: |c| {
        strings(&[
            "build",
            "--no-cache",
            "-t",
            "localhost/crash-build",
            c.ctx_dir.to_str().unwrap(),
        ])
    },
    finish: |c| {
        c.ok(&[
            "build",
            "--no-cache",
            "-t",
            "localhost/crash-build",
            c.ctx_dir.to_str().unwrap(),
        ]);
        assert_eq!(
            c.ok(&["run", "--rm", "localhost/crash-build", "cat", "/built"])
                .trim(),
            "built"
        );
    },
};

fn push_dest(c: &Ctx) -> String {
    format!(
        "{}/crash/pushed-{}:1",
        registry().host,
        match c.env.mode {
            Mode::Root => "root",
            Mode::Rootless => "rootless",
        }
    )
}

const PUSH: Op = Op {
    name: "push",
    points: &[],
    reset: |_| {},
    args: |c| strings(&["push", "--tls-verify=false", &c.rt, &push_dest(c)]),
    finish: |c| {
        c.ok(&["push", "--tls-verify=false", &c.rt, &push_dest(c)]);
    },
};

const RMI: Op = Op {
    name: "rmi",
    points: &[
        "images-saving",
        "layer-unlinked",
        "image-keys-dirty",
        "images-written",
    ],
    reset: |c| {
        if !c.exists(&["image", "exists", "localhost/crash-rmi"]) {
            c.ok(&["commit", "keeper", "localhost/crash-rmi"]);
        }
    },
    args: |_| strings(&["rmi", "localhost/crash-rmi"]),
    finish: |c| {
        c.ok(&["rmi", "--ignore", "localhost/crash-rmi"]);
        assert!(!c.exists(&["image", "exists", "localhost/crash-rmi"]));
    },
};

const VOLUME_CREATE: Op = Op {
    name: "volume create",
    points: &["volume-staged"],
    reset: |c| {
        if c.exists(&["volume", "exists", "vx"]) {
            c.ok(&["volume", "rm", "vx"]);
        }
    },
    args: |_| strings(&["volume", "create", "vx"]),
    finish: |c| {
        if !c.exists(&["volume", "exists", "vx"]) {
            c.ok(&["volume", "create", "vx"]);
        }
    },
};

const VOLUME_RM: Op = Op {
    name: "volume rm",
    points: &["volume-unlinked"],
    reset: |c| {
        if !c.exists(&["volume", "exists", "vy"]) {
            c.ok(&["volume", "create", "vy"]);
        }
    },
    args: |_| strings(&["volume", "rm", "vy"]),
    finish: |c| {
        if c.exists(&["volume", "exists", "vy"]) {
            c.ok(&["volume", "rm", "vy"]);
        }
        assert!(!c.exists(&["volume", "exists", "vy"]));
    },
};

const SAVE: Op = Op {
    name: "save",
    points: &[],
    reset: |_| {},
    args: |c| strings(&["save", "-o", c.archive.to_str().unwrap(), &c.rt]),
    finish: |c| {
        c.ok(&["save", "-o", c.archive.to_str().unwrap(), &c.rt]);
    },
};

const LOAD: Op = Op {
    name: "load",
    points: &[
        "blob-written",
        "layer-staged",
        "layer-committed",
        "images-saving",
    ],
    reset: |c| {
        if !c.archive.exists() {
            c.ok(&["commit", "keeper", "localhost/crash-load"]);
            c.ok(&[
                "save",
                "-o",
                c.archive.to_str().unwrap(),
                "localhost/crash-load",
            ]);
        }
        c.run(&["rmi", "--ignore", "localhost/crash-load"]);
    },
    args: |c| strings(&["load", "-i", c.archive.to_str().unwrap()]),
    finish: |c| {
        c.ok(&["load", "-i", c.archive.to_str().unwrap()]);
        assert!(c.exists(&["image", "exists", "localhost/crash-load"]));
    },
};

macro_rules! crash_test {
    ($name:ident, $op:expr) => {
        both_modes!($name);
        fn $name(mode: Mode) {
            run_rounds(mode, &$op);
        }
    };
}

crash_test!(crash_pull, PULL);
crash_test!(crash_run_rm, RUN_RM);
crash_test!(crash_run_d, RUN_D);
crash_test!(crash_rm_f, RM_F);
crash_test!(crash_create, CREATE);
crash_test!(crash_commit, COMMIT);
crash_test!(crash_build, BUILD);
crash_test!(crash_push, PUSH);
crash_test!(crash_rmi, RMI);
crash_test!(crash_volume_create, VOLUME_CREATE);
crash_test!(crash_volume_rm, VOLUME_RM);
crash_test!(crash_save, SAVE);
crash_test!(crash_load, LOAD);

// The monitor itself: SIGKILLed under a running container, whose state
// then says exited, whose processes are gone, and which rm removes.
both_modes!(crash_monitor);
fn crash_monitor(mode: Mode) {
    let c = Ctx::new(mode);
    let _reaper = Reaper(&c.env);
    for round in 0..rounds() {
        let ctx = format!("[{mode:?}] monitor round {round}");
        c.env.run_detached("m1", &[], &c.rt, &["sleep", "1000"]);
        c.env.kill_monitor("m1");
        let status = c.ok(&["inspect", "--format", "{{.State.Status}}", "m1"]);
        assert_ne!(status.trim(), "running", "{ctx}");
        for listing in [&["ps", "-a"][..], &["images"], &["volume", "ls"]] {
            assert_eq!(c.run(listing).status, 0, "{ctx}: {listing:?}");
        }
        c.ok(&["rm", "-f", "m1"]);
        assert_sound(&c, &ctx);
    }
}

// The leftovers the probes found: what a dead writer left is swept by the
// next writer, what a live one is still writing is not.
both_modes!(leftovers_of_the_dead_only);
fn leftovers_of_the_dead_only(mode: Mode) {
    let c = Ctx::new(mode);
    let _reaper = Reaper(&c.env);
    let root = c.env.store_dir();
    // A killed commit leaves its staged layer.
    let out = c.crash_at(
        "layer-staged",
        &strings(&["commit", "keeper", "localhost/x"]),
    );
    assert_ne!(out.status, 0);
    assert_eq!(tmp_entries(&root).len(), 1, "[{mode:?}] the staged layer");
    // A killed create leaves a half container no listing shows.
    let out = c.crash_at(
        "container-config-written",
        &strings(&["create", "--name", "half", &c.rt, "true"]),
    );
    assert_ne!(out.status, 0);
    let ps = c.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(
        ps.trim(),
        "keeper",
        "[{mode:?}] a half-made container is not listed"
    );
    // Leftovers of a live process (this test's): never touched.
    let me = fs::read_to_string("/proc/self/stat").unwrap();
    let start: u64 = me[me.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let live = format!("{}_{start}", std::process::id());
    let live_tmp = root.join(format!("tmp/{live}-0000000000000001"));
    let live_file = root.join(format!(".tmp-{live}-01-images.json"));
    let dead_file = root.join(".tmp-1_1-01-images.json");
    for p in [&live_file, &dead_file] {
        fs::write(p, b"{").unwrap();
    }
    fs::create_dir(&live_tmp).unwrap();
    // The next writer (here a volume create) sweeps.
    c.ok(&["volume", "create", "after"]);
    assert!(
        live_tmp.exists() && live_file.exists(),
        "[{mode:?}] a live writer's work stays"
    );
    assert!(
        !dead_file.exists(),
        "[{mode:?}] a dead writer's .tmp file goes"
    );
    let left: Vec<String> = tmp_entries(&root)
        .into_iter()
        .filter(|n| !n.starts_with(&live))
        .collect();
    assert!(left.is_empty(), "[{mode:?}] tmp/ keeps {left:?}");
    assert!(
        !root.join("containers").read_dir().unwrap().any(|e| {
            let p = e.unwrap().path();
            !p.join("config.json").exists()
        }),
        "[{mode:?}] no container directory without its record"
    );
    // The half container's name is free again.
    c.ok(&["create", "--name", "half", &c.rt, "true"]);
    fs::remove_dir(&live_tmp).unwrap();
    fs::remove_file(&live_file).unwrap();
    let out = c.run(&["system", "check"]);
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
}
