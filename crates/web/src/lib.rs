//! # fovea-web
//!
//! Fovea in a web page or a Web Worker. The Rust core here is plain async Rust that also
//! builds natively (so it is tested against the `fovea` command); on wasm32 the
//! [`bindings`] module wraps it for JavaScript with wasm-bindgen, every call that reads the
//! GPU returning a Promise (see ARCHITECTURE.md, "Host reads").
//!
//! - [`session`]: open WebGPU with the adapter's own limits, or the CPU backend and why.
//! - [`data`]: datasets from bytes: MNIST-format IDX files (gzipped or not) and images.
//! - [`classifier`]: a model with its classes and normalisation: prediction, evaluation
//!   with the confusion matrix, checkpoints as bytes (`fovea train`'s `run.json` format).
//! - [`trainer`]: one step or one epoch at a time with SGD, Adam or AdamW and the LR
//!   schedules of `fovea train`.
//! - [`explain`]: every fovea-vis technique, as values and RGBA pictures.
//! - [`run`]: the run description (`run.json`), shared with `fovea train`.

pub mod classifier;
mod clock;
pub mod data;
pub mod explain;
pub mod session;
pub mod trainer;

#[cfg(target_arch = "wasm32")]
pub mod bindings;

pub use classifier::{Classifier, Evaluation};
pub use data::Dataset;
pub use fovea_models::run::{self, RunDescription};
pub use session::{Session, Want};
pub use trainer::{StepReport, TrainSettings, Trainer};

/// Errors of the browser API: one sentence naming the setting, file or layer and the fix.
pub type Error = String;
/// `Result` with a readable error.
pub type Result<T> = std::result::Result<T, Error>;

/// Turns any displayable error into the API's error text.
pub(crate) fn err(e: impl std::fmt::Display) -> Error {
    e.to_string()
}
