//! corun
