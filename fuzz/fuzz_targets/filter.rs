//! `cargo +nightly fuzz run filter`: arbitrary bytes through `--filter` expressions as ps, images and prune read them.
//! Any panic is a bug. tests/fuzz_corpora.rs replays the saved corpus
//! through the same entry point.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coracle::testing::fuzz::filter(data));
