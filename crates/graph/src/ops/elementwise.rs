//! Elementwise ops: unary maps, scalar maps, broadcasting binary ops and `where`.

use super::sum_to;
use crate::error::Result;
use crate::op::Op;
use crate::tape::{record, record_full, record_saving};
use crate::tensor::Tensor;
use fovea_device::Array;

fn zero(a: &Array) -> Result<Array> {
    Ok(Array::scalar(a.device(), 0.0)?)
}

/// Unary ops, each saving only what its rule reads: `input (x)`, `output (y)` or `nothing`;
/// the rule reads the value by the name given.
macro_rules! unary {
    (input ($v:ident): $($(#[$doc:meta])* $name:ident as $op:ident ($g:ident) => $rule:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Result<Tensor> {
            let $v = self.array();
            let value = $v.$name()?;
            record_full(Op::$op, value, &[self], &[true], false, move |$g: &Array, _| {
                Ok(vec![Some($rule)])
            })
        }
    )*};
    (output ($v:ident): $($(#[$doc:meta])* $name:ident as $op:ident ($g:ident) => $rule:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Result<Tensor> {
            let value = self.array().$name()?;
            let $v = value.clone();
            record_full(Op::$op, value, &[self], &[false], true, move |$g: &Array, _| {
                Ok(vec![Some($rule)])
            })
        }
    )*};
    (nothing: $($(#[$doc:meta])* $name:ident as $op:ident ($g:ident) => $rule:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Result<Tensor> {
            let value = self.array().$name()?;
            record_full(Op::$op, value, &[self], &[false], false, move |$g: &Array, _| {
                Ok(vec![Some($rule)])
            })
        }
    )*};
}

impl Tensor {
    unary! { nothing:
        /// `-x`
        neg as Neg (g) => g.neg()?;
    }

    unary! { input (x):
        /// `|x|` (gradient 0 at 0, as PyTorch)
        abs as Abs (g) => g.mul(&x.gt(&zero(&x)?)?.sub(&x.lt(&zero(&x)?)?)?)?;
        /// natural logarithm
        log as Log (g) => g.div(&x)?;
    }

    unary! { output (y):
        /// `e^x`
        exp as Exp (g) => g.mul(&y)?;
        /// square root
        sqrt as Sqrt (g) => g.div(&y.mul_scalar(2.0)?)?;
        /// hyperbolic tangent
        tanh as Tanh (g) => g.mul(&y.mul(&y)?.neg()?.add_scalar(1.0)?)?;
        /// logistic sigmoid
        sigmoid as Sigmoid (g) => g.mul(&y.mul(&y.neg()?.add_scalar(1.0)?)?)?;
    }

    /// `max(x, 0)`, keeping its output (`x > 0` exactly where `y > 0`), as PyTorch does;
    /// its backward rule is the one guided backpropagation overrides.
    pub fn relu(&self) -> Result<Tensor> {
        self.record_relu(self.array().relu()?)
    }

    /// Records `y`, already computed as `relu(self)` (by a fused layer's epilogue), as
    /// [`Tensor::relu`]'s node.
    pub(crate) fn record_relu(&self, y: Array) -> Result<Tensor> {
        let saved = y.clone();
        record_full(Op::Relu, y, &[self], &[false], true, move |g: &Array, _| {
            Ok(vec![Some(g.relu_grad(&saved)?)])
        })
    }

    /// `x^p`.
    pub fn powf(&self, p: f32) -> Result<Tensor> {
        let x = self.array();
        record(Op::Powf, x.powf(p)?, &[self], move |g, _| {
            Ok(vec![Some(g.mul(&x.powf(p - 1.0)?.mul_scalar(p)?)?)])
        })
    }

    /// `x + s`.
    pub fn add_scalar(&self, s: f32) -> Result<Tensor> {
        record(
            Op::AddScalar,
            self.array().add_scalar(s)?,
            &[self],
            |g, _| Ok(vec![Some(g.clone())]),
        )
    }

