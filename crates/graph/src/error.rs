//! Typed errors of the autodiff layer.

/// The result type of every fallible graph operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `fovea-graph`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A device op refused its operands (shapes, devices, sizes); the message names both.
    #[error(transparent)]
    Device(#[from] fovea_device::Error),
    /// The tape cannot do what was asked (backward twice, a non-scalar root, a bad seed).
    #[error("{op}: {msg}")]
    Autograd {
        /// The operation or call, e.g. `backward`.
        op: &'static str,
        /// What is wrong and what to do.
        msg: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Autograd`].
    pub fn autograd(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Autograd {
            op,
            msg: msg.into(),
        }
    }
}
