//! The httpd load generator, `corun-bench-load ADDR CONNS MILLIS
//! TIMEOUT_MILLIS`: what `wrk -t1 -c100 -d5s --latency --timeout 2s` does,
//! built in (`corun_bench::load`). The httpd cells' server process starts
//! it as its child, like it started wrk.
//!
//! It links no runtime and no peer module: the load must favour none.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(corun_bench::load::main() as u8)
}
