//! Go text/template, the subset podman users type in `--format`, executed
//! against rows serialized as JSON objects whose keys are podman's field
//! names (`ID`, `Names`, `Status`...).
//!
//! Supported: text, `{{.A.B}}`, `{{.}}`, `{{$}}`, variables (`:=`, `=`),
//! `if/else if/else`, `range` (arrays, objects in sorted key order,
//! integers; with `{{else}}`, `break`, `continue`), `with`, trim markers,
//! comments, literals, pipelines, parentheses, and the functions in
//! [`funcs::NAMES`]. Not supported: `define`, `template`, `block`, methods.
//!
//! Field lookup is exact, then case-insensitive. An unknown field of the
//! row (or of an object that looks like a Go struct: all keys capitalized)
//! is an error, as in podman; a missing key of a map-like object (such as
//! `Labels`) prints `<no value>`, as Go does for maps.

mod exec;
mod funcs;
mod lex;
mod parse;

use serde_json::Value;

use parse::{Node, Operand, Pipeline};

/// Why a template failed to parse or execute. Callers (and tests) may
/// match on [`TemplateError::MissingField`] to say which field was wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateError {
    Parse(String),
    MissingField {
        field: String,
        /// The operand as written, e.g. `.Config.Nope`.
        at: String,
        /// Set when the field was looked up on a non-object (`in type string`).
        in_type: Option<&'static str>,
    },
    Exec {
        at: String,
        msg: String,
    },
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Parse(m) => write!(f, "template: {m}"),
            TemplateError::MissingField { field, at, in_type } => {
                write!(
                    f,
                    "template: executing at <{at}>: can't evaluate field {field}"
                )?;
                if let Some(t) = in_type {
                    write!(f, " in type {t}")?;
                }
                Ok(())
            }
            TemplateError::Exec { at, msg } => write!(f, "template: executing at <{at}>: {msg}"),
        }
    }
}

impl std::error::Error for TemplateError {}

/// A parsed template, reusable for every row.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    pub fn parse(src: &str) -> anyhow::Result<Template> {
        Ok(Self::parse_typed(src)?)
    }

    /// Like [`Template::parse`], with the typed error.
    pub fn parse_typed(src: &str) -> Result<Template, TemplateError> {
        let segs = lex::segments(src)?;
        let nodes = parse::parse(segs, &funcs::is_func)?;
        Ok(Template { nodes })
    }

    pub fn render(&self, data: &Value) -> anyhow::Result<String> {
        Ok(self.render_typed(data)?)
    }

    /// Like [`Template::render`], with the typed error.
    pub fn render_typed(&self, data: &Value) -> Result<String, TemplateError> {
        let mut ex = exec::Exec::new(data);
        ex.run(&self.nodes, data)?;
        Ok(ex.out)
    }

    /// Every `.A.B` chain the template reads from dot, in order of first
    /// use: a table header is rendered from these field names.
    pub fn field_paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        walk_nodes(&self.nodes, &mut out);
        out
    }
}

fn walk_nodes(nodes: &[Node], out: &mut Vec<Vec<String>>) {
    for n in nodes {
        match n {
            Node::Text(_) | Node::Break | Node::Continue => {}
            Node::Action(p) => walk_pipe(p, out),
            Node::If(p, a, b) | Node::Range(p, a, b) | Node::With(p, a, b) => {
                walk_pipe(p, out);
                walk_nodes(a, out);
                walk_nodes(b, out);
            }
        }
    }
}

