//! Op codes and the shape descriptors the public API hands to a backend after validation.
//!
//! The codes of each enum are the values of the WGSL `override OP` constant of its kernel, so a
//! code change here must be mirrored in the shader (the GPU-vs-reference tests catch a slip).

/// Elementwise functions of one operand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `|x|`
    Abs,
    /// `e^x`
    Exp,
    /// natural logarithm
    Log,
    /// square root
    Sqrt,
    /// hyperbolic tangent
    Tanh,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `max(x, 0)`, NaN preserved
    Relu,
    /// `x^p` with PyTorch's rules for negative bases
    Powf(f32),
    /// `x + s`
    AddScalar(f32),
    /// `x * s`
    MulScalar(f32),
}

impl UnaryOp {
    /// The kernel's `OP` code and scalar argument.
    pub fn code(self) -> (u32, f32) {
        match self {
            UnaryOp::Neg => (0, 0.0),
            UnaryOp::Abs => (1, 0.0),
            UnaryOp::Exp => (2, 0.0),
            UnaryOp::Log => (3, 0.0),
            UnaryOp::Sqrt => (4, 0.0),
            UnaryOp::Tanh => (5, 0.0),
            UnaryOp::Sigmoid => (6, 0.0),
            UnaryOp::Relu => (7, 0.0),
            UnaryOp::Powf(p) => (8, p),
            UnaryOp::AddScalar(s) => (9, s),
            UnaryOp::MulScalar(s) => (10, s),
        }
    }
}

/// Elementwise functions of two broadcast operands. Comparisons yield 1.0 or 0.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// larger of the two, NaN propagating
    Maximum,
    /// smaller of the two, NaN propagating
    Minimum,
    /// `a == b`
    Eq,
    /// `a != b`
    Ne,
    /// `a < b`
    Lt,
    /// `a <= b`
    Le,
    /// `a > b`
    Gt,
    /// `a >= b`
    Ge,
}

impl BinaryOp {
    /// The kernel's `OP` code.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The op's name in error messages.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
        }
    }
}

/// Reductions along one contiguous block of axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// sum (mean is a sum with a scale)
    Sum,
    /// maximum, NaN propagating
    Max,
    /// minimum, NaN propagating
    Min,
    /// index of the first maximum
    Argmax,
    /// index of the first minimum
    Argmin,
}

impl ReduceOp {
    /// The kernel's `OP` code.
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// The distribution of a random fill.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// uniform on `[low, high)`
    Uniform {
        /// inclusive lower bound
        low: f32,
        /// exclusive upper bound
        high: f32,
    },
    /// normal with the given mean and standard deviation
    Normal {
        /// mean
        mean: f32,
        /// standard deviation
        std: f32,
    },
    /// a dropout mask: `1 / (1 - p)` where the uniform draw is at least `p`, else 0
    /// (all zeros when `p` is 1)
    DropoutMask {
        /// probability of dropping an element
        p: f32,
    },
}

/// Operands read through broadcast strides into an output of `shape`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broadcast {
    /// Output shape.
    pub shape: Vec<usize>,
    /// One stride vector per operand, in elements, 0 along broadcast axes.
    pub strides: Vec<Vec<usize>>,
}

impl Broadcast {
    /// Whether every operand is laid out exactly like the output (no index arithmetic needed).
    pub fn is_plain(&self) -> bool {
        let own = crate::shape::strides(&self.shape);
        self.strides.iter().all(|s| *s == own)
    }
}

/// A reduction seen as `[outer, len, inner]`, reducing the middle axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReduceDims {
    /// product of the axes before the reduced block
    pub outer: usize,
    /// product of the reduced axes
    pub len: usize,
    /// product of the axes after the reduced block
    pub inner: usize,
}

/// A batched matrix product `C[b] = op(A[b]) op(B[b])` with `op` identity or transpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulDims {
    /// number of products
    pub batch: usize,
    /// rows of `op(A)` and `C`
    pub m: usize,
    /// columns of `op(A)`, rows of `op(B)`
    pub k: usize,
    /// columns of `op(B)` and `C`
    pub n: usize,
    /// `A` is stored `[K, M]`
    pub trans_a: bool,
    /// `B` is stored `[N, K]`
    pub trans_b: bool,
    /// elements between consecutive `A` matrices (0 broadcasts one matrix)
    pub a_stride: usize,
    /// elements between consecutive `B` matrices (0 broadcasts one matrix)
    pub b_stride: usize,
}

