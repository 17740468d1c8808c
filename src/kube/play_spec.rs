//! A container's `securityContext`, `resources` and `livenessProbe` read
//! into `kube play`'s plan, in the units run's flags take.

use super::model::{Probe, Quantity, Resources, SecurityContext};
use anyhow::{bail, Result};

/// `securityContext`, as run's flags see it.
#[derive(Debug, Default, PartialEq)]
pub struct SecurityPlan {
    /// `UID[:GID]` (`--user`).
    pub user: Option<String>,
    pub read_only: bool,
    pub privileged: bool,
    /// allowPrivilegeEscalation: false (`no-new-privileges`).
    pub no_new_privileges: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
}

/// `resources`: limits.memory and requests.memory in bytes, limits.cpu in CPUs.
#[derive(Debug, Default, PartialEq)]
pub struct LimitsPlan {
    pub memory: Option<u64>,
    pub memory_reservation: Option<u64>,
    pub cpus: Option<f64>,
}

/// An exec `livenessProbe` as a healthcheck.
#[derive(Debug, Default, PartialEq)]
pub struct HealthPlan {
    pub command: Vec<String>,
    pub interval_seconds: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub retries: Option<u32>,
    pub start_period_seconds: Option<u32>,
}

/// The container's security settings, the pod's user and group under
/// them (Kubernetes: the container's win).
pub fn security(c: Option<&SecurityContext>, pod: Option<&SecurityContext>) -> SecurityPlan {
    let none = SecurityContext::default();
    let c = c.unwrap_or(&none);
    let pod = pod.unwrap_or(&none);
    let uid = c.run_as_user.or(pod.run_as_user);
    let gid = c.run_as_group.or(pod.run_as_group);
    let user = match (uid, gid) {
        (Some(u), Some(g)) => Some(format!("{u}:{g}")),
        (Some(u), None) => Some(u.to_string()),
        // a group alone: root's user, as Kubernetes runs it
        (None, Some(g)) => Some(format!("0:{g}")),
        (None, None) => None,
    };
    let caps = c.capabilities.clone().unwrap_or_default();
    SecurityPlan {
        user,
        read_only: c.read_only_root_filesystem == Some(true),
        privileged: c.privileged == Some(true),
        no_new_privileges: c.allow_privilege_escalation == Some(false),
        cap_add: caps.add,
        cap_drop: caps.drop,
    }
}

/// `resources`: the memory limit and request and the CPU limit; other
/// resources (devices, ephemeral storage) are refused by name.
pub fn limits(r: Option<&Resources>, what: &str) -> Result<LimitsPlan> {
    let Some(r) = r else {
        return Ok(LimitsPlan::default());
    };
    let mut out = LimitsPlan::default();
    for (k, v) in &r.limits {
        match k.as_str() {
            "memory" => out.memory = Some(bytes(v, what)?),
            "cpu" => out.cpus = Some(cpus(v, what)?),
            other => bail!("{what}: resources.limits.{other} is not supported: use memory or cpu"),
        }
    }
    for (k, v) in &r.requests {
        match k.as_str() {
            "memory" => out.memory_reservation = Some(bytes(v, what)?),
            // a CPU request reserves nothing on a single host
            "cpu" => {
                cpus(v, what)?;
            }
            other => {
                bail!("{what}: resources.requests.{other} is not supported: use memory or cpu")
            }
        }
    }
    Ok(out)
}

/// The number and the multiplier of a Kubernetes quantity (`128Mi`, `1G`,
/// `500m`, `2`).
fn quantity(q: &Quantity, what: &str) -> Result<f64> {
    let text = q.text();
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => bail!("{what}: invalid quantity {t:?}"),
    };
    match num.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n * mult),
        _ => bail!("{what}: invalid quantity {t:?}: a positive number, optionally with a suffix such as Mi or m"),
    }
}

