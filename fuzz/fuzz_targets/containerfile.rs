//! `cargo +nightly fuzz run containerfile`: arbitrary bytes through the Containerfile parser and what a builder calls on its result.
//! Any panic is a bug. tests/fuzz_corpora.rs replays the saved corpus
//! through the same entry point.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coracle::testing::fuzz::containerfile(data));
