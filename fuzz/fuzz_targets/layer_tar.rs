//! `cargo +nightly fuzz run layer_tar`: arbitrary bytes through a layer tar (compressed or not) unpacked into a fresh directory.
//! Any panic is a bug. tests/fuzz_corpora.rs replays the saved corpus
//! through the same entry point.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coracle::testing::fuzz::layer_tar(data));
