//! Errors of the visualizations: each names the technique, what was wrong and the fix.

/// The result type of every fallible `fovea-vis` call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong visualizing a net.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad setting or a layer the model does not have.
    #[error("{what}: {msg}")]
    Config {
        /// the technique or setting
        what: &'static str,
        /// what is wrong and how to fix it
        msg: String,
    },
    /// The layer kit refused something.
    #[error(transparent)]
    Nn(#[from] fovea_nn::Error),
    /// The autodiff tape refused something.
    #[error(transparent)]
    Graph(#[from] fovea_graph::Error),
    /// The device refused something.
    #[error(transparent)]
    Device(#[from] fovea_device::Error),
    /// A picture could not be written.
    #[error("{path}: cannot write the picture: {msg}")]
    Write {
        /// the file
        path: std::path::PathBuf,
        /// why
        msg: String,
    },
}

/// A configuration error.
pub(crate) fn config(what: &'static str, msg: impl Into<String>) -> Error {
    Error::Config {
        what,
        msg: msg.into(),
    }
}
