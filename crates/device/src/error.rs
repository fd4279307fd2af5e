//! Typed errors for the device layer. Every message names the op and the shapes involved.

use std::fmt;

/// The result type of every fallible device operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A shape written the way users read it: `[2, 3, 4]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Dims(pub Vec<usize>);

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Debug for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<&[usize]> for Dims {
    fn from(s: &[usize]) -> Self {
        Dims(s.to_vec())
    }
}

/// Everything that can go wrong in `fovea-device`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two operands whose shapes cannot be combined.
    #[error("{op}: shapes {lhs} and {rhs} are incompatible: {hint}")]
    ShapeMismatch {
        /// The operation, e.g. `add` or `matmul`.
        op: &'static str,
        /// Left operand's shape.
        lhs: Dims,
        /// Right operand's shape.
        rhs: Dims,
        /// What would make them compatible.
        hint: String,
    },
    /// An argument that does not fit the operand's shape (an axis, a range, a length).
    #[error("{op}: {msg} (input shape {shape})")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong and how to fix it.
        msg: String,
        /// The input's shape.
        shape: Dims,
    },
    /// Operands that live on different devices.
    #[error(
        "{op}: operands live on different devices ({lhs} and {rhs}); move one with `to_device`"
    )]
    DeviceMismatch {
        /// The operation.
        op: &'static str,
        /// First operand's device.
        lhs: String,
        /// Second operand's device.
        rhs: String,
    },
    /// No GPU adapter could be opened.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// The GPU reported an error (out of memory, lost device, failed readback).
    #[error("GPU error: {0}")]
    Gpu(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(op: &'static str, shape: &[usize], msg: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            msg: msg.into(),
            shape: shape.into(),
        }
    }

    /// Shorthand for [`Error::ShapeMismatch`].
    pub fn mismatch(
        op: &'static str,
        lhs: &[usize],
        rhs: &[usize],
        hint: impl Into<String>,
    ) -> Self {
        Error::ShapeMismatch {
            op,
            lhs: lhs.into(),
            rhs: rhs.into(),
            hint: hint.into(),
        }
    }
}
