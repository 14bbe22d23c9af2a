//! Child binary for the `glommio` runtime: runs one benchmark cell (or the
//! `conns` client) for the `corun-bench` parent, which starts it once per run.
//!
//! It references only the `glommio_rt` peer, so the linker keeps no other runtime
//! and none of the parent's harness: its baseline memory is that of a small
//! program using glommio alone. Must not name any other peer module.

use std::process::ExitCode;

use corun_bench::{child, peers::glommio_rt};

fn main() -> ExitCode {
    child::main(&[("glommio", glommio_rt::run)])
}
