//! Image references, short-name resolution, the OCI distribution client, pull and push.

pub mod auth;
pub mod client;
pub mod login;
pub mod manifest;
pub mod parallel;
pub mod progress;
pub mod pull;
pub mod push;
pub mod reference;
pub mod resolve;
pub mod shortnames;
