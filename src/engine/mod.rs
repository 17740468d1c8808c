//! The engine: the one library API every front end calls — the command
//! line today; compose, Kubernetes YAML, Quadlet units and restart policies
//! next. It takes typed requests and returns typed reports, and it owns the
//! policies: which names and ids a request means, what is in use and may
//! not be removed, which process enters the user namespace for the store.
//! `cmd/` turns flags into one engine call and its report into output;
//! `runtime/`, `registry/`, `build/` and `storage/` do the work below.

pub mod commit;
pub mod containers;
pub mod events;
pub mod filter;
pub mod images;

pub mod logs;
pub mod lookup;
pub mod pods;
pub mod stats;
pub mod system;
pub mod top;
pub mod transfer;
pub mod volumes;
