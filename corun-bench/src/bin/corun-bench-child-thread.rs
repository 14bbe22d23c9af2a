//! Child binary for the `thread` runtime: runs one benchmark cell (or the
//! `conns` client) for the `corun-bench` parent, which starts it once per run.
//!
//! It references only the `thread` peer, so the linker keeps no other runtime
//! and none of the parent's harness: its baseline memory is that of a small
//! program using thread alone. Must not name any other peer module.

use std::process::ExitCode;

use corun_bench::{child, peers::thread};

fn main() -> ExitCode {
    child::main(&[("thread", thread::run)])
}
