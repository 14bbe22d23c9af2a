//! Files, through a small blocking pool (being written).
