//! The entry point of the self-checking example programs
//! (`interop_*.rs`), shared by them through `#[path]`: runs the program's
//! demo on corun under a time bound and turns its outcome into the exit
//! status (`ok` and 0, or the error on stderr and 1).
//!
//! This file must NOT know about any one demo or touch corun internals.

use std::error::Error;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// Any error a demo reports; it is printed, never inspected.
pub type BoxError = Box<dyn Error>;

/// Runs `demo` as corun's main task, for at most `bound` (a hang is a
/// failure, not a stuck process).
pub fn run_demo<F>(name: &str, bound: Duration, demo: F) -> ExitCode
where
    F: Future<Output = Result<(), BoxError>> + 'static,
{
    match corun::run(async move { corun::timeout(bound, demo).await }) {
        Ok(Ok(())) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("{name}: did not finish within {bound:?}");
            ExitCode::FAILURE
        }
    }
}
