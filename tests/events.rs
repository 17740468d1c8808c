//! `events`: the journal every verb appends to, read back with podman's
//! flags (--stream=false, --since/--until, --filter, --format), and
//! followed live. As root and rootless.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::Value;

/// `events --stream=false --format json [extra]`, parsed.
fn journal(env: &TestEnv, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["events", "--stream=false", "--format", "json"];
    args.extend_from_slice(extra);
    env.ok(&args)
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("[{:?}] not a JSON line ({e}): {l:?}", env.mode))
        })
        .collect()
}

fn statuses_of(events: &[Value], id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["Type"] == "container" && e["ID"] == id)
        .map(|e| e["Status"].as_str().unwrap_or("").to_string())
        .collect()
}

fn find<'a>(events: &'a [Value], id: &str, status: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["ID"] == id && e["Status"] == status)
        .unwrap_or_else(|| panic!("no {status} event of {id} in {events:#?}"))
}

/// A time now, as a unix timestamp with nanoseconds (`--since` takes it).
fn unix_now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

both_modes!(events_in_order);
fn events_in_order(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    let id = env.run_detached("e1", &["--label", "app=web"], &img, &["sleep", "300"]);
    env.ok(&["stop", "-t", "0", "e1"]);
    env.ok(&["rm", "e1"]);
    let out = env.run(&[
        "run", "--rm", "--name", "e2", "-e", &mark, &img, "sh", "-c", "exit 3",
    ]);
    assert_eq!(out.status, 3, "[{mode:?}] run --rm: {out:?}");

    let events = journal(&env, &[]);
    assert_eq!(
        statuses_of(&events, &id),
        ["create", "init", "start", "died", "stop", "remove"],
        "[{mode:?}] events of a run -d / stop / rm: {events:#?}"
    );
    let died = find(&events, &id, "died");
    assert_eq!(died["ContainerExitCode"], 137, "[{mode:?}] {died}");
    assert_eq!(died["Name"], "e1", "[{mode:?}] {died}");
    assert!(
        died["Image"].as_str().unwrap().contains("fixtures/rt"),
        "[{mode:?}] {died}"
    );
    assert_eq!(
        died["Attributes"]["app"], "web",
        "[{mode:?}] labels: {died}"
    );
    // the time is RFC 3339 with nanoseconds, and never goes backwards
    let times: Vec<&str> = events.iter().map(|e| e["Time"].as_str().unwrap()).collect();
    assert!(
        times.iter().all(|t| t.ends_with('Z') && t.contains('T')),
        "[{mode:?}] {times:?}"
    );

    let e2 = env
        .ok(&[
            "events",
            "--stream=false",
            "--filter",
            "container=e2",
            "--filter",
            "event=create",
            "--format",
            "{{.ID}}",
        ])
        .trim()
        .to_string();
    assert!(is_hex(&e2, 64), "[{mode:?}] id of e2: {e2:?}");
    assert_eq!(
        statuses_of(&events, &e2),
        ["create", "init", "start", "attach", "died", "remove"],
        "[{mode:?}] events of run --rm"
    );
    assert_eq!(
        find(&events, &e2, "died")["ContainerExitCode"],
        3,
        "[{mode:?}]"
    );

    // podman's human line
    let human = env.ok(&["events", "--stream=false", "--filter", "event=create"]);
    let line = human.lines().next().unwrap_or("");
    assert!(
        line.contains(" +0000 UTC container create ")
            && line.contains(&format!("{id} (image="))
            && line.contains(", name=e1, ")
            && line.contains(", app=web"),
        "[{mode:?}] human line: {line:?}"
    );
    let d = line.as_bytes();
    assert!(
        d.len() > 20 && d[4] == b'-' && d[10] == b' ' && d[13] == b':',
        "[{mode:?}] starts with the date and time: {line:?}"
    );
}

