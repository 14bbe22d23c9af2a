//! Child binary for the `monoio` runtime: runs one benchmark cell (or the
//! `conns` client) for the `corun-bench` parent, which starts it once per run.
//!
//! It references only the `monoio_rt` peer, so the linker keeps no other runtime
//! and none of the parent's harness: its baseline memory is that of a small
//! program using monoio alone. Must not name any other peer module.

use std::process::ExitCode;

use corun_bench::{child, peers::monoio_rt};

fn main() -> ExitCode {
    child::main(&[("monoio", monoio_rt::run)])
}
