//! Compose: multi-container applications from `compose.yaml`, in the
//! engine itself (no daemon, no socket, no second program). `loader`
//! reads and merges the files into the normalized `model::Project` (the
//! one input of every front end: `up`, `config`, a Kubernetes converter);
//! `request` turns a service into the engine's container request with
//! docker's names and labels; `up` and `ops` act on the containers, found
//! again by those labels (`members`).

mod check;
mod interpolate;
mod interrupt;
mod kube;
mod loader;
mod members;
mod merge;
pub mod model;
mod normalize;
mod ops;
mod request;
mod up;
mod values;

pub use check::start_order;
pub use interrupt::Interrupts;
pub use kube::{to_kube, KubeOptions};
pub use loader::{load, LoadOptions};
pub use members::members;
pub use ops::{
    create_oneoff, down, kill, port, removable, restart, rm, selected, start, stop, DownOptions,
    RunRequest,
};
pub use request::image_name;
pub use up::{build_service, ensure_images, up, UpOptions};
