//! The engine: the one library API every front end calls — the command
//! line today; compose, Kubernetes YAML, Quadlet units and restart policies
//! next. It takes typed requests and returns typed reports, and it owns the
//! policies: which names and ids a request means, what is in use and may
//! not be removed, which process enters the user namespace for the store.
//! `cmd/` turns flags into one engine call and its report into output;
//! `runtime/`, `registry/`, `build/` and `storage/` do the work below.

pub mod build;
pub mod commit;
pub mod containers;
pub mod create;
pub mod filter;
pub mod images;

pub mod lookup;
pub mod pod_create;
pub mod pods;
pub mod system;
pub mod transfer;
pub mod volumes;
