//! The child side of `corun-bench`, as a library the per-runtime child
//! binaries (`src/bin/corun-bench-child-*.rs`) link: the workload
//! description and shared helpers ([`common`]), the `flood` client process
//! and its report ([`flood`]), the multi-core cells' shared pieces
//! ([`cores`]) and corun's example server under load ([`http_example`]), the
//! httpd load generator ([`load`], the `corun-bench-load` binary), the
//! child driver that runs one cell and prints its JSON line ([`child`]), and
//! one module per runtime ([`peers`]).
//!
//! Each child binary references only its own peer module, so the linker
//! leaves the other runtimes and the parent's harness (clap, tables, chart,
//! serde) out of it: a child's baseline memory is that of a small program
//! linking one runtime, as a user's program would. Multi-core cells have
//! child binaries of their own (`corun_cores`, `tokio_cores`), since all of
//! a child's code counts in its cells' peak RSS. Nothing here parses the
//! command line of the parent, formats tables or draws (`main.rs`,
//! `report.rs`, `chart.rs`, `plan.rs` are the parent binary's).
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod child;
pub mod common;
pub mod cores;
pub mod flood;
pub mod http_example;
pub mod load;
pub mod peers;
mod raw_epoll;
