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

/// A registry with a search API (`/v1/search`, as Docker Hub's): answers
/// `q=alp` with two results, anything else with none. Plain HTTP on
/// loopback; serves until the test binary exits.
fn search_api_registry() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = [0u8; 8192];
            let n = conn.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = request
                .strip_prefix("GET ")
                .and_then(|r| r.split(' ').next());
            let (status, body) = match path {
                None => ("400 Bad Request", String::new()),
                Some(p) if p.starts_with("/v1/search?") => {
                    let results = if p.contains("q=alp&") {
                        serde_json::json!([
                            {"name": "tools/alpha", "description": "A description longer than forty-four characters\nand a second line", "star_count": 7, "is_official": true, "is_automated": false},
                            {"name": "alpine", "description": "short", "star_count": 0, "is_official": false, "is_automated": true},
                        ])
                    } else {
                        serde_json::json!([])
                    };
                    (
                        "200 OK",
                        serde_json::json!({"num_results": 2, "query": "alp", "results": results})
                            .to_string(),
                    )
                }
                Some(_) => ("200 OK", "{}".to_string()),
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    host
}

both_modes!(search_api_results_carry_descriptions_stars_and_marks);
fn search_api_results_carry_descriptions_stars_and_marks(mode: Mode) {
    let host = search_api_registry();
    let env = TestEnv::new(mode);
    let term = format!("{host}/alp");
    let out = env.ok(&["search", "--compatible", &term]);
    let alpha = format!("{host}/tools/alpha");
    let alpine = format!("{host}/alpine");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "[{mode:?}] {out}");
    let words = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        words(lines[0]),
        ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"]
    );
    assert!(
        lines[1].starts_with(&format!(
            "{alpha}  A description longer than forty-four charact...  7 "
        )),
        "[{mode:?}] the description cut at 44 bytes: {out}"
    );
    assert_eq!(words(lines[1]).last().unwrap(), "[OK]");
    assert_eq!(
        words(lines[2]),
        [alpine.as_str(), "short", "0", "[OK]"],
        "[{mode:?}]"
    );
    // Aligned columns: STARS over 7, AUTOMATED over alpine's [OK].
    assert_eq!(
        lines[0].find("STARS"),
        lines[1].find("  7 ").map(|i| i + 2),
        "[{mode:?}] {out}"
    );
    assert_eq!(
        lines[0].find("AUTOMATED"),
        lines[2].find("[OK]"),
        "[{mode:?}] {out}"
    );
    let out = env.ok(&[
        "search",
        "--no-trunc",
        "--limit",
        "1",
        "--format",
        "{{.Description}}",
        &term,
    ]);
    assert_eq!(
        out, "A description longer than forty-four characters and a second line\n",
        "[{mode:?}]"
    );
    let out = env.ok(&["search", "--format", "json", &term]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["Stars"], 7, "[{mode:?}] {out}");
    assert_eq!(v[0]["Official"], "[OK]");
    assert!(
        v[0]["Description"]
            .as_str()
            .unwrap()
            .ends_with("second line"),
        "[{mode:?}] JSON is not cut"
    );
    for (filter, want) in [
        ("is-official=true", &alpha),
        ("stars=5", &alpha),
        ("is-automated=true", &alpine),
    ] {
        let out = env.ok(&["search", "--filter", filter, "--format", "{{.Name}}", &term]);
        assert_eq!(out.trim(), want.as_str(), "[{mode:?}] --filter {filter}");
    }
    // The term is what is asked: another one finds nothing, and prints nothing.
    let out = env.ok(&["search", &format!("{host}/zzz")]);
    assert_eq!(out, "", "[{mode:?}]");
}
