//! The reports `kube play` and `kube down` print, as podman words them.

/// `kube play`: the volumes it made, then per pod its id and its
/// containers' ids.
pub fn play_report(volumes: &[String], pods: &[(String, Vec<String>)]) -> String {
    let mut out = String::new();
    if !volumes.is_empty() {
        out.push_str("Volumes:\n");
        for v in volumes {
            out.push_str(&format!("{v}\n"));
        }
    }
    for (id, containers) in pods {
        out.push_str(&format!("Pod:\n{id}\n"));
        match containers.len() {
            0 => continue,
            1 => out.push_str("Container:\n"),
            _ => out.push_str("Containers:\n"),
        }
        for c in containers {
            out.push_str(&format!("{c}\n"));
        }
        out.push('\n');
    }
    out
}

/// `kube down`: the pods stopped and removed (by id), the volumes removed.
pub fn down_report(stopped: &[String], removed: &[String], volumes: &[String]) -> String {
    let mut out = String::from("Pods stopped:\n");
    for id in stopped {
        out.push_str(&format!("{id}\n"));
    }
    out.push_str("Pods removed:\n");
    for id in removed {
        out.push_str(&format!("{id}\n"));
    }
    out.push_str("Secrets removed:\nVolumes removed:\n");
    for v in volumes {
        out.push_str(&format!("{v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports() {
        let pods = vec![
            ("p1".to_string(), vec!["c1".to_string()]),
            ("p2".to_string(), vec!["c2".to_string(), "c3".to_string()]),
        ];
        assert_eq!(
            play_report(&["v".into()], &pods),
            "Volumes:\nv\nPod:\np1\nContainer:\nc1\n\nPod:\np2\nContainers:\nc2\nc3\n\n"
        );
        assert_eq!(
            down_report(&["p".into()], &["p".into()], &[]),
            "Pods stopped:\np\nPods removed:\np\nSecrets removed:\nVolumes removed:\n"
        );
    }
}
