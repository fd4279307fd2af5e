//! Differentiable ops on [`Tensor`](crate::Tensor): each computes its value with a device op
//! and records the backward rule written in device ops.

mod elementwise;
mod layers;
mod loss;
mod reduce;
mod shape;

pub use layers::BatchNormArgs;
pub use loss::{cross_entropy, mse_loss, nll_loss};

use crate::error::Result;
use fovea_device::Array;

/// Sums a broadcast gradient back to the operand's `shape` (the adjoint of broadcasting).
pub(crate) fn sum_to(g: &Array, shape: &[usize]) -> Result<Array> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let extra = g.rank() - shape.len();
    let mut axes: Vec<isize> = (0..extra as isize).collect();
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 && g.shape()[extra + i] != 1 {
            axes.push((extra + i) as isize);
        }
    }
    let s = if axes.is_empty() {
        g.clone()
    } else {
        g.sum(&axes, true)?
    };
    Ok(s.reshape(shape)?)
}
