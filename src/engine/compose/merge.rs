//! Merging compose files as the specification says: later files override
//! earlier ones key by key; lists of ports, capabilities and the like add
//! up; volumes are merged by target and secrets by source; `command` and
//! `entrypoint` are replaced. Short forms are made mappings first so a
//! list in one file merges with a mapping in another.

use serde_yaml_ng::{Mapping, Value};

/// Service keys whose list form is `K=V` items, merged as mappings.
const KV_LISTS: &[&str] = &["environment", "labels", "annotations", "sysctls"];

/// A service's value with the forms that merge by key made mappings.
pub fn canonical_service(v: &mut Value) {
    let Value::Mapping(m) = v else { return };
    for key in KV_LISTS {
        if let Some(x) = m.get_mut(*key) {
            kv_to_mapping(x);
        }
    }
    if let Some(Value::String(ctx)) = m.get("build") {
        let mut b = Mapping::new();
        b.insert("context".into(), Value::String(ctx.clone()));
        m.insert("build".into(), Value::Mapping(b));
    }
    if let Some(Value::Mapping(b)) = m.get_mut("build") {
        if let Some(args) = b.get_mut("args") {
            kv_to_mapping(args);
        }
    }
    for key in ["depends_on", "networks"] {
        if let Some(Value::Sequence(items)) = m.get(key) {
            let mut out = Mapping::new();
            for i in items {
                let entry = if key == "depends_on" {
                    let mut d = Mapping::new();
                    d.insert("condition".into(), "service_started".into());
                    Value::Mapping(d)
                } else {
                    Value::Null
                };
                out.insert(i.clone(), entry);
            }
            m.insert(key.into(), Value::Mapping(out));
        }
    }
}

fn kv_to_mapping(v: &mut Value) {
    let Value::Sequence(items) = v else { return };
    let mut out = Mapping::new();
    for i in items.iter() {
        match i.as_str() {
            Some(s) => match s.split_once('=') {
                Some((k, val)) => out.insert(k.into(), val.into()),
                None => out.insert(s.into(), Value::Null),
            },
            None => out.insert(i.clone(), Value::Null),
        };
    }
    *v = Value::Mapping(out);
}

/// Merge `over` into `base`; `path` is where we are (`services.web.ports`).
pub fn merge(base: &mut Value, over: Value, path: &[String]) {
    let depth = path.len();
    let in_service = depth >= 3 && path[0] == "services";
    let field = path.last().map(String::as_str).unwrap_or("");
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                let key = k.as_str().unwrap_or_default().to_string();
                match b.get_mut(&k) {
                    Some(existing) => {
                        let mut p = path.to_vec();
                        p.push(key);
                        merge(existing, v, &p);
                    }
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(o))
            if in_service && depth == 3 && !matches!(field, "command" | "entrypoint") =>
        {
            match field {
                "volumes" => merge_by(b, o, "target", volume_target),
                "secrets" | "configs" => merge_by(b, o, "source", |v| v.as_str().map(String::from)),
                _ => {
                    for item in o {
                        if !b.contains(&item) {
                            b.push(item);
                        }
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// The target of a short-syntax volume (`src:/data:ro` -> `/data`).
fn volume_target(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    let parts: Vec<&str> = s.split(':').collect();
    Some(
        match parts.len() {
            1 => parts[0],
            _ => parts[1],
        }
        .to_string(),
    )
}

/// Merge list `o` into `b`, an item replacing the one with the same key.
fn merge_by(b: &mut Vec<Value>, o: Vec<Value>, field: &str, short: fn(&Value) -> Option<String>) {
    let key = |v: &Value| match v {
        Value::Mapping(m) => m.get(field).and_then(|x| x.as_str()).map(String::from),
        _ => short(v),
    };
    for item in o {
        let k = key(&item);
        match b.iter_mut().find(|x| k.is_some() && key(x) == k) {
            Some(slot) => *slot = item,
            None => b.push(item),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn overrides_merge_as_the_spec_says() {
        let mut base = yaml(
            "services:\n  web:\n    image: a\n    command: [x, y]\n    ports: ['80']\n    volumes: ['d:/data', '/x']\n    environment: [A=1, B=2]\n",
        );
        let mut over = yaml(
            "services:\n  web:\n    image: b\n    command: [z]\n    ports: ['81']\n    volumes: ['e:/data:ro']\n    environment: {B: 3}\n",
        );
        for v in [&mut base, &mut over] {
            canonical_service(&mut v["services"]["web"]);
        }
        merge(&mut base, over, &[]);
        let web = &base["services"]["web"];
        assert_eq!(web["image"], yaml("b"));
        assert_eq!(web["command"], yaml("[z]"));
        assert_eq!(web["ports"], yaml("['80', '81']"));
        assert_eq!(web["volumes"], yaml("['e:/data:ro', '/x']"));
        assert_eq!(web["environment"], yaml("{A: '1', B: 3}"));
    }
}
