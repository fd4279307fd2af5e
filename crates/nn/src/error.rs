//! Typed errors of the layer kit. Each names the layer (by its `state_dict` path and class),
//! the shapes involved, and what to change.

use std::path::PathBuf;

/// The result type of every fallible `fovea-nn` call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `fovea-nn`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layer refused its input: "fc1 (Linear) expects 128 input features, got 4608 ...".
    #[error("{layer} {msg}")]
    Layer {
        /// the layer's path and class, e.g. `fc1 (Linear)`
        layer: String,
        /// what it expected, what it got, and the fix
        msg: String,
    },
    /// A layer's constructor or an optimizer got an impossible setting.
    #[error("{what}: {msg}")]
    Config {
        /// the constructor, e.g. `Conv2d::new`
        what: &'static str,
        /// what is wrong and the valid range
        msg: String,
    },
    /// A tensor op failed (shapes, devices, autograd).
    #[error(transparent)]
    Graph(#[from] fovea_graph::Error),
    /// A checkpoint could not be read or written.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint {
        /// the file
        path: PathBuf,
        /// why (truncated, corrupt header, unsupported dtype, I/O error)
        msg: String,
    },
    /// A state dict does not fit the module; every mismatch is listed.
    #[error("{0}")]
    StateDict(#[from] StateDictMismatch),
    /// The forward pass stopped early at a hook, with that layer's output; only
    /// [`ModuleExt::forward_until`](crate::ModuleExt::forward_until) sees it.
    #[doc(hidden)]
    #[error("the forward pass stopped at a hook")]
    Stopped(fovea_graph::Tensor),
}

impl From<fovea_device::Error> for Error {
    fn from(e: fovea_device::Error) -> Self {
        Error::Graph(e.into())
    }
}

/// Everything wrong between a state dict and a module, found in one pass.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StateDictMismatch {
    /// where the state came from (a path, or `state dict`)
    pub source: String,
    /// names the module has and the state lacks
    pub missing: Vec<String>,
    /// names the state has and the module lacks
    pub unexpected: Vec<String>,
    /// `(name, the module's shape, the state's shape)`
    pub wrong_shape: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl StateDictMismatch {
    /// Whether nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.wrong_shape.is_empty()
    }
}

impl std::fmt::Display for StateDictMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} does not fit the module:", self.source)?;
        if !self.missing.is_empty() {
            write!(f, " missing keys [{}];", self.missing.join(", "))?;
        }
        if !self.unexpected.is_empty() {
            write!(f, " unexpected keys [{}];", self.unexpected.join(", "))?;
        }
        for (name, want, got) in &self.wrong_shape {
            write!(
                f,
                " {name} has shape {got:?} in the file but {want:?} in the module;"
            )?;
        }
        write!(
            f,
            " check that the file was saved from the same architecture (load non-strict to skip missing and unexpected keys)"
        )
    }
}

impl std::error::Error for StateDictMismatch {}

/// A shape with its batch axis written `N`: `[N, 32, 12, 12]`.
pub fn batch_shape(shape: &[usize]) -> String {
    let mut parts: Vec<String> = shape.iter().map(usize::to_string).collect();
    if let Some(first) = parts.first_mut() {
        *first = "N".into();
    }
    format!("[{}]", parts.join(", "))
}
