//! The library behind the `fovea` command, so tests can drive training without a shell.

pub mod plots;
pub mod train;
