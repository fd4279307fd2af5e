//! CPU reference of the elementwise ops: one loop over the output, strided reads.

use super::{BinaryOp, Broadcast, UnaryOp};
use crate::cpu::{is_contiguous, read, store, strided_offsets, Cpu};
use crate::error::Result;
use crate::storage::Storage;

/// The reference for each unary op.
fn unary_ref(op: UnaryOp, v: f32) -> f32 {
    match op {
        UnaryOp::Neg => -v,
        UnaryOp::Abs => v.abs(),
        UnaryOp::Exp => v.exp(),
        UnaryOp::Log => v.ln(),
        UnaryOp::Sqrt => v.sqrt(),
        UnaryOp::Tanh => v.tanh(),
        UnaryOp::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        UnaryOp::Relu => {
            if v < 0.0 {
                0.0
            } else {
                v
            }
        }
        UnaryOp::Powf(p) => v.powf(p),
        UnaryOp::AddScalar(s) => v + s,
        UnaryOp::MulScalar(s) => v * s,
    }
}

/// The reference for each binary op.
fn binary_ref(op: BinaryOp, a: f32, b: f32) -> f32 {
    let flag = |c: bool| if c { 1.0 } else { 0.0 };
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Maximum if a.is_nan() || b.is_nan() => f32::NAN,
        BinaryOp::Minimum if a.is_nan() || b.is_nan() => f32::NAN,
        BinaryOp::Maximum => a.max(b),
        BinaryOp::Minimum => a.min(b),
        BinaryOp::Eq => flag(a == b),
        BinaryOp::Ne => flag(a != b),
        BinaryOp::Lt => flag(a < b),
        BinaryOp::Le => flag(a <= b),
        BinaryOp::Gt => flag(a > b),
        BinaryOp::Ge => flag(a >= b),
    }
}

impl Cpu {
    pub(crate) fn unary(&self, op: UnaryOp, x: &Storage, len: usize) -> Result<Storage> {
        Ok(store(
            read(x)?[..len].iter().map(|&v| unary_ref(op, v)).collect(),
        ))
    }

    pub(crate) fn binary(
        &self,
        op: BinaryOp,
        a: &Storage,
        b: &Storage,
        bc: &Broadcast,
    ) -> Result<Storage> {
        let (a, b) = (read(a)?, read(b)?);
        let len: usize = bc.shape.iter().product();
        let dense = |s: &[usize]| is_contiguous(&bc.shape, s);
        if dense(&bc.strides[0]) && dense(&bc.strides[1]) {
            let out = a[..len].iter().zip(&b[..len]);
            return Ok(store(out.map(|(&x, &y)| binary_ref(op, x, y)).collect()));
        }
        let offs = strided_offsets(&bc.shape, &[&bc.strides[0], &bc.strides[1]]);
        Ok(store(
            offs[0]
                .iter()
                .zip(&offs[1])
                .map(|(&i, &j)| binary_ref(op, a[i], b[j]))
                .collect(),
        ))
    }

    pub(crate) fn select(
        &self,
        cond: &Storage,
        a: &Storage,
        b: &Storage,
        bc: &Broadcast,
    ) -> Result<Storage> {
        let (c, a, b) = (read(cond)?, read(a)?, read(b)?);
        let s: Vec<&[usize]> = bc.strides.iter().map(Vec::as_slice).collect();
        let offs = strided_offsets(&bc.shape, &s);
        let out = (0..offs[0].len())
            .map(|e| {
                if c[offs[0][e]] != 0.0 {
                    a[offs[1][e]]
                } else {
                    b[offs[2][e]]
                }
            })
            .collect();
        Ok(store(out))
    }
}
