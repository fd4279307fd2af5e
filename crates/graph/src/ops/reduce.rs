//! Reductions and softmax.

use crate::error::Result;
use crate::op::Op;
use crate::tape::{record, record_saving};
use crate::tensor::Tensor;
use fovea_device::Array;

/// The reduced axes of `shape` as non-negative indices (all of them when `axes` is empty),
/// and the shape the reduction has with `keepdim`.
fn kept_shape(shape: &[usize], axes: &[isize]) -> Vec<usize> {
    let rank = shape.len() as isize;
    let norm: Vec<usize> = axes
        .iter()
        .map(|&a| {
            if a < 0 {
                (a + rank) as usize
            } else {
                a as usize
            }
        })
        .collect();
    shape
        .iter()
        .enumerate()
        .map(|(d, &n)| {
            if axes.is_empty() || norm.contains(&d) {
                1
            } else {
                n
            }
        })
        .collect()
}

impl Tensor {
    /// Sum over `axes` (all when empty), keeping them as size 1 when `keepdim`.
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let v = self.array().sum(axes, keepdim)?;
        let shape = self.shape().to_vec();
        let kept = kept_shape(&shape, axes);
        record_saving(Op::Sum, v, &[self], &[], move |g, _| {
            Ok(vec![Some(g.reshape(&kept)?.broadcast_to(&shape)?)])
        })
    }

    /// Mean over `axes` (all when empty).
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let v = self.array().mean(axes, keepdim)?;
        let shape = self.shape().to_vec();
        let kept = kept_shape(&shape, axes);
        let scale = kept.iter().product::<usize>() as f32 / shape.iter().product::<usize>() as f32;
        record_saving(Op::Mean, v, &[self], &[], move |g, _| {
            Ok(vec![Some(
                g.reshape(&kept)?.mul_scalar(scale)?.broadcast_to(&shape)?,
            )])
        })
    }

    /// Maximum over `axes`; tied maxima share the gradient equally (`torch.amax`).
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.extreme(Op::Max, axes, keepdim)
    }

    /// Minimum over `axes`; tied minima share the gradient equally (`torch.amin`).
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.extreme(Op::Min, axes, keepdim)
    }

    fn extreme(&self, op: Op, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let x = self.array();
        let v = if op == Op::Max {
            x.max(axes, keepdim)?
        } else {
            x.min(axes, keepdim)?
        };
        let kept = kept_shape(x.shape(), axes);
        let y = v.clone();
        let axes = axes.to_vec();
        record(op, v, &[self], move |g, _| {
            let hit = x.eq(&y.reshape(&kept)?)?;
            let count = hit.sum(&axes, true)?;
            Ok(vec![Some(hit.mul(&g.reshape(&kept)?.div(&count)?)?)])
        })
    }

    /// Softmax along `axis`.
    pub fn softmax(&self, axis: isize) -> Result<Tensor> {
        let v = self.array().softmax(axis)?;
        let y = v.clone();
        record(Op::Softmax, v, &[self], move |g, _| {
            let dot = g.mul(&y)?.sum(&[axis], true)?;
            Ok(vec![Some(y.mul(&g.sub(&dot)?)?)])
        })
    }

    /// Log-softmax along `axis`, computed stably.
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor> {
        let v = self.array().log_softmax(axis)?;
        let y = v.clone();
        record(Op::LogSoftmax, v, &[self], move |g, _| {
            let total = g.sum(&[axis], true)?;
            Ok(vec![Some(g.sub(&y.exp()?.mul(&total)?)?)])
        })
    }

    /// Index of the maximum along `axis` (no gradient; a plain array).
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Result<Array> {
        Ok(self.array().argmax(axis, keepdim)?)
    }
}
