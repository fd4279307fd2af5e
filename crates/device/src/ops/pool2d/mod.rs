//! 2-D pooling on [`Array`]s: max (with argmax indices), average, adaptive average and
//! global average, forward and backward, with PyTorch's attributes and output sizes.

mod cpu;
pub(crate) mod gpu;

use crate::array::Array;
use crate::error::{Error, Result};

/// `torch.nn.functional.max_pool2d` / `avg_pool2d` attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dOptions {
    /// window (rows, columns)
    pub kernel: (usize, usize),
    /// step between windows (PyTorch's default: the kernel)
    pub stride: (usize, usize),
    /// implicit padding on each side (at most half the kernel)
    pub padding: (usize, usize),
    /// spacing between window taps (max pooling only)
    pub dilation: (usize, usize),
    /// round the output size up instead of down
    pub ceil_mode: bool,
    /// average pooling: count padding positions in the divisor (PyTorch's default: true)
    pub count_include_pad: bool,
    /// average pooling: divide by this instead of the window size
    pub divisor_override: Option<usize>,
}

impl Pool2dOptions {
    /// A square `kernel` with stride `kernel`, no padding, like `nn.MaxPool2d(kernel)`.
    pub fn new(kernel: usize) -> Self {
        Self {
            kernel: (kernel, kernel),
            stride: (kernel, kernel),
            padding: (0, 0),
            dilation: (1, 1),
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }

    /// The same options with a square stride.
    pub fn stride(self, s: usize) -> Self {
        Self {
            stride: (s, s),
            ..self
        }
    }

    /// The same options with square padding.
    pub fn padding(self, p: usize) -> Self {
        Self {
            padding: (p, p),
            ..self
        }
    }

    /// The same options with square dilation.
    pub fn dilation(self, d: usize) -> Self {
        Self {
            dilation: (d, d),
            ..self
        }
    }

    /// The same options with `ceil_mode`.
    pub fn ceil_mode(self, on: bool) -> Self {
        Self {
            ceil_mode: on,
            ..self
        }
    }

    /// The same options with `count_include_pad`.
    pub fn count_include_pad(self, on: bool) -> Self {
        Self {
            count_include_pad: on,
            ..self
        }
    }

    /// The same options with a fixed divisor.
    pub fn divisor_override(self, d: usize) -> Self {
        Self {
            divisor_override: Some(d),
            ..self
        }
    }

    /// Output length along one axis, PyTorch's `pooling_output_shape`.
    fn out_len(&self, op: &'static str, x: &[usize], axis: usize) -> Result<usize> {
        let pick = |t: (usize, usize)| if axis == 0 { t.0 } else { t.1 };
        let (size, k, s, p, d) = (
            x[2 + axis],
            pick(self.kernel),
            pick(self.stride),
            pick(self.padding),
            pick(self.dilation),
        );
        let span = d * (k - 1) + 1;
        let Some(room) = (size + 2 * p).checked_sub(span) else {
            return Err(Error::invalid(
                op,
                x,
                format!(
                    "the {k}-wide window (dilation {d}) does not fit {size} inputs with padding {p}; use a smaller kernel or more padding"
                ),
            ));
        };
        let mut out = if self.ceil_mode {
            room.div_ceil(s) + 1
        } else {
            room / s + 1
        };
        if self.ceil_mode && (out - 1) * s >= size + p {
            out -= 1;
        }
        Ok(out)
    }

    /// Validates an NCHW input shape and returns the pooling geometry.
    pub fn geometry(&self, op: &'static str, x: &[usize], kind: PoolKind) -> Result<Pool2dGeom> {
        check_nchw(op, x)?;
        let o = self;
        let all = [o.kernel, o.stride, o.dilation];
        if all.iter().any(|t| t.0 == 0 || t.1 == 0) {
            return Err(Error::invalid(
                op,
                x,
                format!(
                    "kernel {:?}, stride {:?} and dilation {:?} must be at least 1",
                    o.kernel, o.stride, o.dilation
                ),
            ));
        }
        if 2 * o.padding.0 > o.kernel.0 || 2 * o.padding.1 > o.kernel.1 {
            return Err(Error::invalid(
                op,
                x,
                format!(
                    "padding {:?} must be at most half the kernel {:?}",
                    o.padding, o.kernel
                ),
            ));
        }
        if kind != PoolKind::Max && o.dilation != (1, 1) {
            return Err(Error::invalid(op, x, "average pooling has no dilation"));
        }
        if o.divisor_override == Some(0) {
            return Err(Error::invalid(op, x, "divisor_override must not be 0"));
        }
        Ok(Pool2dGeom {
            kind,
            planes: x[0] * x[1],
            h: x[2],
            w: x[3],
            oh: self.out_len(op, x, 0)?,
            ow: self.out_len(op, x, 1)?,
            kernel: o.kernel,
            stride: o.stride,
            padding: o.padding,
            dilation: o.dilation,
        })
    }

    fn avg_kind(&self) -> PoolKind {
        PoolKind::Avg {
            count_include_pad: self.count_include_pad,
            divisor: self.divisor_override,
        }
    }
}

fn check_nchw(op: &'static str, x: &[usize]) -> Result<()> {
    if x.len() != 4 || x.contains(&0) {
        return Err(Error::invalid(
            op,
            x,
            "expects a non-empty [N, C, H, W] input (reshape a single image to [1, C, H, W])",
        ));
    }
    Ok(())
}

fn adaptive_geom(op: &'static str, x: &[usize], (oh, ow): (usize, usize)) -> Result<Pool2dGeom> {
    check_nchw(op, x)?;
    if oh == 0 || ow == 0 {
        return Err(Error::invalid(
            op,
            x,
            "the output size must be at least 1x1",
        ));
    }
    Ok(Pool2dGeom {
        kind: PoolKind::AdaptiveAvg,
        planes: x[0] * x[1],
        h: x[2],
        w: x[3],
        oh,
        ow,
        kernel: (1, 1),
        stride: (1, 1),
        padding: (0, 0),
        dilation: (1, 1),
    })
}

impl Array {
    fn pool(&self, g: &Pool2dGeom) -> Result<(Array, Option<Array>)> {
        let (y, idx) = on_backend!(self.device(), pool2d(self.storage(), g))?;
        let shape = vec![self.shape()[0], self.shape()[1], g.oh, g.ow];
        let idx = idx.map(|i| Array::wrap(self.device(), shape.clone(), i));
        Ok((Array::wrap(self.device(), shape, y), idx))
    }

