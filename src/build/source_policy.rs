//! `build --source-policy-file`: BuildKit's source policy JSON, rules that
//! allow, deny or convert the images a build names, matched against each
//! image's identifier (`docker-image://docker.io/library/alpine:latest`).
//!
//! As podman documents it, the first rule that matches decides and an
//! image no rule matches is allowed. As in BuildKit, a converted image is
//! looked at again (a later DENY still applies to what a CONVERT made),
//! and a WILDCARD or REGEX rule's `updates.identifier` may use what the
//! selector matched: `$1`/`${1}` is the first `*` (or regex group).

use anyhow::{anyhow, bail, Result};
use regex::Regex;
use serde_json::Value;

/// The identifiers' scheme for images.
pub const IMAGE_SCHEME: &str = "docker-image://";

/// Conversions in a row before the policy is taken to loop.
const MAX_CONVERSIONS: usize = 20;

#[derive(Debug, Clone)]
pub struct SourcePolicy {
    /// Where it was read from, for the errors.
    file: String,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    action: Action,
    selector: String,
    matcher: Matcher,
    /// CONVERT's `updates.identifier`.
    update: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Allow,
    Deny,
    Convert,
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact,
    /// The WILDCARD pattern as an anchored regex, a group for each `*`/`?`.
    Wildcard(Regex),
    /// Unanchored, as Go's `regexp.MatchString`.
    Regex(Regex),
}

/// What the policy makes of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Used as named (no rule matched, or an ALLOW did).
    Keep,
    /// Used instead: the identifier a CONVERT gave.
    Convert(String),
}

/// A rule's place and text, for messages: `rule 2 (DENY docker-image://x/*)`.
fn describe(n: usize, r: &Rule) -> String {
    let action = match r.action {
        Action::Allow => "ALLOW",
        Action::Deny => "DENY",
        Action::Convert => "CONVERT",
    };
    format!("rule {} ({action} {})", n + 1, r.selector)
}

/// An enum field as BuildKit's JSON has it: its name, or its number.
fn enum_field<'a>(v: &'a Value, names: &[&'a str]) -> Option<&'a str> {
    match v {
        Value::String(s) => names.iter().find(|n| **n == s).copied(),
        Value::Number(n) => n.as_u64().and_then(|i| names.get(i as usize).copied()),
        _ => None,
    }
}

impl SourcePolicy {
    /// The policy file's JSON (`file` names it in errors), every rule checked.
    pub fn parse(text: &str, file: &str) -> Result<SourcePolicy> {
        let fail = |why: String| anyhow!("loading source policy file {file}: {why}");
        let doc: Value =
            serde_json::from_str(text).map_err(|e| fail(format!("invalid JSON: {e}")))?;
        let Some(obj) = doc.as_object() else {
            return Err(fail(
                "expected an object with a \"rules\" array".to_string(),
            ));
        };
        let rules = match obj.get("rules") {
            None | Some(Value::Null) => &Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(fail("\"rules\" must be an array".to_string())),
        };
        let mut out = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let rule = parse_rule(r).map_err(|e| fail(format!("rule {}: {e}", i + 1)))?;
            out.push(rule);
        }
        Ok(SourcePolicy {
            file: file.to_string(),
            rules: out,
        })
    }

    /// The verdict on an image known by `ids` (its identifiers, the one
    /// BuildKit gives first; a rule matching any of them applies), or an
    /// error when a DENY matches. `again` gives the identifiers of what a
    /// CONVERT made, which is looked at in turn.
    pub fn evaluate(
        &self,
        ids: Vec<String>,
        again: &dyn Fn(&str) -> Vec<String>,
    ) -> Result<Verdict> {
        let mut ids = ids;
        let mut verdict = Verdict::Keep;
        for _ in 0..MAX_CONVERSIONS {
            let Some((n, rule, id)) = self.first_match(&ids) else {
                return Ok(verdict);
            };
            match rule.action {
                Action::Allow => return Ok(verdict),
                Action::Deny => bail!(
                    "source {} denied by source policy {}: {}",
                    ids[0],
                    self.file,
                    describe(n, rule)
                ),
                Action::Convert => {
                    let to = rule.converted(id);
                    if ids.contains(&to) {
                        return Ok(verdict);
                    }
                    if !to.starts_with(IMAGE_SCHEME) {
                        bail!(
                            "source policy {}: {} converts {} to {to}, which is not a {IMAGE_SCHEME} source",
                            self.file,
                            describe(n, rule),
                            ids[0]
                        );
                    }
                    let next = again(&to);
                    if next.is_empty() {
                        bail!(
                            "source policy {}: {} converts {} to {to}, which is not a valid image reference",
                            self.file,
                            describe(n, rule),
                            ids[0]
                        );
                    }
                    ids = next;
                    verdict = Verdict::Convert(to);
                }
            }
        }
        bail!(
            "source policy {}: more than {MAX_CONVERSIONS} conversions in a row for {}: do its CONVERT rules loop?",
            self.file,
            ids[0]
        )
    }

    fn first_match<'a>(&'a self, ids: &'a [String]) -> Option<(usize, &'a Rule, &'a str)> {
        self.rules.iter().enumerate().find_map(|(n, r)| {
            ids.iter()
                .find(|id| r.matches(id))
                .map(|id| (n, r, id.as_str()))
        })
    }
}

