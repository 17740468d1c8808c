//! Output rendering shared by every verb: Go-style templates (`--format`),
//! tables, and human-readable sizes and times.

pub mod compose;
pub mod glob;
pub mod gofmt;
pub mod human;
pub mod kube;
pub mod shell_words;
pub mod table;
pub mod template;
