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