both_modes!(events_filters_since_until_and_formats);
fn events_filters_since_until_and_formats(mode: Mode) {
    // Names that no hex id can start with: `container=NAME` also matches
    // id prefixes.
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    env.ok(&["create", "--name", "ev-one", "-e", &mark, &img, "true"]);
    let between = unix_now();
    env.ok(&[
        "create", "--name", "ev-two", "--label", "tier=db", "-e", &mark, &img, "true",
    ]);
    env.ok(&["rm", "ev-one", "ev-two"]);

    let names = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "events",
            "--stream=false",
            "--format",
            "{{.Status}} {{.Name}}",
        ];
        args.extend_from_slice(extra);
        env.ok(&args).lines().map(str::to_string).collect()
    };
    assert_eq!(
        names(&["--filter", "type=container"]),
        [
            "create ev-one",
            "create ev-two",
            "remove ev-one",
            "remove ev-two"
        ],
        "[{mode:?}] container events"
    );
    // same key: OR; different keys: AND
    assert_eq!(
        names(&[
            "--filter",
            "container=ev-two",
            "--filter",
            "event=create",
            "--filter",
            "event=remove"
        ]),
        ["create ev-two", "remove ev-two"],
        "[{mode:?}]"
    );
    assert_eq!(
        names(&["--filter", "label=tier=db", "--filter", "event=remove"]),
        ["remove ev-two"],
        "[{mode:?}] label filter"
    );
    assert_eq!(
        names(&["--filter", "type=container", "--since", &between]),
        ["create ev-two", "remove ev-one", "remove ev-two"],
        "[{mode:?}] --since"
    );
    assert_eq!(
        names(&["--filter", "type=container", "--until", &between]),
        ["create ev-one"],
        "[{mode:?}] --until"
    );
    assert!(
        names(&["--since", "-1h"]).is_empty(),
        "[{mode:?}] nothing happened in the future"
    );
    assert_eq!(
        names(&["--filter", "type=container", "--since", "5m"]).len(),
        4,
        "[{mode:?}] a duration counts back from now"
    );

    // --format json: one object per line with podman's keys
    let all = journal(&env, &["--filter", "container=ev-one"]);
    assert_eq!(all.len(), 2, "[{mode:?}] {all:#?}");
    for key in [
        "ID",
        "Image",
        "Name",
        "Status",
        "Time",
        "Type",
        "Attributes",
    ] {
        assert!(
            all[0].get(key).is_some(),
            "[{mode:?}] no {key} in {}",
            all[0]
        );
    }
    assert!(
        all[0].get("ContainerExitCode").is_none(),
        "[{mode:?}] {}",
        all[0]
    );

    // bad input: one error line, exit 125
    let out = env.run(&["events", "--stream=false", "--filter", "colour=red"]);
    assert_error(mode, "events --filter colour=red", &out, 125, &["colour"]);
    let out = env.run(&["events", "--stream=false", "--since", "yesterday-ish"]);
    assert_error(
        mode,
        "events --since yesterday-ish",
        &out,
        125,
        &["yesterday-ish"],
    );
    let out = env.run(&["events", "--stream=false", "--format", "{{.Nope}}"]);
    assert_error(mode, "events --format {{.Nope}}", &out, 125, &["Nope"]);
}

both_modes!(image_verbs_appear_in_events);
fn image_verbs_appear_in_events(mode: Mode) {
    let env = TestEnv::new(mode);
    let r = rt().reference();
    let id = env.pull(&r);
    env.ok(&["tag", &r, "evtag:1"]);
    env.ok(&["untag", &r, "evtag:1"]);
    env.ok(&["rmi", &r]);
    let events = journal(&env, &["--filter", "type=image"]);
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["Status"].as_str().unwrap().to_string(),
                e["Name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let status: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        status,
        ["pull", "tag", "untag", "untag", "remove"],
        "[{mode:?}] {seen:?}"
    );
    assert!(
        seen[0].1.contains("fixtures/rt"),
        "[{mode:?}] pull names the image: {seen:?}"
    );
    assert_eq!(seen[1].1, "localhost/evtag:1", "[{mode:?}]");
    assert!(
        events.iter().all(|e| e["ID"] == id.as_str()),
        "[{mode:?}] ids: {events:#?}"
    );
    // image= matches by id and by name
    let by_id = journal(&env, &["--filter", &format!("image={}", &id[..12])]);
    assert_eq!(by_id.len(), 5, "[{mode:?}]");
    let by_name = journal(
        &env,
        &["--filter", "image=evtag:1", "--filter", "type=image"],
    );
    assert_eq!(
        by_name.len(),
        2,
        "[{mode:?}] tag and untag of evtag:1: {by_name:#?}"
    );
}

