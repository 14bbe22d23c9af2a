//! Child binary for corun's multi-core cells (`cores`, and urlfetch and
//! httpd at N cores, tuned rows included): runs one cell for the
//! `corun-bench` parent, which starts it once per run.
//!
//! It references only the `corun_cores` peer (and the `corun_rt` helpers
//! that one borrows), so the single-core child carries none of this code.
//! Must not name any other peer module.

use std::process::ExitCode;

use corun_bench::{child, peers::corun_cores};

fn main() -> ExitCode {
    child::main(&[("corun", corun_cores::run_work)])
}
