//! Child binary for httpd's reference row, the raw epoll loop (no runtime):
//! runs one httpd cell for the `corun-bench` parent, which starts it once
//! per run.
//!
//! It references only the `epoll_raw` module, so it links no runtime at
//! all. Must not name any peer module.

use std::process::ExitCode;

use corun_bench::{child, peers::epoll_raw};

fn main() -> ExitCode {
    child::main(&[("epoll", epoll_raw::run)])
}