fn bytes(q: &Quantity, what: &str) -> Result<u64> {
    let b = quantity(q, what)?.ceil() as u64;
    if b < 6 * 1024 * 1024 {
        bail!("{what}: memory {:?} is below the minimum of 6MiB", q.text());
    }
    Ok(b)
}

fn cpus(q: &Quantity, what: &str) -> Result<f64> {
    let c = quantity(q, what)?;
    if c < 0.01 {
        bail!("{what}: cpu {:?} is below the minimum of 10m", q.text());
    }
    Ok(c)
}

/// An `exec` liveness probe as the container's healthcheck; httpGet,
/// tcpSocket and grpc probes are refused by name.
pub fn health(p: Option<&Probe>, what: &str) -> Result<Option<HealthPlan>> {
    let Some(p) = p else { return Ok(None) };
    let kind = if p.http_get.is_some() {
        Some("httpGet")
    } else if p.tcp_socket.is_some() {
        Some("tcpSocket")
    } else if p.grpc.is_some() {
        Some("grpc")
    } else {
        None
    };
    if let Some(k) = kind {
        bail!("{what}: livenessProbe {k} is not supported: use exec");
    }
    let command = p
        .exec
        .as_ref()
        .map(|e| e.command.clone())
        .unwrap_or_default();
    if command.is_empty() {
        bail!("{what}: livenessProbe has no exec command");
    }
    Ok(Some(HealthPlan {
        command,
        interval_seconds: p.period_seconds,
        timeout_seconds: p.timeout_seconds,
        retries: p.failure_threshold,
        start_period_seconds: p.initial_delay_seconds,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::model::{Capabilities, ExecAction};
    use std::collections::BTreeMap;

    fn q(s: &str) -> Quantity {
        Quantity::Text(s.into())
    }

    #[test]
    fn quantities() {
        let w = "c";
        assert_eq!(bytes(&q("128Mi"), w).unwrap(), 128 << 20);
        assert_eq!(bytes(&q("1G"), w).unwrap(), 1_000_000_000);
        assert_eq!(bytes(&Quantity::Number(67108864.0), w).unwrap(), 64 << 20);
        assert!(bytes(&q("1Ki"), w).is_err());
        assert!(bytes(&q("12XB"), w).is_err());
        assert_eq!(cpus(&q("500m"), w).unwrap(), 0.5);
        assert_eq!(cpus(&Quantity::Number(2.0), w).unwrap(), 2.0);
        assert!(cpus(&q("-1"), w).is_err());
        let r = Resources {
            limits: BTreeMap::from([("nvidia.com/gpu".into(), q("1"))]),
            ..Default::default()
        };
        assert!(limits(Some(&r), w)
            .unwrap_err()
            .to_string()
            .contains("nvidia.com/gpu"));
    }

    #[test]
    fn security_context_merges_the_pods_user() {
        let pod = SecurityContext {
            run_as_user: Some(1000),
            run_as_group: Some(100),
            ..Default::default()
        };
        let c = SecurityContext {
            run_as_user: Some(33),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                add: vec!["NET_ADMIN".into()],
                drop: vec!["ALL".into()],
            }),
            ..Default::default()
        };
        let s = security(Some(&c), Some(&pod));
        assert_eq!(s.user.as_deref(), Some("33:100"));
        assert!(s.read_only && s.no_new_privileges && !s.privileged);
        assert_eq!(s.cap_drop, ["ALL"]);
        assert_eq!(security(None, None), SecurityPlan::default());
    }

    #[test]
    fn only_exec_probes() {
        let p = Probe {
            exec: Some(ExecAction {
                command: vec!["true".into()],
            }),
            period_seconds: Some(5),
            ..Default::default()
        };
        let h = health(Some(&p), "c").unwrap().unwrap();
        assert_eq!(h.command, ["true"]);
        assert_eq!(h.interval_seconds, Some(5));
        let http = Probe {
            http_get: Some(serde_yaml_ng::Value::Null),
            ..Default::default()
        };
        assert!(health(Some(&http), "c")
            .unwrap_err()
            .to_string()
            .contains("httpGet"));
    }
}
