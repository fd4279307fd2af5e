//! 2-D convolution on [`Array`]s: options, shape checks, and the three directions.
//!
//! Forward is an implicit GEMM or im2col + matmul on the GPU ([`ConvAlgo`], chosen when the
//! device opens), a direct im2col + GEMM on the CPU; backward data and backward weight are
//! the two other GEMMs of the same geometry. Kernels: `shaders/conv2d/*.wgsl`.

mod cpu;
pub(crate) mod gpu;
mod gpu_im2col;

pub use gpu_im2col::ConvAlgo;

use crate::array::Array;
use crate::device::Backend;
use crate::error::{Error, Result};

/// `torch.nn.functional.conv2d`'s attributes: stride, zero padding, dilation (rows, columns)
/// and channel groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dOptions {
    /// step between output positions
    pub stride: (usize, usize),
    /// zeros added on each side
    pub padding: (usize, usize),
    /// spacing between kernel taps
    pub dilation: (usize, usize),
    /// channel groups (input and output channels must both divide by it)
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Self {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

impl Conv2dOptions {
    /// Square stride, padding and dilation, one group.
    pub fn new(stride: usize, padding: usize, dilation: usize) -> Self {
        Self {
            stride: (stride, stride),
            padding: (padding, padding),
            dilation: (dilation, dilation),
            groups: 1,
        }
    }

    /// The same options with `groups` channel groups.
    pub fn groups(self, groups: usize) -> Self {
        Self { groups, ..self }
    }

    /// Output size along one axis, if the dilated kernel fits the padded input.
    fn out_len(size: usize, k: usize, stride: usize, pad: usize, dil: usize) -> Option<usize> {
        let span = dil * (k - 1) + 1;
        (size + 2 * pad).checked_sub(span).map(|r| r / stride + 1)
    }

    /// Validates input `[N, C_in, H, W]` against weight `[C_out, C_in / groups, KH, KW]`.
    pub fn geometry(&self, x: &[usize], w: &[usize]) -> Result<Conv2dGeom> {
        const OP: &str = "conv2d";
        if x.len() != 4 || w.len() != 4 {
            return Err(Error::mismatch(
                OP,
                x,
                w,
                "input must be [N, C_in, H, W] and weight [C_out, C_in / groups, KH, KW]",
            ));
        }
        let o = self;
        if o.stride.0 == 0
            || o.stride.1 == 0
            || o.dilation.0 == 0
            || o.dilation.1 == 0
            || o.groups == 0
        {
            return Err(Error::invalid(
                OP,
                x,
                format!(
                    "stride {:?}, dilation {:?} and groups {} must be at least 1",
                    o.stride, o.dilation, o.groups
                ),
            ));
        }
        let (c_in, c_out) = (x[1], w[0]);
        if c_in % o.groups != 0 || c_out % o.groups != 0 || w[1] * o.groups != c_in {
            return Err(Error::mismatch(
                OP,
                x,
                w,
                format!(
                    "with {} groups the weight needs [C_out, {}, KH, KW] and C_out divisible by {}",
                    o.groups,
                    c_in / o.groups.max(1),
                    o.groups
                ),
            ));
        }
        let (kh, kw) = (w[2], w[3]);
        let oh = Self::out_len(x[2], kh, o.stride.0, o.padding.0, o.dilation.0);
        let ow = Self::out_len(x[3], kw, o.stride.1, o.padding.1, o.dilation.1);
        let (Some(oh), Some(ow)) = (oh, ow) else {
            return Err(Error::mismatch(
                OP,
                x,
                w,
                format!("the {kh}x{kw} kernel with dilation {:?} does not fit the input with padding {:?}; pad more or use a smaller kernel", o.dilation, o.padding),
            ));
        };
        if kh == 0 || kw == 0 || oh == 0 || ow == 0 {
            return Err(Error::mismatch(
                OP,
                x,
                w,
                "the kernel and the output must not be empty",
            ));
        }
        Ok(Conv2dGeom {
            n: x[0],
            c_in,
            h: x[2],
            w: x[3],
            c_out,
            kh,
            kw,
            oh,
            ow,
            stride: o.stride,
            padding: o.padding,
            dilation: o.dilation,
            groups: o.groups,
        })
    }
}

impl Array {
    /// 2-D convolution of an NCHW input with a `[C_out, C_in / groups, KH, KW]` weight and an
    /// optional `[C_out]` bias, like `torch.nn.functional.conv2d`.
    pub fn conv2d(
        &self,
        weight: &Array,
        bias: Option<&Array>,
        opts: Conv2dOptions,
    ) -> Result<Array> {
        Ok(self.conv2d_then(weight, bias, opts, false)?.0)
    }

    /// [`Array::conv2d`] and the ReLU of its output, `(y, relu(y))`. On the GPU the
    /// convolution's epilogue writes both in one pass where it can (im2col with a bias);
    /// elsewhere the ReLU runs after it. The results are those of the two ops.
    pub fn conv2d_relu(
        &self,
        weight: &Array,
        bias: Option<&Array>,
        opts: Conv2dOptions,
    ) -> Result<(Array, Array)> {
        let (y, activated) = self.conv2d_then(weight, bias, opts, true)?;
        let activated = match activated {
            Some(a) => a,
            None => y.relu()?,
        };
        Ok((y, activated))
    }

    fn conv2d_then(
        &self,
        weight: &Array,
        bias: Option<&Array>,
        opts: Conv2dOptions,
        relu: bool,
    ) -> Result<(Array, Option<Array>)> {
        self.same_device("conv2d", weight)?;
        let g = opts.geometry(self.shape(), weight.shape())?;
        if let Some(b) = bias {
            self.same_device("conv2d", b)?;
            if b.shape() != [g.c_out] {
                return Err(Error::mismatch(
                    "conv2d",
                    weight.shape(),
                    b.shape(),
                    format!("the bias needs shape [{}]", g.c_out),
                ));
            }
        }
        let (x, w, b) = (self.storage(), weight.storage(), bias.map(Array::storage));
        let (y, activated) = match self.device().backend() {
            Backend::Cpu(c) => (c.conv2d(x, w, b, &g)?, None),
            Backend::Gpu(e) => e.conv2d(x, w, b, &g, relu)?,
        };
        let shape = vec![g.n, g.c_out, g.oh, g.ow];
        let wrap = |s| Array::wrap(self.device(), shape.clone(), s);
        Ok((wrap(y), activated.map(wrap)))
    }

    /// Gradient w.r.t. the input of `sum(conv2d(x, weight) * grad_y)`, for an input of
    /// `input_shape`.
    pub fn conv2d_backward_data(
        grad_y: &Array,
        weight: &Array,
        input_shape: &[usize],
        opts: Conv2dOptions,
    ) -> Result<Array> {
        grad_y.same_device("conv2d_backward_data", weight)?;
        let g = opts.geometry(input_shape, weight.shape())?;
        Self::check_grad_y(&g, grad_y)?;
        let s = on_backend!(
            grad_y.device(),
            conv2d_backward_data(grad_y.storage(), weight.storage(), &g,)
        )?;
        Ok(Array::wrap(grad_y.device(), input_shape.to_vec(), s))
    }

    /// Gradient w.r.t. the weight of `sum(conv2d(x, weight) * grad_y)`, for a weight of
    /// `weight_shape`.
    pub fn conv2d_backward_weight(
        x: &Array,
        grad_y: &Array,
        weight_shape: &[usize],
        opts: Conv2dOptions,
    ) -> Result<Array> {
        x.same_device("conv2d_backward_weight", grad_y)?;
        let g = opts.geometry(x.shape(), weight_shape)?;
        Self::check_grad_y(&g, grad_y)?;
        let s = on_backend!(
            x.device(),
            conv2d_backward_weight(x.storage(), grad_y.storage(), &g)
        )?;
        Ok(Array::wrap(x.device(), weight_shape.to_vec(), s))
    }

    fn check_grad_y(g: &Conv2dGeom, grad_y: &Array) -> Result<()> {
        let want = [g.n, g.c_out, g.oh, g.ow];
        if grad_y.shape() != want {
            return Err(Error::mismatch(
                "conv2d backward",
                grad_y.shape(),
                &want,
                "grad_y must have the forward output's shape",
            ));
        }
        Ok(())
    }
}

/// Geometry of a 2-D convolution (NCHW input, `[C_out, C_in / groups, KH, KW]` weight), with
/// PyTorch's stride, padding, dilation and groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeom {
    /// batch
    pub n: usize,
    /// input channels
    pub c_in: usize,
    /// input height
    pub h: usize,
    /// input width
    pub w: usize,
    /// output channels
    pub c_out: usize,
    /// kernel height
    pub kh: usize,
    /// kernel width
    pub kw: usize,
    /// output height
    pub oh: usize,
    /// output width
    pub ow: usize,
    /// stride (rows, columns)
    pub stride: (usize, usize),
    /// zero padding (rows, columns)
    pub padding: (usize, usize),
    /// dilation (rows, columns)
    pub dilation: (usize, usize),
    /// channel groups
    pub groups: usize,
}

impl Conv2dGeom {
    /// Input row read by output row `o` at kernel row `k`, if inside the image.
    pub fn in_row(&self, o: usize, k: usize) -> Option<usize> {
        (o * self.stride.0 + k * self.dilation.0)
            .checked_sub(self.padding.0)
            .filter(|&i| i < self.h)
    }

    /// Input column read by output column `o` at kernel column `k`, if inside the image.
    pub fn in_col(&self, o: usize, k: usize) -> Option<usize> {
        (o * self.stride.1 + k * self.dilation.1)
            .checked_sub(self.padding.1)
            .filter(|&i| i < self.w)
    }

    /// Multiply-adds of the forward pass.
    pub fn macs(&self) -> usize {
        self.n * self.c_out * self.oh * self.ow * (self.c_in / self.groups) * self.kh * self.kw
    }
}