/// One strided copy: element `i` of the iteration space `shape` goes from
/// `src[src_offset + i·src_strides]` to `dst[dst_offset + i·dst_strides]`.
///
/// Permute, slice, concat and pad are all made of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyPiece {
    /// iteration space
    pub shape: Vec<usize>,
    /// first source element
    pub src_offset: usize,
    /// source strides per axis of `shape`
    pub src_strides: Vec<usize>,
    /// first destination element
    pub dst_offset: usize,
    /// destination strides per axis of `shape`
    pub dst_strides: Vec<usize>,
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

/// Geometry of a bilinear resize of `planes` images from `h x w` to `oh x ow`, with
/// PyTorch's `align_corners` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResizeGeom {
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
    /// corner pixels of input and output are aligned
    pub align_corners: bool,
}

impl ResizeGeom {
    /// Source coordinate scale along one axis, as PyTorch computes it (in f32).
    pub fn scale(&self, input: usize, output: usize) -> f32 {
        if self.align_corners {
            if output > 1 {
                (input as f32 - 1.0) / (output as f32 - 1.0)
            } else {
                0.0
            }
        } else {
            input as f32 / output as f32
        }
    }

    /// The two source indices and their weights for output index `o` along an axis of
    /// `input` elements resized by `scale`.
    pub fn taps(&self, o: usize, input: usize, scale: f32) -> (usize, usize, f32, f32) {
        let src = if self.align_corners {
            scale * o as f32
        } else {
            (scale * (o as f32 + 0.5) - 0.5).max(0.0)
        };
        let i0 = (src as usize).min(input - 1);
        let i1 = if i0 + 1 < input { i0 + 1 } else { i0 };
        let l1 = src - i0 as f32;
        (i0, i1, 1.0 - l1, l1)
    }
}

/// An NCHW array seen as `[n, c, hw]` for per-channel work (batch norm).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelDims {
    /// batch
    pub n: usize,
    /// channels
    pub c: usize,
    /// elements per channel plane (H times W)
    pub hw: usize,
}

impl ChannelDims {
    /// Elements of the whole array.
    pub fn len(&self) -> usize {
        self.n * self.c * self.hw
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements per channel across the batch.
    pub fn per_channel(&self) -> usize {
        self.n * self.hw
    }
}

/// Softmax cross-entropy over `[rows, classes]` logits with class-index labels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyGeom {
    /// number of samples
    pub rows: usize,
    /// number of classes
    pub classes: usize,
    /// label smoothing in `[0, 1]`
    pub smoothing: f32,
    /// a label equal to this contributes neither loss nor gradient
    pub ignore_index: i64,
}

/// One step of `torch.optim.SGD` (already resolved to the numbers the kernel needs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    /// learning rate
    pub lr: f32,
    /// momentum factor (0: plain SGD, no buffer)
    pub momentum: f32,
    /// dampening of the gradient in the momentum buffer
    pub dampening: f32,
    /// L2 penalty added to the gradient
    pub weight_decay: f32,
    /// Nesterov momentum
    pub nesterov: bool,
    /// ascend instead of descend
    pub maximize: bool,
    /// the first step, which initialises the momentum buffer with the gradient
    pub first: bool,
}

impl SgdStep {
    /// Plain SGD at `lr` (`optim.SGD(params, lr)`): no momentum, dampening or weight decay.
    pub fn plain(lr: f32) -> SgdStep {
        SgdStep {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            first: true,
        }
    }
}

/// One step of `torch.optim.Adam` / `AdamW` (step count already applied to the bias
/// corrections).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// learning rate
    pub lr: f32,
    /// decay of the first moment
    pub beta1: f32,
    /// decay of the second moment
    pub beta2: f32,
    /// term added to the denominator
    pub eps: f32,
    /// weight decay (L2 in the gradient for Adam, decoupled for AdamW)
    pub weight_decay: f32,
    /// AdamW: decay the weights directly instead of adding to the gradient
    pub decoupled: bool,
    /// keep the running maximum of the second moment (AMSGrad)
    pub amsgrad: bool,
    /// ascend instead of descend
    pub maximize: bool,
    /// `1 - beta1^t`
    pub bias_correction1: f32,
    /// `sqrt(1 - beta2^t)`
    pub bias_correction2_sqrt: f32,
}
