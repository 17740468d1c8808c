//! The command line: flags in, library calls, output out.

pub fn main() -> i32 {
    0
}