/// Whether process `pid` has the journal open (it follows it from then on).
fn has_journal_open(pid: i32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.flatten().any(|e| {
                std::fs::read_link(e.path())
                    .map(|p| p.to_string_lossy().ends_with("events/events.log"))
                    .unwrap_or(false)
            })
        })
        .unwrap_or(false)
}

fn wait_exit(
    child: &mut std::process::Child,
    within: Duration,
) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: a signal to a process this test started.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    None
}

both_modes!(events_stream_new_events_until_interrupted);
fn events_stream_new_events_until_interrupted(mode: Mode) {
    let env = TestEnv::new(mode);
    let _reaper = Reaper(&env);
    let img = env.rt_image();
    let mark = env.mark();
    // Without --since the stream starts at the end: the pull is not shown.
    let (mut child, rx) =
        env.spawn_lines(&["events", "--format", "{{.Type}} {{.Status}} {{.Name}}"]);
    let pid = coracle_pid(mode, child.id() as i32);
    assert!(
        wait_for(Duration::from_secs(20), || has_journal_open(pid)),
        "[{mode:?}] events never opened the journal"
    );
    env.ok(&["create", "--name", "live1", "-e", &mark, &img, "true"]);
    let line = rx.recv_timeout(Duration::from_secs(10));
    assert_eq!(
        line.as_deref(),
        Ok("container create live1"),
        "[{mode:?}] the stream shows the new event"
    );
    // SAFETY: a signal to a process this test started.
    unsafe { libc::kill(pid, libc::SIGINT) };
    assert!(
        wait_exit(&mut child, Duration::from_secs(10)).is_some(),
        "[{mode:?}] events did not exit on SIGINT"
    );
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.is_empty(), "[{mode:?}] only new events: {rest:?}");

    // --until in the future: the old events, then stream until then.
    let (mut child, rx) = env.spawn_lines(&[
        "events",
        "--since",
        "1h",
        "--until=-2s",
        "--format",
        "{{.Status}} {{.Name}}",
    ]);
    assert!(
        wait_exit(&mut child, Duration::from_secs(30)).is_some(),
        "[{mode:?}] events --until did not stop by itself"
    );
    let lines: Vec<String> = rx.iter().collect();
    assert!(
        lines.iter().any(|l| l == "create live1"),
        "[{mode:?}] --since shows the past: {lines:?}"
    );
}

both_modes!(volume_and_pod_verbs_appear_in_events);
fn volume_and_pod_verbs_appear_in_events(mode: Mode) {
    let env = TestEnv::new(mode);
    env.ok(&["volume", "create", "evvol"]);
    env.ok(&["volume", "rm", "evvol"]);
    let pod = env
        .ok(&["pod", "create", "--name", "evpod"])
        .trim()
        .to_string();
    env.ok(&["pod", "rm", "evpod"]);
    let vols: Vec<(String, String)> = journal(&env, &["--filter", "type=volume"])
        .iter()
        .map(|e| {
            (
                e["Status"].as_str().unwrap().into(),
                e["Name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        vols,
        [
            ("create".into(), "evvol".into()),
            ("remove".into(), "evvol".into())
        ],
        "[{mode:?}]"
    );
    let pods = journal(&env, &["--filter", "type=pod"]);
    let status: Vec<&str> = pods.iter().map(|e| e["Status"].as_str().unwrap()).collect();
    assert_eq!(status, ["create", "remove"], "[{mode:?}] {pods:#?}");
    assert!(
        pods.iter()
            .all(|e| e["ID"] == pod.as_str() && e["Name"] == "evpod"),
        "[{mode:?}] {pods:#?}"
    );
}
