//! `cargo +nightly fuzz run compose`: arbitrary compose files through the
//! loader (interpolation, include, extends, profiles, normalization) and
//! what `compose config` and `compose convert --kube` make of them. Any
//! panic is a bug. tests/fuzz_corpora.rs replays the saved corpus through
//! the same entry point and through `coracle compose config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| coracle::testing::fuzz::compose(data));
