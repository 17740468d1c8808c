//! `cargo +nightly fuzz run quadlet`: arbitrary Quadlet unit files (first line the file name) through the parser and the generator.
//! Any panic is a bug. tests/fuzz_corpora.rs replays the saved corpus
//! through the same entry point.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coracle::testing::fuzz::quadlet(data));
