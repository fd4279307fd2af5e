//! The layers, named and initialised as in `torch.nn`.

/// `Module::set_path` and `Module::hooks` for a layer whose `path` field is a
/// [`LayerPath`](crate::LayerPath).
macro_rules! layer_path_methods {
    () => {
        fn set_path(&self, path: &str) {
            self.path.set(path);
        }
        fn hooks(&self) -> Option<&crate::module::Hooks> {
            Some(self.path.hooks())
        }
    };
}

mod activation;
mod conv;
mod linear;
mod norm;
mod pool;
mod sequential;

pub use activation::{Dropout, Flatten, ReLU};
pub use conv::{Conv2d, Conv2dConfig};
pub use linear::Linear;
pub use norm::BatchNorm2d;
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use sequential::Sequential;

use crate::error::{batch_shape, Error};
use crate::module::LayerPath;
use fovea_graph::Tensor;

/// Wraps a tensor-op failure inside a layer so the message starts with the layer's name.
pub(crate) fn in_layer(path: &LayerPath, ty: &str, e: impl Into<Error>) -> Error {
    match e.into() {
        Error::Graph(g) => Error::Layer {
            layer: path.describe(ty),
            msg: format!("failed: {g}"),
        },
        other => other,
    }
}

/// The shape a tensor had before the flatten or reshape that made it, or its own.
pub(crate) fn source_shape(x: &Tensor) -> String {
    match x.origin() {
        Some(o) if matches!(o.op, "flatten" | "reshape") => {
            format!(
                "{} (flattened to {})",
                batch_shape(&o.input_shape),
                batch_shape(x.shape())
            )
        }
        _ => batch_shape(x.shape()),
    }
}

/// Refuses a non-NCHW input, naming the layer.
pub(crate) fn expect_nchw(path: &LayerPath, ty: &str, x: &Tensor) -> crate::Result<()> {
    if x.rank() != 4 {
        return Err(Error::Layer {
            layer: path.describe(ty),
            msg: format!(
                "expects a 4-D input [N, C, H, W], got shape {:?}; add a batch axis or reshape",
                x.shape()
            ),
        });
    }
    Ok(())
}
