//! The `fovea` command's library: training, evaluation, prediction, run comparison,
//! dataset download and the pictures they draw. `main.rs` only parses arguments.

pub mod compare;
pub mod datasets;
pub mod fetch;
pub mod plots;
pub mod predict;
pub mod progress;
pub mod report;
pub mod run;
pub mod train;
pub mod vis_cmd;
pub mod visualize;

/// The result type of the command's operations; errors print as one line.
pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// A progress bar with rate and ETA (and a message, e.g. the running loss) on a terminal;
/// plain lines every few seconds when stderr is not one, so logs show long work moving.
pub fn progress_bar(len: usize, prefix: &str) -> progress::Progress {
    progress::Progress::new(len, prefix)
}
