//! `cargo +nightly fuzz run reference`: arbitrary bytes through image references as pull, tag and the filters read them.
//! Any panic is a bug. tests/fuzz_corpora.rs replays the saved corpus
//! through the same entry point.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coracle::testing::fuzz::reference(data));
