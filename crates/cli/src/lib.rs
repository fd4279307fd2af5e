//! The `fovea` command's library: training, evaluation, prediction, run comparison,
//! dataset download and the pictures they draw. `main.rs` only parses arguments.

pub mod compare;
pub mod datasets;
pub mod fetch;
pub mod plots;
pub mod predict;
pub mod report;
pub mod run;
pub mod train;
pub mod vis_cmd;
pub mod visualize;

/// The result type of the command's operations; errors print as one line.
pub type Res<T> = Result<T, Box<dyn std::error::Error>>;
