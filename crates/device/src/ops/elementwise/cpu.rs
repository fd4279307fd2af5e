//! CPU elementwise ops: the reference function of each op, and one loop over the output
//! (per core for dense operands, per row for strided ones).

use super::{BinaryOp, Broadcast, UnaryOp};
use crate::cpu::{is_contiguous, output, par_chunks, read, store, strided_rows, Cpu};
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
        BinaryOp::ReluGrad => a * flag(b > 0.0),
    }
}

/// `out[i] = f(x[i])`.
#[inline(always)]
fn map1(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
    out.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v));
}

/// `out[i] = f(a[i], b[i])`.
#[inline(always)]
fn map2(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = f(x, y);
    }
}

/// Elements per task when an elementwise op is spread over the cores.
const CHUNK: usize = 1 << 15;

impl Cpu {
    pub(crate) fn unary(&self, op: UnaryOp, x: &Storage, len: usize) -> Result<Storage> {
        let x = read(x)?;
        let mut out = output(len);
        par_chunks(&mut out, CHUNK, |c, out| {
            let x = &x[c * CHUNK..][..out.len()];
            // The common ops get a loop of their own, which the compiler vectorises.
            match op {
                UnaryOp::Relu => map1(x, out, |v| if v < 0.0 { 0.0 } else { v }),
                UnaryOp::Neg => map1(x, out, |v| -v),
                UnaryOp::AddScalar(s) => map1(x, out, |v| v + s),
                UnaryOp::MulScalar(s) => map1(x, out, |v| v * s),
                other => map1(x, out, |v| unary_ref(other, v)),
            }
        });
        Ok(store(out))
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
        let mut out = output(len);
        let dense = |s: &[usize]| is_contiguous(&bc.shape, s);
        if dense(&bc.strides[0]) && dense(&bc.strides[1]) {
            par_chunks(&mut out, CHUNK, |c, out| {
                let (a, b) = (&a[c * CHUNK..][..out.len()], &b[c * CHUNK..][..out.len()]);
                match op {
                    BinaryOp::Add => map2(a, b, out, |x, y| x + y),
                    BinaryOp::Sub => map2(a, b, out, |x, y| x - y),
                    BinaryOp::Mul => map2(a, b, out, |x, y| x * y),
                    BinaryOp::Div => map2(a, b, out, |x, y| x / y),
                    BinaryOp::ReluGrad => {
                        map2(a, b, out, |x, y| x * if y > 0.0 { 1.0 } else { 0.0 })
                    }
                    other => map2(a, b, out, |x, y| binary_ref(other, x, y)),
                }
            });
            return Ok(store(out));
        }
        let (sa, sb) = (&bc.strides[0], &bc.strides[1]);
        let (ia, ib) = (*sa.last().unwrap_or(&0), *sb.last().unwrap_or(&0));
        let inner = *bc.shape.last().unwrap_or(&1);
        strided_rows(&bc.shape, &[sa, sb], |first, base| {
            for (j, o) in out[first..first + inner].iter_mut().enumerate() {
                *o = binary_ref(op, a[base[0] + j * ia], b[base[1] + j * ib]);
            }
        });
        Ok(store(out))
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
        let step: Vec<usize> = s.iter().map(|s| *s.last().unwrap_or(&0)).collect();
        let inner = *bc.shape.last().unwrap_or(&1);
        let mut out = output(bc.shape.iter().product());
        strided_rows(&bc.shape, &s, |first, base| {
            for (j, o) in out[first..first + inner].iter_mut().enumerate() {
                let at = |k: usize| base[k] + j * step[k];
                *o = if c[at(0)] != 0.0 { a[at(1)] } else { b[at(2)] };
            }
        });
        Ok(store(out))
    }
}
