//! Typed errors of the data layer: each names the file or setting and the fix.

use std::path::PathBuf;

/// The result type of every fallible `fovea-data` call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading or batching data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file that is not what it claims to be (bad magic, short, inconsistent).
    #[error("{path}: {reason}")]
    BadFile {
        /// the file
        path: PathBuf,
        /// what is wrong with it
        reason: String,
    },
    /// A dataset that is not on this machine.
    #[error("{what} not found (looked in {searched}); fetch it with `{fix}`")]
    Missing {
        /// the dataset
        what: String,
        /// the folders searched
        searched: String,
        /// the command that fetches it
        fix: String,
    },
    /// An impossible setting (batch size 0, bad normalisation).
    #[error("{what}: {msg}")]
    Config {
        /// the setting
        what: &'static str,
        /// what is wrong and the valid range
        msg: String,
    },
    /// A download that failed or did not match its checksum.
    #[error("fetching {what}: {reason}")]
    Download {
        /// the dataset
        what: String,
        /// every mirror tried and what went wrong
        reason: String,
    },
}
