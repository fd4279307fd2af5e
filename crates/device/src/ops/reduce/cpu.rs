//! CPU reference of the reductions and softmax: direct loops over `[outer, len, inner]`.

use super::{ReduceDims, ReduceOp};
use crate::cpu::{read, store, Cpu};
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
        let mut out = Vec::with_capacity(d.outer * d.inner);
        for o in 0..d.outer {
            for i in 0..d.inner {
                let at = |j: usize| x[(o * d.len + j) * d.inner + i];
                let v = match op {
                    ReduceOp::Sum => (0..d.len).map(at).sum::<f32>() * scale,
                    _ => {
                        let mut best = 0;
                        for j in 1..d.len {
                            if wins(op, at(best), at(j)) {
                                best = j;
                            }
                        }
                        match op {
                            ReduceOp::Argmax | ReduceOp::Argmin => best as f32,
                            _ => at(best),
                        }
                    }
                };
                out.push(v);
            }
        }
        Ok(store(out))
    }

    pub(crate) fn softmax(&self, x: &Storage, d: ReduceDims, log: bool) -> Result<Storage> {
        let x = read(x)?;
        let mut out = vec![0.0; d.outer * d.len * d.inner];
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
