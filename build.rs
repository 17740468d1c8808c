//! Link the coracle binary as a position-dependent executable.
//!
//! Each running container keeps one monitor process alive, a fork of the CLI.
//! In a PIE the loader must relocate `.data.rel.ro` at start, turning ~400 KiB
//! of it into private dirty pages every monitor carries for its whole life;
//! at a fixed address those pages stay clean file pages the monitor can drop.
//! (Heap, stack and libraries are still randomised.)
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
