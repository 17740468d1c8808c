//! `cargo +nightly fuzz run image_config`: arbitrary bytes through image configurations.
//! Any panic is a bug. tests/fuzz_corpora.rs replays the saved corpus
//! through the same entry point.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coracle::testing::fuzz::image_config(data));
