//! Parameter-free layers: `ReLU`, `Dropout`, `Flatten`.

use super::in_layer;
use crate::error::{Error, Result};
use crate::init;
use crate::module::{Geometry, LayerPath, Module};
use fovea_graph::Tensor;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// `max(x, 0)` (`nn.ReLU`).
#[derive(Default)]
pub struct ReLU {
    path: LayerPath,
}

impl ReLU {
    /// `nn.ReLU()`.
    pub fn new() -> ReLU {
        ReLU::default()
    }
}

impl Module for ReLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.relu()?)
    }
    fn type_name(&self) -> &'static str {
        "ReLU"
    }
    fn is_relu(&self) -> bool {
        true
    }
    layer_path_methods!();
    fn geometry(&self) -> Geometry {
        Geometry::Pointwise
    }
}

/// Zeroes each value with probability `p` in training mode and scales the rest by
/// `1 / (1 - p)`; the identity in evaluation mode (`nn.Dropout(p)`). Each call draws a new
/// mask from a seed sequence started by the shared generator.
pub struct Dropout {
    p: f32,
    seed: AtomicU64,
    training: AtomicBool,
    path: LayerPath,
}

impl Dropout {
    /// `nn.Dropout(p)`. Panics unless `0 <= p <= 1`; see [`Dropout::try_new`].
    pub fn new(p: f32) -> Dropout {
        Self::try_new(p).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `nn.Dropout(p)`, refusing `p` outside `[0, 1]`.
    pub fn try_new(p: f32) -> Result<Dropout> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::Config {
                what: "Dropout::new",
                msg: format!("p = {p} is not a probability; use a value in [0, 1]"),
            });
        }
        Ok(Dropout {
            p,
            seed: AtomicU64::new(init::next_seed()),
            training: AtomicBool::new(true),
            path: LayerPath::default(),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.is_training() || self.p == 0.0 {
            return Ok(x.clone());
        }
        let seed = self.seed.fetch_add(1, Ordering::Relaxed);
        x.dropout(self.p, seed)
            .map_err(|e| in_layer(&self.path, "Dropout", e))
    }
    fn type_name(&self) -> &'static str {
        "Dropout"
    }
    layer_path_methods!();
    fn set_training(&self, on: bool) {
        self.training.store(on, Ordering::Relaxed);
    }
    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
    fn geometry(&self) -> Geometry {
        Geometry::Pointwise
    }
}

/// Merges axes `start_dim..=end_dim` (`nn.Flatten()`: 1 to -1, so `[N, C, H, W]` becomes
/// `[N, C*H*W]`).
pub struct Flatten {
    start_dim: isize,
    end_dim: isize,
    path: LayerPath,
}

impl Default for Flatten {
    fn default() -> Self {
        Self::new()
    }
}

impl Flatten {
    /// `nn.Flatten()`.
    pub fn new() -> Flatten {
        Self::dims(1, -1)
    }

    /// `nn.Flatten(start_dim, end_dim)`.
    pub fn dims(start_dim: isize, end_dim: isize) -> Flatten {
        Flatten {
            start_dim,
            end_dim,
            path: LayerPath::default(),
        }
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.flatten(self.start_dim, self.end_dim)
            .map_err(|e| in_layer(&self.path, "Flatten", e))
    }
    fn type_name(&self) -> &'static str {
        "Flatten"
    }
    layer_path_methods!();
}
