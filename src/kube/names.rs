//! Names Kubernetes accepts. Object, container, volume and port names are
//! RFC 1123 labels: lowercase letters, digits and '-', at most 63, starting
//! and ending with a letter or digit. Container names in coracle allow
//! capitals, '_' and '.', and can be longer: generated names are made valid
//! here instead of failing at `kubectl apply` (podman only drops '_').

/// The most a label may hold.
pub const MAX_LABEL: usize = 63;

/// `name` as a valid label ending in `suffix` (which must itself be
/// valid): other characters become '-', runs of '-' one, the name cut so
/// the whole fits. `fallback` stands for a name with nothing valid in it.
pub fn label_with_suffix(name: &str, suffix: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.truncate(MAX_LABEL.saturating_sub(suffix.len()));
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out = fallback.to_string();
    }
    out + suffix
}

/// `name` as a valid label.
pub fn label(name: &str) -> String {
    label_with_suffix(name, "", "unnamed")
}

/// Whether `name` is a valid label as it is.
pub fn is_label(name: &str) -> bool {
    !name.is_empty() && label(name) == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_labels() {
        assert_eq!(label("My_Web.App"), "my-web-app");
        assert_eq!(label("__x__"), "x");
        assert_eq!(label("a--b"), "a-b");
        assert_eq!(label("___"), "unnamed");
        let long = "A".repeat(100);
        assert_eq!(label(&long).len(), 63);
        assert_eq!(label_with_suffix(&long, "-pvc", "v").len(), 63);
        assert!(label_with_suffix(&long, "-pvc", "v").ends_with("a-pvc"));
        let edge = format!("{}_b", "a".repeat(62));
        assert_eq!(label(&edge), "a".repeat(62));
        assert!(is_label("web-1"));
        assert!(!is_label("Web"));
        assert!(!is_label("-web"));
    }
}
