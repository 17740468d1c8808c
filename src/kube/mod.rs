//! Kubernetes YAML, text in and text out (`kube generate`, `kube play`):
//! the objects (`model`), names made valid (`names`), a description of
//! pods to YAML (`generate`), and YAML to a plan of pods, containers and
//! volumes (`play`, with `play_spec` for a container's security, limits
//! and probe). Like `quadlet`, it touches no store: `engine/kube.rs`
//! gathers the records and carries plans out.

pub mod generate;
pub mod model;
pub mod names;
pub mod play;
pub mod play_spec;
