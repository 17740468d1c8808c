//! Secrets as podman's: `secret create|ls|inspect|rm|exists` and their
//! output, the data kept 0600 in the store and shown only with
//! --showsecret, and `run --secret` as a file (owner, mode, target) or an
//! environment variable that inspect and commit never reveal.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const DATA: &str = "hunter2-s3cr3t";

fn secret_ids(env: &TestEnv) -> Vec<String> {
    env.ok(&["secret", "ls", "-q"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                if let Ok(bytes) = std::fs::read(&p) {
                    if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                        hits.push(p.display().to_string());
                    }
                }
            }
        }
    }
    hits
}

both_modes!(secret_verbs_and_output);
fn secret_verbs_and_output(mode: Mode) {
    let mut env = TestEnv::new(mode);
    env.set_env("MY_PW", "from-env");
    let file = env.dir.join("secret.txt");
    env.write_user_file(&file, DATA.as_bytes());
    let id = env
        .ok(&[
            "secret",
            "create",
            "--label",
            "team=web",
            "s1",
            file.to_str().unwrap(),
        ])
        .trim()
        .to_string();
    assert!(is_hex(&id, 25), "[{mode:?}] id {id:?}");
    let out = env.run_stdin(&["secret", "create", "s2", "-"], b"from-stdin");
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    env.ok(&["secret", "create", "--env", "s3", "MY_PW"]);

    // ls: podman's columns, quiet ids, filters, Go templates
    let table = env.ok(&["secret", "ls"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"],
        "[{mode:?}] {table}"
    );
    assert!(
        table.contains(&id) && table.contains(" file "),
        "[{mode:?}] {table}"
    );
    assert_eq!(secret_ids(&env).len(), 3, "[{mode:?}]");
    assert_eq!(
        env.ok(&[
            "secret",
            "ls",
            "--filter",
            "name=^s[12]$",
            "--format",
            "{{.Name}}"
        ]),
        "s1\ns2\n",
        "[{mode:?}]"
    );
    assert_eq!(
        env.ok(&[
            "secret",
            "ls",
            "--filter",
            &format!("id={}", &id[..6]),
            "--format",
            "{{.Name}} {{.Driver}}"
        ]),
        "s1 file\n",
        "[{mode:?}]"
    );
    assert!(!env.ok(&["secret", "ls"]).contains(DATA), "[{mode:?}]");

    // inspect: no data unless --showsecret
    let out = env.ok(&["secret", "inspect", "s1"]);
    assert!(
        !out.contains(DATA),
        "[{mode:?}] inspect printed the data: {out}"
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc[0]["ID"], id.as_str(), "[{mode:?}] {doc}");
    assert_eq!(doc[0]["Spec"]["Name"], "s1", "[{mode:?}] {doc}");
    assert_eq!(doc[0]["Spec"]["Driver"]["Name"], "file", "[{mode:?}] {doc}");
    assert_eq!(doc[0]["Spec"]["Labels"]["team"], "web", "[{mode:?}] {doc}");
    assert!(doc[0].get("SecretData").is_none(), "[{mode:?}] {doc}");
    assert_eq!(
        env.ok(&[
            "secret",
            "inspect",
            "--showsecret",
            "--format",
            "{{.Spec.Name}}={{.SecretData}}",
            "s1",
            "s2",
            "s3"
        ]),
        format!("s1={DATA}\ns2=from-stdin\ns3=from-env\n"),
        "[{mode:?}]"
    );
    let pretty = env.ok(&["secret", "inspect", "--pretty", &id[..8]]);
    assert!(
        pretty.contains("Name:") && pretty.contains("s1"),
        "[{mode:?}] {pretty}"
    );

    // the data: 0600 files in a 0700 directory of the store, nowhere else
    let secrets_dir = env.store_dir().join("secrets");
    let holders = files_containing(&env.store_dir(), DATA);
    assert_eq!(holders.len(), 1, "[{mode:?}] the data is in {holders:?}");
    let meta = std::fs::metadata(&holders[0]).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "[{mode:?}] {}",
        holders[0]
    );
    assert!(
        holders[0].starts_with(secrets_dir.to_str().unwrap()),
        "[{mode:?}] {holders:?}"
    );
    let dir_mode = std::fs::metadata(secrets_dir.join("filedata"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700, "[{mode:?}]");

    // exists: 0 or 1, silently
    let out = env.run(&["secret", "exists", "s1"]);
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "[{mode:?}]"
    );
    let out = env.run(&["secret", "exists", "nope"]);
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (1, "", ""),
        "[{mode:?}]"
    );

    // create: name in use, --ignore keeps, --replace updates the data
    let before = secret_ids(&env);
    let out = env.run(&["secret", "create", "s1", file.to_str().unwrap()]);
    assert_error(
        mode,
        "create in use",
        &out,
        125,
        &["s1: secret name in use"],
    );
    assert_eq!(
        env.ok(&["secret", "create", "--ignore", "s1", file.to_str().unwrap()])
            .trim(),
        id,
        "[{mode:?}]"
    );
    let out = env.run_stdin(&["secret", "create", "--replace", "s1", "-"], b"rotated");
    assert_eq!(out.status, 0, "[{mode:?}] {out:?}");
    assert_eq!(out.stdout.trim(), id, "[{mode:?}] --replace keeps the id");
    assert_eq!(secret_ids(&env), before, "[{mode:?}]");
    assert_eq!(
        env.ok(&[
            "secret",
            "inspect",
            "--showsecret",
            "--format",
            "{{.SecretData}}",
            "s1"
        ]),
        "rotated\n",
        "[{mode:?}]"
    );

    // rm: ids printed, missing is an error unless --ignore, --all
    let out = env.run(&["secret", "rm", "s2", "nope"]);
    assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
    assert!(out.stderr.contains("no such secret"), "[{mode:?}] {out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "[{mode:?}] {out:?}");
    assert!(
        env.run(&["secret", "exists", "s2"]).status == 1,
        "[{mode:?}]"
    );
    let out = env.ok(&["secret", "rm", "--ignore", "s3", "nope"]);
    assert_eq!(out.lines().count(), 1, "[{mode:?}] {out}");
    let out = env.ok(&["secret", "rm", "--all"]);
    assert_eq!(out.trim(), id, "[{mode:?}]");
    assert!(secret_ids(&env).is_empty(), "[{mode:?}]");
    assert!(
        files_containing(&env.store_dir(), "rotated").is_empty(),
        "[{mode:?}] data left behind"
    );
}