fn parse_rule(r: &Value) -> Result<Rule> {
    let obj = r.as_object().ok_or_else(|| anyhow!("not an object"))?;
    let action = match obj.get("action") {
        None | Some(Value::Null) => bail!("action is required"),
        Some(v) => match enum_field(v, &["ALLOW", "DENY", "CONVERT"]) {
            Some("ALLOW") => Action::Allow,
            Some("DENY") => Action::Deny,
            Some(_) => Action::Convert,
            None => bail!("unknown action {v} (valid: ALLOW, DENY, CONVERT)"),
        },
    };
    let selector = obj
        .get("selector")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("selector is required"))?;
    let identifier = match selector.get("identifier") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => bail!("selector.identifier is required"),
    };
    if selector
        .get("constraints")
        .is_some_and(|c| c.as_array().is_none_or(|a| !a.is_empty()))
    {
        bail!("selector.constraints are not supported (coracle matches identifiers only)");
    }
    // Either spelling: protobuf's JSON names, and the field's own.
    let match_type = selector
        .get("matchType")
        .or_else(|| selector.get("match_type"));
    let matcher = match match_type {
        None | Some(Value::Null) => wildcard(&identifier)?,
        Some(v) => match enum_field(v, &["WILDCARD", "EXACT", "REGEX"]) {
            Some("WILDCARD") => wildcard(&identifier)?,
            Some("EXACT") => Matcher::Exact,
            Some(_) => Matcher::Regex(
                Regex::new(&identifier)
                    .map_err(|e| anyhow!("selector.identifier is not a valid REGEX: {e}"))?,
            ),
            None => bail!("unknown matchType {v} (valid: EXACT, WILDCARD, REGEX)"),
        },
    };
    let updates = obj.get("updates").filter(|u| !u.is_null());
    if let Some(attrs) = updates.and_then(|u| u.get("attrs")) {
        if attrs.as_object().is_none_or(|a| !a.is_empty()) {
            bail!("updates.attrs are not supported (coracle converts identifiers only)");
        }
    }
    let update = match updates.and_then(|u| u.get("identifier")) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    if action == Action::Convert && update.is_none() {
        bail!("updates.identifier is required for CONVERT");
    }
    Ok(Rule {
        action,
        selector: identifier,
        matcher,
        update,
    })
}

/// `*` any run of characters (slashes too), `?` any one, each a group.
fn wildcard(pattern: &str) -> Result<Matcher> {
    let mut rx = String::from("^");
    let mut literal = String::new();
    for c in pattern.chars() {
        match c {
            '*' | '?' => {
                rx.push_str(&regex::escape(&literal));
                literal.clear();
                rx.push_str(if c == '*' { "(.*)" } else { "(.)" });
            }
            c => literal.push(c),
        }
    }
    rx.push_str(&regex::escape(&literal));
    rx.push('$');
    Ok(Matcher::Wildcard(Regex::new(&rx)?))
}

