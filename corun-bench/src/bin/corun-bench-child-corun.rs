//! Child binary for the `corun` runtime: runs one single-core benchmark cell
//! (or the `conns` client) for the `corun-bench` parent, which starts it once
//! per run.
//!
//! It references only the `corun_rt` peer, so the linker keeps no other runtime
//! and none of the parent's harness: its baseline memory is that of a small
//! program using corun alone. Must not name any other peer module, nor
//! `corun_cores` (the multi-core cells have their own binary: all of a
//! child's code is resident, see `corun-bench/Cargo.toml`).

use std::process::ExitCode;

use corun_bench::{child, peers::corun_rt};

fn main() -> ExitCode {
    child::main(&[("corun", corun_rt::run)])
}
