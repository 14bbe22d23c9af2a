//! Child binary for tokio-mt's multi-core cells (`cores`, and urlfetch and
//! httpd at N cores): runs one cell for the `corun-bench` parent, which
//! starts it once per run.
//!
//! It references only the `tokio_cores` peer (and the `tokio_rt` helpers
//! that one borrows), so the single-core tokio child carries none of this
//! code. Must not name any other peer module.

use std::process::ExitCode;

use corun_bench::{child, peers::tokio_cores};

fn main() -> ExitCode {
    child::main(&[
        ("tokio-ct", |w| tokio_cores::run_work(w, false)),
        ("tokio-mt", |w| tokio_cores::run_work(w, true)),
    ])
}
