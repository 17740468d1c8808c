//! `coracle search`: a v2 registry's catalog matched against the term, a
//! repository's tags, the formats, filters and limits.

mod common;

use common::*;
use serde_json::Value;

both_modes!(search_lists_matching_repositories_and_tags);
fn search_lists_matching_repositories_and_tags(mode: Mode) {
    let reg = registry();
    let word = unique("srch");
    // Two repositories whose names hold the word, one exactly it.
    let exact = push_unique_to(reg, busybox_image(), &format!("{word}x"));
    let exact_repo = exact
        .name()
        .trim_start_matches(&format!("{}/", reg.host))
        .to_string();
    let other = push_unique_to(reg, busybox_image(), &format!("z/{word}"));
    let env = TestEnv::new(mode);

    let out = env.ok(&[
        "search",
        &format!("{}/{word}", reg.host),
        "--format",
        "{{.Name}}",
    ]);
    let mut names: Vec<&str> = out.lines().collect();
    names.sort();
    let mut want = vec![exact.name(), other.name()];
    want.sort();
    assert_eq!(names, want, "[{mode:?}] every repository holding the term");

    // The default table: NAME and DESCRIPTION (a v2 registry has none).
    let out = env.ok(&["search", &format!("{}/{exact_repo}", reg.host)]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "DESCRIPTION"],
        "[{mode:?}] {out}"
    );
    assert_eq!(
        lines[1].trim_end(),
        exact.name(),
        "[{mode:?}] the exact match first: {out}"
    );

    let out = env.ok(&[
        "search",
        "--compatible",
        &format!("{}/{exact_repo}", reg.host),
    ]);
    assert_eq!(
        out.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"],
        "[{mode:?}] {out}"
    );
    let out = env.ok(&[
        "search",
        "--limit",
        "1",
        "--format",
        "{{.Index}} {{.Stars}}",
        &format!("{}/{word}", reg.host),
    ]);
    assert_eq!(out, format!("{} 0\n", reg.host), "[{mode:?}] --limit 1");
    let out = env.ok(&[
        "search",
        "--format",
        "json",
        &format!("{}/{exact_repo}", reg.host),
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["Name"], exact.name(), "[{mode:?}] {out}");
    assert_eq!(v[0]["Index"], reg.host.as_str());
    assert_eq!(v[0]["Official"], "");
    // A v2 registry has no stars or official images: filters leave nothing.
    for f in ["is-official=true", "stars=1"] {
        let out = env.ok(&[
            "search",
            "--filter",
            f,
            "--format",
            "{{.Name}}",
            &format!("{}/{word}", reg.host),
        ]);
        assert_eq!(out, "", "[{mode:?}] --filter {f}");
    }
    let out = env.ok(&[
        "search",
        "--filter",
        "is-automated=false",
        "--format",
        "{{.Name}}",
        &format!("{}/{exact_repo}", reg.host),
    ]);
    assert_eq!(out.trim(), exact.name(), "[{mode:?}]");

    // Tags: a table, a template and docker's JSON shape.
    let out = env.ok(&[
        "search",
        "--list-tags",
        "--format",
        "{{.Name}}:{{.Tag}}",
        &exact.name(),
    ]);
    assert_eq!(out.trim(), exact.reference(), "[{mode:?}]");
    let out = env.ok(&["search", "--list-tags", "--format", "json", &exact.name()]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let tag = exact.reference().rsplit(':').next().unwrap().to_string();
    assert_eq!(
        v,
        serde_json::json!([{"Name": exact.name(), "Tags": [tag]}]),
        "[{mode:?}]"
    );

    // The term's registry, or registries.conf's search registries.
    let conf = env.home.join("registries.conf");
    env.write_user_file(
        &conf,
        format!("unqualified-search-registries = [\"{}\"]\n", reg.host).as_bytes(),
    );
    let mut env = env;
    env.set_env("CONTAINERS_REGISTRIES_CONF", conf.to_str().unwrap());
    let out = env.ok(&["search", "--format", "{{.Name}}", &exact_repo]);
    assert_eq!(
        out.trim(),
        exact.name(),
        "[{mode:?}] search through registries.conf"
    );
}

both_modes!(search_refusals_are_one_error_line);
fn search_refusals_are_one_error_line(mode: Mode) {
    let reg = registry();
    let env = TestEnv::new(mode);
    let term = format!("{}/x", reg.host);
    assert_refused(
        &env,
        &["search", "--filter", "color=red", &term],
        "invalid filter type",
    );
    assert_refused(&env, &["search", "--filter", "stars=many", &term], "stars");
    assert_refused(
        &env,
        &["search", "--list-tags", "--filter", "stars=1", &term],
        "filters are not applicable",
    );
    assert_refused(&env, &["search", "--format", "{{.Nope", &term], "");
    assert_refused(&env, &["search", "127.0.0.1:1/x"], "127.0.0.1:1");
    assert_refused(
        &env,
        &[
            "search",
            "--list-tags",
            &format!("{}/no/such/repo", reg.host),
        ],
        "no/such/repo",
    );
}
