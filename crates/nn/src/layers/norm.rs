//! `BatchNorm2d`.

use super::{expect_nchw, in_layer};
use crate::error::{batch_shape, Error, Result};
use crate::module::{Geometry, LayerPath, Module};
use fovea_device::{Array, Device};
use fovea_graph::{BatchNormArgs, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};

/// Batch normalisation over the channels of NCHW input (`nn.BatchNorm2d(num_features)`):
/// affine weight 1 and bias 0, running mean 0 and variance 1, momentum 0.1, eps 1e-5.
pub struct BatchNorm2d {
    /// scale `[C]`
    pub weight: Tensor,
    /// shift `[C]`
    pub bias: Tensor,
    /// running mean `[C]` (a buffer)
    pub running_mean: Tensor,
    /// running variance `[C]`, unbiased (a buffer)
    pub running_var: Tensor,
    /// training batches seen (a buffer; saved as int64 like PyTorch)
    pub num_batches_tracked: Tensor,
    /// blend factor of the running statistics
    pub momentum: f32,
    /// added to the variance
    pub eps: f32,
    training: AtomicBool,
    path: LayerPath,
}

impl BatchNorm2d {
    /// `nn.BatchNorm2d(num_features)`.
    pub fn new(num_features: usize) -> BatchNorm2d {
        let cpu = Device::cpu();
        let make = |v: f32, shape: &[usize]| Array::full(&cpu, shape, v).expect("CPU array");
        BatchNorm2d {
            weight: Tensor::param(make(1.0, &[num_features])),
            bias: Tensor::param(make(0.0, &[num_features])),
            running_mean: Tensor::new(make(0.0, &[num_features])),
            running_var: Tensor::new(make(1.0, &[num_features])),
            num_batches_tracked: Tensor::new(make(0.0, &[])),
            momentum: 0.1,
            eps: 1e-5,
            training: AtomicBool::new(true),
            path: LayerPath::default(),
        }
    }

    /// Channels.
    pub fn num_features(&self) -> usize {
        self.weight.numel()
    }
}

impl BatchNorm2d {
    /// The forward pass, and with `relu` the ReLU after it from the same pass.
    fn run(&self, x: &Tensor, relu: bool) -> Result<(Tensor, Option<Tensor>)> {
        let ty = self.type_name();
        expect_nchw(&self.path, ty, x)?;
        let c = self.num_features();
        if x.shape()[1] != c {
            return Err(Error::Layer {
                layer: self.path.describe(ty),
                msg: format!(
                    "expects {c} channels, got {} from input of shape {}; set num_features to {}",
                    x.shape()[1],
                    batch_shape(x.shape()),
                    x.shape()[1]
                ),
            });
        }
        let training = self.is_training();
        let args = BatchNormArgs {
            weight: Some(&self.weight),
            bias: Some(&self.bias),
            running_mean: Some(&self.running_mean),
            running_var: Some(&self.running_var),
            training,
            momentum: self.momentum,
            eps: self.eps,
        };
        let (y, z) = if relu {
            x.batch_norm2d_relu(args).map(|(y, z)| (y, Some(z)))
        } else {
            x.batch_norm2d(args).map(|y| (y, None))
        }
        .map_err(|e| in_layer(&self.path, ty, e))?;
        if training {
            let n = self.num_batches_tracked.array().add_scalar(1.0)?;
            self.num_batches_tracked.set_data(n)?;
        }
        Ok((y, z))
    }
}

impl Module for BatchNorm2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.run(x, false)?.0)
    }

    fn forward_relu(&self, x: &Tensor) -> Option<Result<(Tensor, Tensor)>> {
        Some(
            self.run(x, true)
                .map(|(y, z)| (y, z.expect("asked for the ReLU"))),
        )
    }

    fn type_name(&self) -> &'static str {
        "BatchNorm2d"
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }

    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        vec![
            ("running_mean".into(), self.running_mean.clone()),
            ("running_var".into(), self.running_var.clone()),
            (
                "num_batches_tracked".into(),
                self.num_batches_tracked.clone(),
            ),
        ]
    }

    layer_path_methods!();
    fn geometry(&self) -> Geometry {
        Geometry::Pointwise
    }

    fn set_training(&self, on: bool) {
        self.training.store(on, Ordering::Relaxed);
    }

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }
}
