//! Commands at once on one store: no failure but the documented
//! one-winner conflicts (a name taken, a thing already gone), no lock error
//! ever shown, and a sound store afterwards. Root and rootless.
//!
//! `CORACLE_CONCURRENCY` sets the parallel `run --rm` count (default 50).

mod common;

use common::*;
use std::time::Duration;

fn parallel_runs() -> usize {
    std::env::var("CORACLE_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// Run `n` copies of `f` at once; their outputs.
fn at_once<F>(n: usize, f: F) -> Vec<Out>
where
    F: Fn(usize) -> Out + Sync,
{
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                s.spawn({
                    let f = &f;
                    move || f(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn no_lock_errors(mode: Mode, what: &str, outs: &[Out]) {
    for o in outs {
        let e = o.stderr.to_lowercase();
        assert!(
            !e.contains("lock") && !e.contains("panick"),
            "[{mode:?}] {what}: {o:?}"
        );
    }
}

fn assert_sound(env: &TestEnv, what: &str) {
    // A writer sweeps whatever a background deletion left (none should).
    env.ok(&["volume", "create", "probe"]);
    env.ok(&["volume", "rm", "probe"]);
    let out = env.run(&["system", "check"]);
    assert!(
        out.status == 0 && out.stdout.is_empty(),
        "[{:?}] {what}: system check: {out:?}",
        env.mode
    );
    let tmp = env.store_dir().join("tmp");
    assert!(
        wait_for(Duration::from_secs(20), || std::fs::read_dir(&tmp)
            .map(|mut d| d.next().is_none())
            .unwrap_or(true)),
        "[{:?}] {what}: tmp/ not empty",
        env.mode
    );
}

both_modes!(many_run_rm_at_once_with_ps_looping);
fn many_run_rm_at_once_with_ps_looping(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let rt = env.rt_image();
    let mark = env.mark();
    let n = parallel_runs();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (outs, listings) = std::thread::scope(|s| {
        // `ps -a` over and over while containers come and go.
        let lister = s.spawn(|| {
            let mut outs = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                outs.push(env.run(&["ps", "-a"]));
            }
            outs
        });
        let outs = at_once(n, |i| {
            env.run(&[
                "run",
                "--rm",
                "-e",
                &mark,
                &rt,
                "sh",
                "-c",
                &format!("echo run-{i}"),
            ])
        });
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (outs, lister.join().unwrap())
    });
    for (i, o) in outs.iter().enumerate() {
        assert!(
            o.status == 0 && o.stdout == format!("run-{i}\n"),
            "[{mode:?}] run --rm #{i}: {o:?}"
        );
    }
    no_lock_errors(mode, "run --rm", &outs);
    assert!(!listings.is_empty());
    for l in &listings {
        assert!(
            l.status == 0 && l.stderr.is_empty(),
            "[{mode:?}] ps -a: {l:?}"
        );
    }
    assert!(
        wait_for(Duration::from_secs(20), || env
            .all_container_ids()
            .is_empty()),
        "[{mode:?}] --rm containers are removed"
    );
    assert_sound(&env, "run --rm");
}

both_modes!(run_d_and_rm_f_of_the_same_names);
fn run_d_and_rm_f_of_the_same_names(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let rt = env.rt_image();
    let mark = env.mark();
    // 20 workers, 4 names: each starts its name and removes it. A removal
    // waits for a start under way instead of pulling its files away.
    let outs = at_once(20, |i| {
        let name = format!("same-{}", i % 4);
        let run = env.run(&[
            "run", "-d", "--name", &name, "-e", &mark, &rt, "sleep", "1000",
        ]);
        // The documented conflicts: the name is taken, or another worker's
        // rm -f removed the new container before it could start.
        let ok = run.status == 0
            || (run.status == 125
                && (run.stderr.contains("is already in use")
                    || run.stderr.contains("no such container")));
        assert!(ok, "[{mode:?}] run -d {name}: {run:?}");
        let rm = env.run(&["rm", "-f", "-t", "0", &name]);
        let ok = rm.status == 0 || (rm.status == 1 && rm.stderr.contains("no such container"));
        assert!(ok, "[{mode:?}] rm -f {name}: {rm:?}");
        Out {
            status: 0,
            stdout: String::new(),
            stderr: format!("{}{}", run.stderr, rm.stderr),
        }
    });
    no_lock_errors(mode, "run -d / rm -f", &outs);
    for i in 0..4 {
        env.ok(&["rm", "-f", "--ignore", &format!("same-{i}")]);
    }
    assert!(env.all_container_ids().is_empty(), "[{mode:?}]");
    assert!(
        wait_for(Duration::from_secs(10), || env.marked_pids().is_empty()),
        "[{mode:?}] no container process left"
    );
    assert_sound(&env, "run -d / rm -f");
}

both_modes!(ten_pulls_of_one_image_into_an_empty_store);
fn ten_pulls_of_one_image_into_an_empty_store(mode: Mode) {
    let env = TestEnv::new(mode);
    let p = layers();
    let outs = at_once(10, |_| env.run(&["pull", &p.reference()]));
    for o in &outs {
        assert_eq!(o.status, 0, "[{mode:?}] pull: {o:?}");
        assert_eq!(o.stdout.trim(), p.id(), "[{mode:?}]");
    }
    no_lock_errors(mode, "pull", &outs);
    assert_eq!(env.image_names(), vec![p.reference()], "[{mode:?}]");
    let mut want = p.diff_ids();
    want.iter_mut()
        .for_each(|d| *d = d.trim_start_matches("sha256:").to_string());
    want.sort();
    want.dedup();
    assert_eq!(env.layer_ids(), want, "[{mode:?}] each layer once");
    assert_sound(&env, "pull");
}

both_modes!(volume_create_and_rm_of_one_name);
fn volume_create_and_rm_of_one_name(mode: Mode) {
    let env = TestEnv::new(mode);
    let outs = at_once(20, |i| {
        if i % 2 == 0 {
            let o = env.run(&["volume", "create", "one"]);
            let ok = o.status == 0 || (o.status == 125 && o.stderr.contains("already exists"));
            assert!(ok, "[{mode:?}] volume create: {o:?}");
            o
        } else {
            let o = env.run(&["volume", "rm", "one"]);
            let ok = o.status == 0 || (o.status == 1 && o.stderr.contains("no such volume"));
            assert!(ok, "[{mode:?}] volume rm: {o:?}");
            o
        }
    });
    no_lock_errors(mode, "volume create/rm", &outs);
    let listed = env.ok(&["volume", "ls", "-q"]);
    let exists = env.run(&["volume", "exists", "one"]).status == 0;
    assert_eq!(listed == "one\n", exists, "[{mode:?}] ls and exists agree");
    assert_sound(&env, "volume create/rm");
}

both_modes!(parallel_builds_of_the_same_tag);
fn parallel_builds_of_the_same_tag(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let rt = env.rt_image();
    let ctx = env.dir.join("ctx");
    mkdir_mode(&ctx, 0o755);
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {rt}\nRUN echo same > /same\n"),
    )
    .unwrap();
    let c = ctx.to_str().unwrap();
    let outs = at_once(5, |_| env.run(&["build", "-q", "-t", "localhost/same", c]));
    for o in &outs {
        assert_eq!(o.status, 0, "[{mode:?}] build: {o:?}");
    }
    no_lock_errors(mode, "build", &outs);
    let names = env.image_names();
    assert_eq!(
        names
            .iter()
            .filter(|n| *n == "localhost/same:latest")
            .count(),
        1,
        "[{mode:?}] {names:?}"
    );
    assert_eq!(
        env.ok(&["run", "--rm", "localhost/same", "cat", "/same"]),
        "same\n"
    );
    assert_sound(&env, "build");
}
