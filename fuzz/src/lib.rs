//! Fuzzing on stable Rust, with the corpus in the repository.
//!
//! Three targets ([`TARGETS`]): `names` (both port-name grammars), `rings`
//! (ring states an application can write, on the software engine), `regs`
//! (BAR0, BAR2, doorbells and host memory of the RTL in Verilator). The
//! mutator ([`mutate`]) is libFuzzer's without coverage feedback: it starts
//! from the committed corpus (`corpus/<target>/`), whose every file is also
//! replayed as a regression test. A failing input is written there as
//! `crash-<hash>`.
//!
//! A fourth, `nmreq` (control requests), lives in `netmap-preload`'s unit
//! tests, with its corpus in `corpus/nmreq/`.
//!
//! `cargo test -p netmap-fuzz` replays the corpus and fuzzes each target
//! for `NETMAP_FUZZ_SECONDS` (default 3); `scripts/fuzz TARGET SECONDS`
//! runs one target longer (release build).

pub mod input;
pub mod mutate;
pub mod names;
pub mod regs;
pub mod rings;
pub mod rng;
pub mod runner;

use runner::Target;

/// The targets, by name.
pub const TARGETS: &[&str] = &["names", "rings", "regs"];

/// A target by name.
pub fn target(name: &str) -> Option<Box<dyn Target>> {
    match name {
        "names" => Some(Box::new(names::Names)),
        "rings" => Some(Box::new(rings::Rings::new())),
        "regs" => Some(Box::new(regs::Regs)),
        _ => None,
    }
}
