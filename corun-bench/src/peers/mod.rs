//! One module per runtime under test. Each exposes
//! `run(&Work) -> Result<Outcome, String>` (tokio takes a `multi` flag) and
//! implements every workload the plan sends it, validating its own counts.
//! The multi-core cells (`Work::Cores`) of corun and tokio-mt live in
//! `corun_cores` and `tokio_cores`. `epoll_raw` is no runtime: httpd's
//! reference row, a server written straight on libc.
//!
//! Peers never print, never pick sizes and never read other peers' code.

#[cfg(feature = "corun")]
pub mod corun_cores;
#[cfg(feature = "corun")]
pub mod corun_rt;
pub mod epoll_raw;
pub mod glommio_rt;
pub mod may_rt;
pub mod monoio_rt;
pub mod smol_rt;
pub mod thread;
pub mod tokio_cores;
pub mod tokio_rt;