both_modes!(secret_bad_input_refused);
fn secret_bad_input_refused(mode: Mode) {
    let env = TestEnv::new(mode);
    let file = env.dir.join("s.txt");
    env.write_user_file(&file, b"x");
    let empty = env.dir.join("empty.txt");
    env.write_user_file(&empty, b"");
    let f = file.to_str().unwrap();
    for (args, needle) in [
        (vec!["secret", "create", "bad/name", f], "invalid"),
        (
            vec!["secret", "create", "e", empty.to_str().unwrap()],
            "larger than 0",
        ),
        (
            vec!["secret", "create", "--driver", "pass", "p", f],
            "unsupported secret driver",
        ),
        (
            vec!["secret", "create", "--driver-opts", "color=red", "p", f],
            "invalid option",
        ),
        (
            vec!["secret", "create", "--ignore", "--replace", "p", f],
            "--ignore and --replace",
        ),
        (
            vec!["secret", "create", "p", "/no/such/file"],
            "/no/such/file",
        ),
        (vec!["secret", "inspect", "nope"], "no such secret"),
        (vec!["secret", "rm"], "secret name"),
        (
            vec!["secret", "ls", "--filter", "color=red"],
            "invalid filter",
        ),
    ] {
        assert_refused(&env, &args, needle);
        assert!(
            secret_ids(&env).is_empty(),
            "[{mode:?}] {args:?} left a secret"
        );
    }
    env.ok(&["secret", "create", "ok", f]);
    let img = env.rt_image();
    for (flag, needle) in [
        ("nope", "no such secret"),
        ("ok,type=file", "secret type must be mount or env"),
        ("ok,type=env,uid=1", "cannot be set with secret type env"),
        ("ok,mode=9x", "invalid secret mode"),
        ("ok,color=red", "option color invalid"),
    ] {
        assert_refused(&env, &["create", "--secret", flag, &img, "true"], needle);
    }
}

/// Secret `key` holding DATA, and the `rt` image pulled; the image's name.
fn secret_key_and_image(env: &TestEnv) -> String {
    let file = env.dir.join("secret.txt");
    env.write_user_file(&file, DATA.as_bytes());
    env.ok(&["secret", "create", "key", file.to_str().unwrap()]);
    env.rt_image()
}

