//! `Conv2d`.

use super::{expect_nchw, in_layer};
use crate::error::{batch_shape, Error, Result};
use crate::init;
use crate::module::{Geometry, LayerPath, Module};
use fovea_device::Conv2dOptions;
use fovea_graph::Tensor;

/// `nn.Conv2d`'s keyword arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// step between output positions
    pub stride: usize,
    /// zeros added on each side
    pub padding: usize,
    /// spacing between kernel taps
    pub dilation: usize,
    /// channel groups
    pub groups: usize,
    /// whether there is a bias
    pub bias: bool,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
            bias: true,
        }
    }
}

/// A 2-D convolution over NCHW input (`nn.Conv2d`): weight `[out, in / groups, k, k]`,
/// bias `[out]`, both Kaiming-uniform initialised like PyTorch.
pub struct Conv2d {
    /// `[out_channels, in_channels / groups, k, k]`
    pub weight: Tensor,
    /// `[out_channels]`, if any
    pub bias: Option<Tensor>,
    opts: Conv2dOptions,
    path: LayerPath,
}

impl Conv2d {
    /// `nn.Conv2d(in_channels, out_channels, kernel_size)`: stride 1, no padding, a bias.
    /// Panics on zero sizes; see [`Conv2d::with`] for a fallible constructor with options.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Conv2d {
        Self::with(
            in_channels,
            out_channels,
            kernel_size,
            Conv2dConfig::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `nn.Conv2d` with every keyword argument.
    pub fn with(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        cfg: Conv2dConfig,
    ) -> Result<Conv2d> {
        let ok = in_channels > 0
            && out_channels > 0
            && kernel_size > 0
            && cfg.stride > 0
            && cfg.dilation > 0
            && cfg.groups > 0
            && in_channels.is_multiple_of(cfg.groups)
            && out_channels.is_multiple_of(cfg.groups);
        if !ok {
            return Err(Error::Config {
                what: "Conv2d::with",
                msg: format!(
                    "in {in_channels}, out {out_channels}, kernel {kernel_size}, {cfg:?}: sizes, stride, dilation and groups must be positive and both channel counts divisible by groups"
                ),
            });
        }
        let shape = [
            out_channels,
            in_channels / cfg.groups,
            kernel_size,
            kernel_size,
        ];
        let weight = Tensor::param(init::kaiming_uniform(&shape)?);
        let fan_in = shape[1] * kernel_size * kernel_size;
        let bias = match cfg.bias {
            true => Some(Tensor::param(init::bias_uniform(out_channels, fan_in)?)),
            false => None,
        };
        let opts = Conv2dOptions::new(cfg.stride, cfg.padding, cfg.dilation).groups(cfg.groups);
        Ok(Conv2d {
            weight,
            bias,
            opts,
            path: LayerPath::default(),
        })
    }

    /// The same layer with square `padding`.
    pub fn padding(mut self, padding: usize) -> Self {
        self.opts.padding = (padding, padding);
        self
    }

    /// The same layer with a square `stride`.
    pub fn stride(mut self, stride: usize) -> Self {
        self.opts.stride = (stride, stride);
        self
    }

    /// The convolution's stride, padding, dilation and groups.
    pub fn options(&self) -> Conv2dOptions {
        self.opts
    }

    fn check(&self, x: &Tensor) -> Result<()> {
        let ty = self.type_name();
        expect_nchw(&self.path, ty, x)?;
        let want = self.weight.shape()[1] * self.opts.groups;
        if x.shape()[1] != want {
            return Err(Error::Layer {
                layer: self.path.describe(ty),
                msg: format!(
                    "expects {want} input channels, got {} from input of shape {}; set in_channels to {} or change the layer before it",
                    x.shape()[1],
                    batch_shape(x.shape()),
                    x.shape()[1]
                ),
            });
        }
        Ok(())
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.check(x)?;
        x.conv2d(&self.weight, self.bias.as_ref(), self.opts)
            .map_err(|e| in_layer(&self.path, self.type_name(), e))
    }

    fn forward_relu(&self, x: &Tensor) -> Option<Result<(Tensor, Tensor)>> {
        let run = || {
            self.check(x)?;
            x.conv2d_relu(&self.weight, self.bias.as_ref(), self.opts)
                .map_err(|e| in_layer(&self.path, self.type_name(), e))
        };
        Some(run())
    }

    fn type_name(&self) -> &'static str {
        "Conv2d"
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        out.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        out
    }

    layer_path_methods!();
    fn geometry(&self) -> Geometry {
        let k = self.weight.shape();
        Geometry::Window {
            kernel: (k[2], k[3]),
            stride: self.opts.stride,
            padding: self.opts.padding,
            dilation: self.opts.dilation,
        }
    }
}