    /// `x * s`.
    pub fn mul_scalar(&self, s: f32) -> Result<Tensor> {
        record(
            Op::MulScalar,
            self.array().mul_scalar(s)?,
            &[self],
            move |g, _| Ok(vec![Some(g.mul_scalar(s)?)]),
        )
    }

    /// `a + b`, broadcasting.
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        let (sa, sb) = (self.shape().to_vec(), other.shape().to_vec());
        let v = self.array().add(&other.array())?;
        record_saving(Op::Add, v, &[self, other], &[], move |g, need| {
            Ok(vec![
                need[0].then(|| sum_to(g, &sa)).transpose()?,
                need[1].then(|| sum_to(g, &sb)).transpose()?,
            ])
        })
    }

    /// `a - b`, broadcasting.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        let (sa, sb) = (self.shape().to_vec(), other.shape().to_vec());
        let v = self.array().sub(&other.array())?;
        record_saving(Op::Sub, v, &[self, other], &[], move |g, need| {
            Ok(vec![
                need[0].then(|| sum_to(g, &sa)).transpose()?,
                need[1].then(|| sum_to(&g.neg()?, &sb)).transpose()?,
            ])
        })
    }

    /// `a * b`, broadcasting.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.array(), other.array());
        let v = a.mul(&b)?;
        record(Op::Mul, v, &[self, other], move |g, need| {
            Ok(vec![
                need[0]
                    .then(|| sum_to(&g.mul(&b)?, a.shape()))
                    .transpose()?,
                need[1]
                    .then(|| sum_to(&g.mul(&a)?, b.shape()))
                    .transpose()?,
            ])
        })
    }

    /// `a / b`, broadcasting.
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.array(), other.array());
        let v = a.div(&b)?;
        let y = v.clone();
        record(Op::Div, v, &[self, other], move |g, need| {
            let ga = g.div(&b)?;
            Ok(vec![
                need[0].then(|| sum_to(&ga, a.shape())).transpose()?,
                need[1]
                    .then(|| sum_to(&ga.mul(&y)?.neg()?, b.shape()))
                    .transpose()?,
            ])
        })
    }

    /// Elementwise maximum, broadcasting; ties share the gradient equally, as in PyTorch.
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        self.extremum(other, Op::Maximum, true)
    }

    /// Elementwise minimum, broadcasting; ties share the gradient equally, as in PyTorch.
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        self.extremum(other, Op::Minimum, false)
    }

    fn extremum(&self, other: &Tensor, op: Op, max: bool) -> Result<Tensor> {
        let (a, b) = (self.array(), other.array());
        let v = if max { a.maximum(&b)? } else { a.minimum(&b)? };
        record(op, v, &[self, other], move |g, need| {
            let wins = if max { a.gt(&b)? } else { a.lt(&b)? };
            let share = wins.add(&a.eq(&b)?.mul_scalar(0.5)?)?;
            let ga = g.mul(&share)?;
            let gb = g.sub(&ga)?;
            Ok(vec![
                need[0].then(|| sum_to(&ga, a.shape())).transpose()?,
                need[1].then(|| sum_to(&gb, b.shape())).transpose()?,
            ])
        })
    }

    /// `cond != 0 ? on_true : on_false`, broadcasting (`torch.where`); `cond` gets no gradient.
    pub fn where_(cond: &Tensor, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        let c = cond.array();
        let (st, sf) = (on_true.shape().to_vec(), on_false.shape().to_vec());
        let v = Array::where_(&c, &on_true.array(), &on_false.array())?;
        record(Op::Where, v, &[on_true, on_false, cond], move |g, need| {
            let z = zero(g)?;
            Ok(vec![
                need[0]
                    .then(|| sum_to(&Array::where_(&c, g, &z)?, &st))
                    .transpose()?,
                need[1]
                    .then(|| sum_to(&Array::where_(&c, &z, g)?, &sf))
                    .transpose()?,
                None,
            ])
        })
    }
}
