//! `cargo +nightly fuzz run manifest`: arbitrary bytes through manifests and indexes under every media type, and the platform choice.
//! Any panic is a bug. tests/fuzz_corpora.rs replays the saved corpus
//! through the same entry point.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coracle::testing::fuzz::manifest(data));
