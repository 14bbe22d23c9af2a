//! The `cfg(loom)` seam: the atomics of the task cell's cross-thread
//! protocol (`task::protocol`), from loom when the crate is built with
//! `--cfg loom` (the models in `task::protocol`'s tests) and from std
//! otherwise.
//!
//! Only the protocol's atomics come from here: the types of `Header::refs`
//! and `Header::remote_flags` (declared in `task::header`, built in
//! `task::raw`) and the functions of `task::protocol`. Nothing else may
//! import from this module; the rest of the crate keeps std's atomics, so
//! a loom build changes nothing but the protocol.

#[cfg(loom)]
pub(crate) use ::loom::hint::spin_loop;
#[cfg(loom)]
pub(crate) use ::loom::sync::atomic::{AtomicU8, AtomicU32, Ordering, fence};

#[cfg(not(loom))]
pub(crate) use std::hint::spin_loop;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU8, AtomicU32, Ordering, fence};
