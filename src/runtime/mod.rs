//! From a container spec to a running, supervised process. For now: the
//! user namespace that rootless storage work runs in.

pub mod userns;
