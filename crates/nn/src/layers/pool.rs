//! `MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`.

use super::{expect_nchw, in_layer};
use crate::error::Result;
use crate::module::{Geometry, LayerPath, Module};
use fovea_device::Pool2dOptions;
use fovea_graph::Tensor;

/// Max pooling over NCHW input (`nn.MaxPool2d(kernel_size)`: stride = kernel, no padding).
pub struct MaxPool2d {
    opts: Pool2dOptions,
    path: LayerPath,
}

/// Average pooling over NCHW input (`nn.AvgPool2d(kernel_size)`).
pub struct AvgPool2d {
    opts: Pool2dOptions,
    path: LayerPath,
}

macro_rules! pool_builders {
    ($ty:ident) => {
        impl $ty {
            /// A square window of `kernel_size` with stride `kernel_size`.
            pub fn new(kernel_size: usize) -> $ty {
                $ty {
                    opts: Pool2dOptions::new(kernel_size),
                    path: LayerPath::default(),
                }
            }

            /// The same pooling with square `stride`.
            pub fn stride(mut self, stride: usize) -> $ty {
                self.opts = self.opts.stride(stride);
                self
            }

            /// The same pooling with square `padding`.
            pub fn padding(mut self, padding: usize) -> $ty {
                self.opts = self.opts.padding(padding);
                self
            }

            /// The same pooling with `ceil_mode`.
            pub fn ceil_mode(mut self, on: bool) -> $ty {
                self.opts = self.opts.ceil_mode(on);
                self
            }

            /// The full pooling options.
            pub fn with_options(opts: Pool2dOptions) -> $ty {
                $ty {
                    opts,
                    path: LayerPath::default(),
                }
            }

            /// The pooling options.
            pub fn options(&self) -> Pool2dOptions {
                self.opts
            }

            fn window(&self) -> Geometry {
                Geometry::Window {
                    kernel: self.opts.kernel,
                    stride: self.opts.stride,
                    padding: self.opts.padding,
                    dilation: self.opts.dilation,
                }
            }
        }
    };
}

pool_builders!(MaxPool2d);
pool_builders!(AvgPool2d);

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        expect_nchw(&self.path, "MaxPool2d", x)?;
        x.max_pool2d(self.opts)
            .map_err(|e| in_layer(&self.path, "MaxPool2d", e))
    }
    fn type_name(&self) -> &'static str {
        "MaxPool2d"
    }
    layer_path_methods!();
    fn geometry(&self) -> Geometry {
        self.window()
    }
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        expect_nchw(&self.path, "AvgPool2d", x)?;
        x.avg_pool2d(self.opts)
            .map_err(|e| in_layer(&self.path, "AvgPool2d", e))
    }
    fn type_name(&self) -> &'static str {
        "AvgPool2d"
    }
    layer_path_methods!();
    fn geometry(&self) -> Geometry {
        self.window()
    }
}

/// Average pooling to a fixed output size (`nn.AdaptiveAvgPool2d((h, w))`), as VGG uses
/// before its classifier.
pub struct AdaptiveAvgPool2d {
    size: (usize, usize),
    path: LayerPath,
}

impl AdaptiveAvgPool2d {
    /// Pools every input to `size` (rows, columns).
    pub fn new(size: (usize, usize)) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d {
            size,
            path: LayerPath::default(),
        }
    }
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        expect_nchw(&self.path, "AdaptiveAvgPool2d", x)?;
        x.adaptive_avg_pool2d(self.size)
            .map_err(|e| in_layer(&self.path, "AdaptiveAvgPool2d", e))
    }
    fn type_name(&self) -> &'static str {
        "AdaptiveAvgPool2d"
    }
    layer_path_methods!();
    fn geometry(&self) -> Geometry {
        Geometry::Adaptive { out: self.size }
    }
}