    fn pool_backward(
        grad_y: &Array,
        indices: Option<&Array>,
        input_shape: &[usize],
        g: &Pool2dGeom,
        op: &'static str,
    ) -> Result<Array> {
        let want = [input_shape[0], input_shape[1], g.oh, g.ow];
        if grad_y.shape() != want {
            return Err(Error::mismatch(
                op,
                grad_y.shape(),
                &want,
                "grad_y must have the forward output's shape",
            ));
        }
        if let Some(i) = indices {
            grad_y.same_device(op, i)?;
            if i.shape() != want {
                return Err(Error::mismatch(
                    op,
                    i.shape(),
                    &want,
                    "the indices must be those max_pool2d returned with this output",
                ));
            }
        }
        let s = on_backend!(
            grad_y.device(),
            pool2d_backward(grad_y.storage(), indices.map(Array::storage), g,)
        )?;
        Ok(Array::wrap(grad_y.device(), input_shape.to_vec(), s))
    }

    /// Max pooling of an NCHW input; returns the output and, per output, the plane-local
    /// index `iy * W + ix` of the maximum (as f32), like `max_pool2d(return_indices=True)`.
    pub fn max_pool2d(&self, opts: Pool2dOptions) -> Result<(Array, Array)> {
        let g = opts.geometry("max_pool2d", self.shape(), PoolKind::Max)?;
        let (y, idx) = self.pool(&g)?;
        Ok((y, idx.expect("max pooling returns indices")))
    }

