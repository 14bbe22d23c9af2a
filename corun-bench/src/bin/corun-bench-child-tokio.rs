//! Child binary for the `tokio-ct` and `tokio-mt` runtimes: runs one
//! benchmark cell (or the `conns` client) for the `corun-bench` parent, which
//! starts it once per run.
//!
//! It references only the `tokio_rt` peer, so the linker keeps no other
//! runtime and none of the parent's harness: its baseline memory is that of a
//! small program using tokio alone. Must not name any other peer module, nor
//! `tokio_cores` (the multi-core cells have their own binary).

use std::process::ExitCode;

use corun_bench::{child, peers::tokio_rt};

fn main() -> ExitCode {
    child::main(&[
        ("tokio-ct", |w| tokio_rt::run(w, false)),
        ("tokio-mt", |w| tokio_rt::run(w, true)),
    ])
}
