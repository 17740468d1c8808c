//! `cargo +nightly fuzz run containerfile`: arbitrary bytes through the
//! Containerfile parser and everything a builder then calls on its result.
//! Any panic is a bug. (`cargo test --lib build` runs a seeded stand-in.)
#![no_main]

use coracle::testing::{expand, parse, Instruction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lookup = |n: &str| n.len().is_multiple_of(3).then(|| n.to_string());
    let _ = expand(text, &lookup);
    let Ok(file) = parse(text, "fuzz") else {
        return;
    };
    let _ = file.meta_args(&lookup);
    let _ = file.stages_for_target(None, &lookup);
    for stage in &file.stages {
        let _ = file.stages_for_target(stage.name.as_deref(), &lookup);
        for step in &stage.instructions {
            let _ = step.instruction.expand(file.escape, &lookup);
            if let Instruction::Run(run) = &step.instruction {
                let _ = run.program();
            }
        }
    }
});