both_modes!(run_with_secrets);
fn run_with_secrets(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = secret_key_and_image(&env);

    // a file at /run/secrets/NAME, root's and 0444 by default
    let out = env.sh(
        &img,
        &["--secret", "key"],
        "cat /run/secrets/key; echo; stat -c '%u:%g %a' /run/secrets/key",
    );
    assert_eq!(out, format!("{DATA}\n0:0 444\n"), "[{mode:?}]");
    // owner, mode, a relative and an absolute target; readable by its owner only
    let out = env.sh(
        &img,
        &[
            "--user",
            "1000:1000",
            "--secret",
            "key,target=mine,uid=1000,gid=1000,mode=0400",
            "--secret",
            "key,target=/etc/app/key.pem",
        ],
        "stat -c '%u:%g %a' /run/secrets/mine; cat /run/secrets/mine; echo; cat /etc/app/key.pem",
    );
    assert_eq!(out, format!("1000:1000 400\n{DATA}\n{DATA}"), "[{mode:?}]");
    let out = env.sh_out(
        &img,
        &["--user", "1000", "--secret", "key,mode=0400"],
        "cat /run/secrets/key",
    );
    assert_eq!(out.status, 1, "[{mode:?}] {out:?}");
    assert!(
        out.stderr.contains("Permission denied"),
        "[{mode:?}] {out:?}"
    );
    // the file cannot be changed from inside
    let out = env.sh_out(&img, &["--secret", "key"], "echo x > /run/secrets/key");
    assert_ne!(out.status, 0, "[{mode:?}] {out:?}");

    // an environment variable, named by target (the secret's name by default)
    let out = env.sh(
        &img,
        &[
            "--secret",
            "key,type=env",
            "--secret",
            "key,type=env,target=API_KEY",
        ],
        "echo \"$key $API_KEY\"",
    );
    assert_eq!(out, format!("{DATA} {DATA}\n"), "[{mode:?}]");

    // never shown by inspect nor kept in the container's record or a commit
    let mark = env.mark();
    env.ok(&[
        "create",
        "--name",
        "holder",
        "-e",
        &mark,
        "--secret",
        "key,type=env,target=API_KEY",
        "--secret",
        "key",
        &img,
        "sh",
        "-c",
        "cat /run/secrets/key; echo; echo $API_KEY",
    ]);
    let inspect = env.ok(&["inspect", "holder"]);
    assert!(
        !inspect.contains(DATA),
        "[{mode:?}] inspect shows the secret: {inspect}"
    );
    let out = env.ok(&["start", "-a", "holder"]);
    assert_eq!(out, format!("{DATA}\n{DATA}\n"), "[{mode:?}]");
    env.ok(&["commit", "holder", "localhost/with-secret"]);
    let out = env.sh(
        "localhost/with-secret",
        &[],
        "ls /run/secrets 2>&1; echo \"env=[$API_KEY]\"",
    );
    assert!(
        !out.contains(DATA),
        "[{mode:?}] the commit carries the secret: {out}"
    );
    assert!(out.contains("env=[]"), "[{mode:?}] {out}");
    let record = files_containing(&env.store_dir().join("containers"), DATA);
    assert!(
        record
            .iter()
            .all(|p| p.contains("/userdata/secrets/") || p.ends_with("ctr.log")),
        "[{mode:?}] the secret is in {record:?}"
    );
    env.ok(&["rm", "holder"]);
}

// An env secret is read from the secret store when a process starts: the
// program and an exec see it, no file of the store (but the secret's own
// data) nor of the run root holds it, before or after a restart.
both_modes!(env_secret_is_in_no_file);
fn env_secret_is_in_no_file(mode: Mode) {
    let env = TestEnv::new(mode);
    let img = secret_key_and_image(&env);
    // The program shows the value in capitals: its command line (in the
    // container's records) must not hold the value itself.
    let script = "echo \"$API_KEY\" | tr a-z A-Z; exec sleep 600";
    let seen = DATA.to_uppercase();
    env.run_detached(
        "holder",
        &["--secret", "key,type=env,target=API_KEY"],
        &img,
        &["sh", "-c", script],
    );
    let logs = || env.ok(&["logs", "holder"]);
    assert!(
        wait_for(Duration::from_secs(10), || logs().contains(&seen)),
        "[{mode:?}] the program does not see the secret: {}",
        logs()
    );
    let out = env.ok(&["exec", "holder", "sh", "-c", "echo \"[$API_KEY]\""]);
    assert_eq!(out, format!("[{DATA}]\n"), "[{mode:?}]");
    let nowhere = |when: &str| {
        let mut hits = files_containing(&env.store_dir(), DATA);
        hits.extend(files_containing(&env.runroot_dir(), DATA));
        let data_dir = env.store_dir().join("secrets/filedata");
        hits.retain(|p| !p.starts_with(data_dir.to_str().unwrap()));
        assert!(
            hits.is_empty(),
            "[{mode:?}] {when}: the secret is in {hits:?}"
        );
    };
    nowhere("running");
    let inspect = env.ok(&["inspect", "holder"]);
    assert!(!inspect.contains(DATA), "[{mode:?}] inspect: {inspect}");
    env.ok(&["restart", "-t", "0", "holder"]);
    assert!(
        wait_for(Duration::from_secs(10), || logs().matches(&seen).count()
            == 2),
        "[{mode:?}] after restart: {}",
        logs()
    );
    nowhere("restarted");
    env.ok(&["rm", "-f", "-t", "0", "holder"]);
}
