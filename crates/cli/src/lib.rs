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

/// A progress bar with rate and ETA (and a message, e.g. the running loss) on a terminal;
/// hidden when stderr is not one, so logs stay clean.
pub fn progress_bar(len: usize, prefix: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_prefix(prefix.to_string());
    pb
}
