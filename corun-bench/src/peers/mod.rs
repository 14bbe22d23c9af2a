//! One module per runtime under test. Each exposes
//! `run(&Work) -> Result<Outcome, String>` (tokio takes a `multi` flag) and
//! implements every workload the plan sends it, validating its own counts.
//!
//! Peers never print, never pick sizes and never read other peers' code.

#[cfg(feature = "corun")]
pub mod corun_rt;
pub mod may_rt;
pub mod smol_rt;
pub mod thread;
pub mod tokio_rt;