impl Rule {
    fn matches(&self, id: &str) -> bool {
        match &self.matcher {
            Matcher::Exact => self.selector == id,
            Matcher::Wildcard(rx) | Matcher::Regex(rx) => rx.is_match(id),
        }
    }

    /// CONVERT's identifier for `id`, what the selector matched put in.
    fn converted(&self, id: &str) -> String {
        let to = self.update.clone().expect("checked when parsed");
        match &self.matcher {
            Matcher::Exact => to,
            Matcher::Regex(rx) => rx.replace_all(id, to.as_str()).into_owned(),
            Matcher::Wildcard(rx) => match rx.captures(id) {
                Some(caps) => {
                    let mut out = String::new();
                    caps.expand(&to, &mut out);
                    out
                }
                None => to,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> SourcePolicy {
        SourcePolicy::parse(json, "p.json").unwrap()
    }

    fn ids(id: &str) -> Vec<String> {
        vec![id.to_string()]
    }

    fn eval(p: &SourcePolicy, id: &str) -> Result<Verdict> {
        p.evaluate(ids(id), &|s| ids(s))
    }

    #[test]
    fn first_matching_rule_decides() {
        let p = policy(
            r#"{"rules":[
              {"action":"ALLOW","selector":{"identifier":"docker-image://docker.io/library/ok:*"}},
              {"action":"DENY","selector":{"identifier":"docker-image://docker.io/library/*"}},
              {"action":"CONVERT","selector":{"identifier":"docker-image://q.io/a:1","matchType":"EXACT"},
               "updates":{"identifier":"docker-image://q.io/a:2"}}]}"#,
        );
        assert_eq!(
            eval(&p, "docker-image://docker.io/library/ok:1").unwrap(),
            Verdict::Keep
        );
        let e = eval(&p, "docker-image://docker.io/library/no:1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "source docker-image://docker.io/library/no:1 denied by source policy p.json: \
             rule 2 (DENY docker-image://docker.io/library/*)"
        );
        assert_eq!(
            eval(&p, "docker-image://q.io/a:1").unwrap(),
            Verdict::Convert("docker-image://q.io/a:2".into())
        );
        assert_eq!(eval(&p, "docker-image://r.io/x:1").unwrap(), Verdict::Keep);
        // EXACT is exact: no wildcard in it.
        assert_eq!(eval(&p, "docker-image://q.io/a:10").unwrap(), Verdict::Keep);
    }

    #[test]
    fn any_identifier_of_an_image_matches() {
        let p = policy(
            r#"{"rules":[{"action":"DENY","selector":{"identifier":"docker-image://docker.io/library/alpine","matchType":"EXACT"}}]}"#,
        );
        let both = vec![
            "docker-image://docker.io/library/alpine:latest".to_string(),
            "docker-image://docker.io/library/alpine".to_string(),
        ];
        assert!(p.evaluate(both, &|s| ids(s)).is_err());
        assert_eq!(
            eval(&p, "docker-image://docker.io/library/alpine:latest").unwrap(),
            Verdict::Keep
        );
    }

    #[test]
    fn wildcards_and_regexes_fill_in_the_conversion() {
        let p = policy(
            r#"{"rules":[
              {"action":"CONVERT","selector":{"identifier":"docker-image://docker.io/library/golang:*"},
               "updates":{"identifier":"docker-image://mirror.io/golang:${1}-alpine"}},
              {"action":"CONVERT","selector":{"identifier":"^docker-image://old\\.io/(.+)$","matchType":"REGEX"},
               "updates":{"identifier":"docker-image://new.io/$1"}}]}"#,
        );
        assert_eq!(
            eval(&p, "docker-image://docker.io/library/golang:1.22").unwrap(),
            Verdict::Convert("docker-image://mirror.io/golang:1.22-alpine".into())
        );
        assert_eq!(
            eval(&p, "docker-image://old.io/team/app:3").unwrap(),
            Verdict::Convert("docker-image://new.io/team/app:3".into())
        );
        assert!(matches!(
            wildcard("a*/c?").unwrap(),
            Matcher::Wildcard(rx) if rx.is_match("ab/x/cd") && !rx.is_match("ab/x/c")
        ));
        assert!(matches!(
            wildcard("a.c").unwrap(),
            Matcher::Wildcard(rx) if !rx.is_match("abc")
        ));
    }

