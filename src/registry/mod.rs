//! Moving images in and out: references and short names, the OCI
//! distribution client (pull, push, login) and image archives (save, load).

pub mod archive;
pub mod auth;
pub mod certs;
pub mod client;
pub mod login;
pub mod manifest;
pub mod parallel;
pub mod progress;
pub mod pull;
pub mod push;
pub mod push_index;
pub mod reference;
pub mod resolve;
pub mod shortnames;