fn walk_pipe(p: &Pipeline, out: &mut Vec<Vec<String>>) {
    for op in p.cmds.iter().flatten() {
        match op {
            Operand::Field(c) if !out.contains(c) => out.push(c.clone()),
            Operand::Sub(inner, _) => walk_pipe(inner, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(src: &str, data: &Value) -> String {
        Template::parse(src)
            .unwrap_or_else(|e| panic!("parse {src:?}: {e}"))
            .render(data)
            .unwrap_or_else(|e| panic!("render {src:?}: {e}"))
    }

    fn render_err(src: &str, data: &Value) -> String {
        match Template::parse(src) {
            Err(e) => e.to_string(),
            Ok(t) => t.render(data).expect_err("expected an error").to_string(),
        }
    }

    /// Found by the template fuzz target: a range over a huge integer
    /// (nested, over the record) allocated without bound. Ranges now
    /// share a budget and end in one error.
    #[test]
    fn huge_ranges_end_in_an_error() {
        let e = render_err("{{range .N}}{{end}}", &json!({"N": 245_000_000_000i64}));
        assert!(e.contains("more than 100000 iterations"), "{e}");
        let e = render_err(
            "{{range $i := 400}}{{range 400}}x{{end}}{{end}}",
            &json!({}),
        );
        assert!(e.contains("more than 100000 iterations"), "{e}");
        assert_eq!(render("{{range 3}}{{.}}{{end}}", &json!({})), "012");
    }

    fn row() -> Value {
        json!({
            "ID": "76184515c06c",
            "Repository": "localhost/tiny",
            "Tag": "1",
            "Names": ["web", "db", "cache"],
            "Status": "running",
            "Size": 11331,
            "Ratio": 2.5,
            "Labels": {"a.b": "x", "app": "demo"},
            "Config": {"Cmd": ["sh", "-c", "echo <hi> & bye"], "Env": null},
            "Empty": [],
            "Ports": [{"HostPort": 8080, "ContainerPort": 80}, {"HostPort": 8443, "ContainerPort": 443}],
            "Running": true,
            "Nil": null
        })
    }

    #[test]
    fn text_and_fields() {
        let r = row();
        assert_eq!(render("plain text", &r), "plain text");
        assert_eq!(
            render("{{.ID}} {{.Repository}}:{{.Tag}}", &r),
            "76184515c06c localhost/tiny:1"
        );
        assert_eq!(render("{{.Config.Cmd}}", &r), "[sh -c echo <hi> & bye]");
        assert_eq!(
            render("{{.Size}} {{.Ratio}} {{.Running}}", &r),
            "11331 2.5 true"
        );
        assert_eq!(render("{{.Labels}}", &r), "map[a.b:x app:demo]");
        assert_eq!(render("{{.Nil}}", &r), "<no value>");
        assert_eq!(render("{{.}}", &json!("s")), "s");
        assert_eq!(render("{{$}}", &json!([1, 2])), "[1 2]");
        assert_eq!(
            render("{{.Ports}}", &r),
            "[map[ContainerPort:80 HostPort:8080] map[ContainerPort:443 HostPort:8443]]"
        );
    }

    #[test]
    fn case_insensitive_fallback() {
        let r = row();
        assert_eq!(
            render("{{.id}} {{.repository}}", &r),
            "76184515c06c localhost/tiny"
        );
        assert_eq!(render("{{.config.cmd}}", &r), "[sh -c echo <hi> & bye]");
    }

    #[test]
    fn missing_fields() {
        let r = row();
        let e = Template::parse("{{.Nope}}")
            .unwrap()
            .render_typed(&r)
            .unwrap_err();
        assert_eq!(
            e,
            TemplateError::MissingField {
                field: "Nope".into(),
                at: ".Nope".into(),
                in_type: None
            }
        );
        assert_eq!(
            e.to_string(),
            "template: executing at <.Nope>: can't evaluate field Nope"
        );
        // The typed error survives the anyhow wrapper.
        let any = Template::parse("{{.Nope}}")
            .unwrap()
            .render(&r)
            .unwrap_err();
        assert!(matches!(
            any.downcast_ref::<TemplateError>(),
            Some(TemplateError::MissingField { .. })
        ));
        assert_eq!(
            render_err("{{.Config.Nope}}", &r),
            "template: executing at <.Config.Nope>: can't evaluate field Nope"
        );
        assert_eq!(
            render_err("{{.ID.Foo}}", &r),
            "template: executing at <.ID.Foo>: can't evaluate field Foo in type string"
        );
        // Maps (lower-case or dotted keys) give <no value>, like Go maps.
        assert_eq!(render("{{.Labels.nope}}", &r), "<no value>");
        assert_eq!(render("{{.Nil.Anything}}", &r), "<no value>");
        assert_eq!(render("{{.Config.Env.X}}", &r), "<no value>");
        assert_eq!(render("{{if .Labels.nope}}y{{else}}n{{end}}", &r), "n");
    }

    #[test]
    fn range_forms() {
        let r = row();
        assert_eq!(render("{{range .Names}}{{.}},{{end}}", &r), "web,db,cache,");
        assert_eq!(
            render("{{range $i, $e := .Names}}{{$i}}={{$e}} {{end}}", &r),
            "0=web 1=db 2=cache "
        );
        assert_eq!(
            render("{{range $e := .Names}}[{{$e}}]{{end}}", &r),
            "[web][db][cache]"
        );
        assert_eq!(
            render("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", &r),
            "a.b=x;app=demo;"
        );
        assert_eq!(render("{{range .Labels}}{{.}}{{end}}", &r), "xdemo");
        assert_eq!(render("{{range .Empty}}x{{else}}none{{end}}", &r), "none");
        assert_eq!(render("{{range .Nil}}x{{else}}nil{{end}}", &r), "nil");
        assert_eq!(
            render(
                "{{range .Ports}}{{.HostPort}}->{{.ContainerPort}} {{end}}",
                &r
            ),
            "8080->80 8443->443 "
        );
        assert_eq!(
            render(
                "{{range .Names}}{{if eq . \"db\"}}{{break}}{{end}}{{.}}{{end}}",
                &r
            ),
            "web"
        );
        assert_eq!(
            render(
                "{{range .Names}}{{if eq . \"db\"}}{{continue}}{{end}}{{.}}{{end}}",
                &r
            ),
            "webcache"
        );
        assert_eq!(render("{{range 3}}{{.}}{{end}}", &r), "012");
        // $ is still the row inside range.
        assert_eq!(render("{{range .Names}}{{$.Tag}}{{end}}", &r), "111");
        assert!(render_err("{{range .ID}}{{end}}", &r)
            .contains("range can't iterate over 76184515c06c"));
    }

    #[test]
    fn conditionals_and_with() {
        let r = row();
        assert_eq!(
            render(r#"{{if eq .Status "running"}}up{{else}}down{{end}}"#, &r),
            "up"
        );
        assert_eq!(
            render(r#"{{if eq .Status "exited"}}up{{else}}down{{end}}"#, &r),
            "down"
        );
        let t = r#"{{if eq .Status "a"}}A{{else if eq .Status "running"}}R{{else}}X{{end}}"#;
        assert_eq!(render(t, &r), "R");
        assert_eq!(render(t, &json!({"Status": "a"})), "A");
        assert_eq!(render(t, &json!({"Status": "z"})), "X");
        assert_eq!(
            render("{{if .Empty}}y{{else}}n{{end}}{{if .Size}}y{{end}}", &r),
            "ny"
        );
        assert_eq!(
            render("{{with .Config}}{{.Cmd}}{{end}}", &r),
            "[sh -c echo <hi> & bye]"
        );
        assert_eq!(render("{{with .Empty}}x{{else}}empty{{end}}", &r), "empty");
        assert_eq!(
            render("{{with $c := .Config}}{{len $c.Cmd}}{{end}}", &r),
            "3"
        );
        assert_eq!(
            render("{{with .Nil}}x{{else with .Tag}}t={{.}}{{end}}", &r),
            "t=1"
        );
        assert_eq!(
            render(r#"{{if and .Running (eq .Tag "1")}}ok{{end}}"#, &r),
            "ok"
        );
        assert_eq!(render(r#"{{if or .Empty .Nil}}y{{else}}n{{end}}"#, &r), "n");
        assert_eq!(render(r#"{{if not .Running}}y{{else}}n{{end}}"#, &r), "n");
        // and/or return an operand and stop early: .Nope is never evaluated.
        assert_eq!(render(r#"{{or .Tag .Nope}}"#, &r), "1");
        assert_eq!(render(r#"{{and .Empty .Nope}}"#, &r), "[]");
    }

    #[test]
    fn variables() {
        let r = row();
        assert_eq!(render("{{$x := .Tag}}{{$x}}-{{$x}}", &r), "1-1");
        assert_eq!(
            render("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", &r),
            "2"
        );
        assert_eq!(render("{{$n := len .Names}}{{$n}}", &r), "3");
        assert!(render_err("{{$y}}", &r).contains("undefined variable"));
    }

    #[test]
    fn trim_markers_and_comments() {
        let r = row();
        assert_eq!(render("a  {{- .Tag -}}  b", &r), "a1b");
        assert_eq!(render("a\n\t{{- .Tag}}\n", &r), "a1\n");
        assert_eq!(
            render("{{range .Names -}}\n  {{.}}\n{{- end}}", &r),
            "webdbcache"
        );
        assert_eq!(render("x{{/* a comment }} */}}y", &r), "xy");
        assert_eq!(render("x {{- /* c */ -}} y", &r), "xy");
        // `-3` is a number, not a trim marker.
        assert_eq!(render("{{-3}}", &r), "-3");
    }

    #[test]
    fn literals_and_pipelines() {
        let r = row();
        assert_eq!(
            render(
                r#"{{"a\tb"}}|{{`raw\n`}}|{{1.5}}|{{0x1F}}|{{true}}|{{'a'}}"#,
                &r
            ),
            "a\tb|raw\\n|1.5|31|true|97"
        );
        assert_eq!(render("{{.Repository | upper}}", &r), "LOCALHOST/TINY");
        assert_eq!(
            render(r#"{{join .Names "," | printf "%q"}}"#, &r),
            r#""web,db,cache""#
        );
        assert_eq!(
            render("{{printf \"%s-%s\" (index .Names 1) (upper .Tag)}}", &r),
            "db-1"
        );
        assert_eq!(render("{{(index .Ports 1).HostPort}}", &r), "8443");
        assert_eq!(render("{{len (split \"a:b:c\" \":\")}}", &r), "3");
        assert_eq!(render(r#"{{printf "%s }} {{" "x"}}"#, &r), "x }} {{");
    }

    #[test]
    fn functions() {
        let r = row();
        assert_eq!(
            render("{{json .Config.Cmd}}", &r),
            r#"["sh","-c","echo <hi> & bye"]"#
        );
        assert_eq!(
            render("{{json .Labels}}", &r),
            r#"{"a.b":"x","app":"demo"}"#
        );
        assert_eq!(render("{{json .Nil}}", &r), "null");
        assert_eq!(render("{{json .Tag}}", &r), "\"1\"");
        assert_eq!(render(r#"{{index .Labels "a.b"}}"#, &r), "x");
        assert_eq!(render(r#"[{{index .Labels "missing"}}]"#, &r), "[]");
        assert_eq!(render(r#"{{index .Names 2}}"#, &r), "cache");
        assert_eq!(render(r#"{{index .Ports 0 "HostPort"}}"#, &r), "8080");
        assert!(render_err(r#"{{index .Names 9}}"#, &r).contains("index out of range: 9"));
        assert_eq!(
            render(r#"{{printf "%-10s|" .Repository}}"#, &r),
            "localhost/tiny|"
        );
        assert_eq!(render(r#"{{printf "%-10s|" .Tag}}"#, &r), "1         |");
        assert_eq!(
            render(
                r#"{{printf "%5.2f %d %v %q" .Ratio .Size .Names .Tag}}"#,
                &r
            ),
            " 2.50 11331 [web db cache] \"1\""
        );
        assert_eq!(render(r#"{{print "a" 1 2 "b"}}"#, &r), "a1 2b");
        assert_eq!(render(r#"{{println "a" 1}}"#, &r), "a 1\n");
        assert_eq!(
            render(
                "{{upper .Tag}}{{lower \"ABC\"}}{{title \"foo bar-baz\"}}",
                &r
            ),
            "1abcFoo Bar-Baz"
        );
        assert_eq!(render(r#"{{join .Names ","}}"#, &r), "web,db,cache");
        assert_eq!(render(r#"{{split "a,b" ","}}"#, &r), "[a b]");
        assert_eq!(
            render("{{truncate .ID 5}}|{{truncate .Tag 5}}", &r),
            "76184|1"
        );
        assert_eq!(
            render("{{len .Names}} {{len .Labels}} {{len .ID}}", &r),
            "3 2 12"
        );
        assert_eq!(render(r#"[{{pad .Tag 2 1}}]"#, &r), "[  1 ]");
        assert_eq!(
            render(r#"{{slice .ID 0 4}} {{slice .Names 1}}"#, &r),
            "7618 [db cache]"
        );
        assert_eq!(render(r#"{{html "<a&b>"}}"#, &r), "&lt;a&amp;b&gt;");
    }

    #[test]
    fn comparisons() {
        let r = row();
        assert_eq!(render(r#"{{eq .Tag "2" "1"}}"#, &r), "true");
        assert_eq!(render(r#"{{ne .Size 11331}}"#, &r), "false");
        assert_eq!(
            render(
                r#"{{lt .Size 20000}} {{le 3 3}} {{gt .Ratio 2}} {{ge "b" "a"}}"#,
                &r
            ),
            "true true true true"
        );
        assert_eq!(render(r#"{{eq .Nil nil}}"#, &r), "true");
        assert!(render_err(r#"{{eq .Tag 1}}"#, &r).contains("incompatible types for comparison"));
        assert!(render_err(r#"{{lt .Running true}}"#, &r).contains("invalid type for comparison"));
    }

    #[test]
    fn parse_errors() {
        let d = json!({});
        assert_eq!(render_err("{{.ID", &d), "template: unclosed action");
        assert_eq!(
            render_err("{{.ID}", &d),
            "template: unexpected \"}\" in operand"
        );
        assert_eq!(
            render_err("{{foo .ID}}", &d),
            "template: function \"foo\" not defined"
        );
        assert_eq!(
            render_err("{{if .A}}x", &d),
            "template: unexpected EOF in if"
        );
        assert_eq!(render_err("{{end}}", &d), "template: unexpected {{end}}");
        assert_eq!(render_err("{{else}}", &d), "template: unexpected {{else}}");
        assert_eq!(
            render_err("{{}}", &d),
            "template: missing value for command"
        );
        assert_eq!(
            render_err("{{.A |}}", &d),
            "template: missing value for command"
        );
        assert_eq!(
            render_err("{{\"abc}}", &d),
            "template: unterminated quoted string"
        );
        assert_eq!(render_err("{{/* x }}", &d), "template: unclosed comment");
        assert_eq!(
            render_err("{{break}}", &d),
            "template: {{break}} outside {{range}}"
        );
        assert_eq!(
            render_err("{{template \"x\"}}", &d),
            "template: {{template}} is not supported"
        );
        assert_eq!(render_err("{{(.A}}", &d), "template: unclosed left paren");
        assert_eq!(
            render_err("{{.A)}}", &d),
            "template: unexpected \")\" in operand"
        );
        assert!(render_err("{{.ID 1}}", &json!({"ID": "x"}))
            .contains("can't give argument to non-function .ID"));
        assert!(
            render_err("{{upper}}", &d).contains("wrong number of args for upper: want 1 got 0")
        );
    }

    #[test]
    fn field_paths_for_headers() {
        let t = Template::parse(
            "{{.ID}}\t{{.Config.Cmd}} {{if .X}}{{upper .ID}}{{end}}{{(index .L 0)}}",
        )
        .unwrap();
        let p = t.field_paths();
        assert_eq!(
            p,
            vec![
                vec!["ID".to_string()],
                vec!["Config".into(), "Cmd".into()],
                vec!["X".into()],
                vec!["L".into()]
            ]
        );
    }
}