    #[test]
    fn what_a_conversion_makes_is_looked_at_again() {
        let p = policy(
            r#"{"rules":[
              {"action":"CONVERT","selector":{"identifier":"docker-image://a/x:1"},"updates":{"identifier":"docker-image://b/x:1"}},
              {"action":"DENY","selector":{"identifier":"docker-image://b/*"}}]}"#,
        );
        let e = eval(&p, "docker-image://a/x:1").unwrap_err().to_string();
        assert!(e.contains("docker-image://b/x:1 denied"), "{e}");
        let looping = policy(
            r#"{"rules":[
              {"action":"CONVERT","selector":{"identifier":"docker-image://a"},"updates":{"identifier":"docker-image://b"}},
              {"action":"CONVERT","selector":{"identifier":"docker-image://b"},"updates":{"identifier":"docker-image://a"}}]}"#,
        );
        let e = eval(&looping, "docker-image://a").unwrap_err().to_string();
        assert!(e.contains("loop"), "{e}");
        // Converted to what it already is: done.
        let pin = policy(
            r#"{"rules":[{"action":"CONVERT","selector":{"identifier":"docker-image://a:*"},"updates":{"identifier":"docker-image://a:1"}}]}"#,
        );
        assert_eq!(
            eval(&pin, "docker-image://a:2").unwrap(),
            Verdict::Convert("docker-image://a:1".into())
        );
        let other = policy(
            r#"{"rules":[{"action":"CONVERT","selector":{"identifier":"docker-image://a"},"updates":{"identifier":"https://x/y.tar"}}]}"#,
        );
        assert!(eval(&other, "docker-image://a").is_err());
    }

    #[test]
    fn buildkit_numbers_and_bad_files() {
        // BuildKit's enums as numbers: CONVERT=2, EXACT=1.
        let p = policy(
            r#"{"version":1,"rules":[{"action":2,"selector":{"identifier":"docker-image://a","match_type":1},"updates":{"identifier":"docker-image://b"}}]}"#,
        );
        assert_eq!(
            eval(&p, "docker-image://a").unwrap(),
            Verdict::Convert("docker-image://b".into())
        );
        assert!(policy("{}").rules.is_empty());
        for (json, why) in [
            ("{", "invalid JSON"),
            ("[]", "expected an object"),
            (r#"{"rules":{}}"#, "must be an array"),
            (
                r#"{"rules":[{"selector":{"identifier":"x"}}]}"#,
                "rule 1: action is required",
            ),
            (
                r#"{"rules":[{"action":"MAYBE","selector":{"identifier":"x"}}]}"#,
                "unknown action",
            ),
            (
                r#"{"rules":[{"action":"DENY","selector":{}}]}"#,
                "selector.identifier is required",
            ),
            (r#"{"rules":[{"action":"DENY"}]}"#, "selector is required"),
            (
                r#"{"rules":[{"action":"DENY","selector":{"identifier":"x","matchType":"FUZZY"}}]}"#,
                "unknown matchType",
            ),
            (
                r#"{"rules":[{"action":"DENY","selector":{"identifier":"(","matchType":"REGEX"}}]}"#,
                "not a valid REGEX",
            ),
            (
                r#"{"rules":[{"action":"ALLOW","selector":{"identifier":"x"}},{"action":"CONVERT","selector":{"identifier":"x"}}]}"#,
                "rule 2: updates.identifier is required for CONVERT",
            ),
            (
                r#"{"rules":[{"action":"DENY","selector":{"identifier":"x","constraints":[{"key":"k","value":"v"}]}}]}"#,
                "constraints are not supported",
            ),
        ] {
            let e = SourcePolicy::parse(json, "p.json").unwrap_err().to_string();
            assert!(
                e.starts_with("loading source policy file p.json: "),
                "{json}: {e}"
            );
            assert!(e.contains(why), "{json}: {e}");
        }
    }
}