    /// Gradient w.r.t. the input of `max_pool2d`, routed through the saved `indices`.
    pub fn max_pool2d_backward(
        grad_y: &Array,
        indices: &Array,
        input_shape: &[usize],
        opts: Pool2dOptions,
    ) -> Result<Array> {
        const OP: &str = "max_pool2d_backward";
        let g = opts.geometry(OP, input_shape, PoolKind::Max)?;
        Self::pool_backward(grad_y, Some(indices), input_shape, &g, OP)
    }

    /// Average pooling of an NCHW input, like `torch.nn.functional.avg_pool2d`.
    pub fn avg_pool2d(&self, opts: Pool2dOptions) -> Result<Array> {
        let g = opts.geometry("avg_pool2d", self.shape(), opts.avg_kind())?;
        Ok(self.pool(&g)?.0)
    }

    /// Gradient w.r.t. the input of `avg_pool2d`.
    pub fn avg_pool2d_backward(
        grad_y: &Array,
        input_shape: &[usize],
        opts: Pool2dOptions,
    ) -> Result<Array> {
        const OP: &str = "avg_pool2d_backward";
        let g = opts.geometry(OP, input_shape, opts.avg_kind())?;
        Self::pool_backward(grad_y, None, input_shape, &g, OP)
    }

    /// Adaptive average pooling to `(out_h, out_w)`, like `adaptive_avg_pool2d`
    /// (torchvision's VGG ends its features with `(7, 7)`).
    pub fn adaptive_avg_pool2d(&self, out: (usize, usize)) -> Result<Array> {
        let g = adaptive_geom("adaptive_avg_pool2d", self.shape(), out)?;
        Ok(self.pool(&g)?.0)
    }

    /// Gradient w.r.t. the input of `adaptive_avg_pool2d`.
    pub fn adaptive_avg_pool2d_backward(grad_y: &Array, input_shape: &[usize]) -> Result<Array> {
        const OP: &str = "adaptive_avg_pool2d_backward";
        check_nchw(OP, input_shape)?;
        if grad_y.rank() != 4 {
            return Err(Error::mismatch(
                OP,
                grad_y.shape(),
                input_shape,
                "grad_y must be [N, C, OH, OW]",
            ));
        }
        let out = (grad_y.shape()[2], grad_y.shape()[3]);
        let g = adaptive_geom(OP, input_shape, out)?;
        Self::pool_backward(grad_y, None, input_shape, &g, OP)
    }

    /// Mean over each channel plane: `[N, C, H, W]` to `[N, C, 1, 1]`.
    pub fn global_avg_pool2d(&self) -> Result<Array> {
        self.adaptive_avg_pool2d((1, 1))
    }
}

/// How a pooling window is combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// maximum of the window (first maximum on ties, NaN wins, like PyTorch)
    Max,
    /// mean of the window; the divisor is `divisor` if given, else the window clipped to the
    /// padded input (`count_include_pad`) or to the input itself
    Avg {
        /// count padding positions in the divisor
        count_include_pad: bool,
        /// fixed divisor (PyTorch's `divisor_override`)
        divisor: Option<usize>,
    },
    /// PyTorch's adaptive average: output row `i` averages input rows
    /// `floor(i H / OH) .. ceil((i + 1) H / OH)`
    AdaptiveAvg,
}

/// Geometry of 2-D pooling over NCHW input (kernel, stride, padding and dilation are ignored
/// by [`PoolKind::AdaptiveAvg`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dGeom {
    /// how windows are combined
    pub kind: PoolKind,
    /// batch times channels
    pub planes: usize,
    /// input height
    pub h: usize,
    /// input width
    pub w: usize,
    /// output height
    pub oh: usize,
    /// output width
    pub ow: usize,
    /// window (rows, columns)
    pub kernel: (usize, usize),
    /// step between windows
    pub stride: (usize, usize),
    /// implicit padding on each side
    pub padding: (usize, usize),
    /// spacing between window taps (max pooling only)
    pub dilation: (usize, usize),
}
