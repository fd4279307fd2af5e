//! Elementwise ops: functions of one operand ([`UnaryOp`]), of two broadcast operands
//! ([`BinaryOp`]) and `where` (select), with NumPy broadcasting checked here once.
//!
//! The codes of each enum are the values of the WGSL `override OP` constant of its kernel
//! (`shaders/unary.wgsl`, `shaders/binary.wgsl`), so a code change here must be mirrored in
//! the shader (the GPU-vs-reference tests catch a slip).

mod cpu;
pub(crate) mod gpu;

use crate::array::{checked_numel, Array};
use crate::error::{Error, Result};
use crate::shape::{broadcast_shape, broadcast_strides};

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
    /// `a * (b > 0)`: ReLU's gradient `a` passed where its output `b` is positive
    ReluGrad,
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
            BinaryOp::ReluGrad => "relu_grad",
        }
    }
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

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Result<Array> {
            self.unary($op)
        }
    )*};
}

macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self, other: &Array) -> Result<Array> {
            self.binary($op, other)
        }
    )*};
}

impl Array {
    fn unary(&self, op: UnaryOp) -> Result<Array> {
        let s = on_backend!(self.device, unary(op, &self.storage, self.numel()))?;
        Ok(Self::wrap(&self.device, self.shape.clone(), s))
    }

    unary_methods! {
        /// `-x`
        neg => UnaryOp::Neg;
        /// `|x|`
        abs => UnaryOp::Abs;
        /// `e^x`
        exp => UnaryOp::Exp;
        /// natural logarithm
        log => UnaryOp::Log;
        /// square root
        sqrt => UnaryOp::Sqrt;
        /// hyperbolic tangent
        tanh => UnaryOp::Tanh;
        /// logistic sigmoid
        sigmoid => UnaryOp::Sigmoid;
        /// `max(x, 0)`
        relu => UnaryOp::Relu;
    }

    /// `x^p`, like `torch.pow` with a float exponent.
    pub fn powf(&self, p: f32) -> Result<Array> {
        self.unary(UnaryOp::Powf(p))
    }

    /// `x + s`.
    pub fn add_scalar(&self, s: f32) -> Result<Array> {
        self.unary(UnaryOp::AddScalar(s))
    }

    /// `x * s`.
    pub fn mul_scalar(&self, s: f32) -> Result<Array> {
        self.unary(UnaryOp::MulScalar(s))
    }

    fn broadcast(op: &'static str, arrays: &[&Array]) -> Result<Broadcast> {
        let mut out = arrays[0].shape.clone();
        for a in &arrays[1..] {
            arrays[0].same_device(op, a)?;
            out = broadcast_shape(&out, &a.shape).ok_or_else(|| {
                Error::mismatch(
                    op,
                    &out,
                    &a.shape,
                    "trailing dimensions must be equal or 1 (NumPy broadcasting); reshape or expand one operand",
                )
            })?;
        }
        checked_numel(op, &out)?;
        let strides = arrays
            .iter()
            .map(|a| broadcast_strides(&a.shape, &out))
            .collect();
        Ok(Broadcast {
            shape: out,
            strides,
        })
    }

    fn binary(&self, op: BinaryOp, other: &Array) -> Result<Array> {
        let bc = Self::broadcast(op.name(), &[self, other])?;
        let s = on_backend!(self.device, binary(op, &self.storage, &other.storage, &bc))?;
        Ok(Self::wrap(&self.device, bc.shape, s))
    }

    binary_methods! {
        /// `a + b`, broadcasting.
        add => BinaryOp::Add;
        /// `a - b`, broadcasting.
        sub => BinaryOp::Sub;
        /// `a * b`, broadcasting.
        mul => BinaryOp::Mul;
        /// `a / b`, broadcasting.
        div => BinaryOp::Div;
        /// Elementwise maximum (NaN propagates), broadcasting.
        maximum => BinaryOp::Maximum;
        /// Elementwise minimum (NaN propagates), broadcasting.
        minimum => BinaryOp::Minimum;
        /// `a == b` as 1.0 / 0.0, broadcasting.
        eq => BinaryOp::Eq;
        /// `a != b` as 1.0 / 0.0, broadcasting.
        ne => BinaryOp::Ne;
        /// `a < b` as 1.0 / 0.0, broadcasting.
        lt => BinaryOp::Lt;
        /// `a <= b` as 1.0 / 0.0, broadcasting.
        le => BinaryOp::Le;
        /// `a > b` as 1.0 / 0.0, broadcasting.
        gt => BinaryOp::Gt;
        /// `a >= b` as 1.0 / 0.0, broadcasting.
        ge => BinaryOp::Ge;
        /// `a * (b > 0)`, broadcasting: the gradient `a` of a ReLU whose output is `b`, in
        /// one pass (what `a.mul(&b.gt(&0))` computes in two).
        relu_grad => BinaryOp::ReluGrad;
    }

    /// `cond != 0 ? on_true : on_false` elementwise, all three broadcast (`torch.where`).
    pub fn where_(cond: &Array, on_true: &Array, on_false: &Array) -> Result<Array> {
        let bc = Self::broadcast("where", &[cond, on_true, on_false])?;
        let s = on_backend!(
            cond.device,
            select(&cond.storage, &on_true.storage, &on_false.storage, &bc,)
        )?;
        Ok(Self::wrap(&cond.device, bc.shape, s))
    }
}
