//! CPU reductions and softmax over `[outer, len, inner]`: one task per outer block.

use super::{ReduceDims, ReduceOp};
use crate::cpu::{filled, output, par_chunks, read, store, Cpu};
use crate::error::Result;
use crate::storage::Storage;

/// Whether `b` should replace the running `a` in a max (or min) scan; NaN wins, ties keep `a`.
fn wins(op: ReduceOp, a: f32, b: f32) -> bool {
    if a.is_nan() {
        return false;
    }
    if b.is_nan() {
        return true;
    }
    match op {
        ReduceOp::Max | ReduceOp::Argmax => b > a,
        _ => b < a,
    }
}

impl Cpu {
    pub(crate) fn reduce(
        &self,
        op: ReduceOp,
        x: &Storage,
        d: ReduceDims,
        scale: f32,
    ) -> Result<Storage> {
        let x = read(x)?;
        let mut out = filled(d.outer * d.inner, 0.0);
        // Each `o` reads its own contiguous block of `len * inner` values, row by row, so the
        // inner loop is unit-stride; every output still sees its values in order 0..len.
        par_chunks(&mut out, d.inner, |o, out| {
            let xo = &x[o * d.len * d.inner..][..d.len * d.inner];
            let rows = xo.chunks(d.inner.max(1));
            match op {
                ReduceOp::Sum => {
                    for row in rows {
                        out.iter_mut().zip(row).for_each(|(a, v)| *a += v);
                    }
                    out.iter_mut().for_each(|a| *a *= scale);
                }
                _ => {
                    let mut best = vec![0usize; d.inner];
                    out.copy_from_slice(&xo[..d.inner]);
                    for (j, row) in rows.enumerate().skip(1) {
                        for ((b, a), &v) in best.iter_mut().zip(out.iter_mut()).zip(row) {
                            if wins(op, *a, v) {
                                (*b, *a) = (j, v);
                            }
                        }
                    }
                    if matches!(op, ReduceOp::Argmax | ReduceOp::Argmin) {
                        out.iter_mut().zip(&best).for_each(|(a, &b)| *a = b as f32);
                    }
                }
            }
        });
        Ok(store(out))
    }

    pub(crate) fn softmax(&self, x: &Storage, d: ReduceDims, log: bool) -> Result<Storage> {
        let x = read(x)?;
        let mut out = output(d.outer * d.len * d.inner);
        for o in 0..d.outer {
            for i in 0..d.inner {
                let at = |j: usize| (o * d.len + j) * d.inner + i;
                let max = (0..d.len)
                    .map(|j| x[at(j)])
                    .fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = (0..d.len).map(|j| (x[at(j)] - max).exp()).sum();
                for j in 0..d.len {
                    let z = x[at(j)] - max;
                    out[at(j)] = if log { z - sum.ln() } else { z.exp() / sum };
                }
            }
        }
        Ok(store(out))
    }
}
