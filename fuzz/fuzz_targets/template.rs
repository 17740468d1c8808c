//! `cargo +nightly fuzz run template`: arbitrary bytes through `--format` templates rendered against records.
//! Any panic is a bug. tests/fuzz_corpora.rs replays the saved corpus
//! through the same entry point.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coracle::testing::fuzz::template(data));
