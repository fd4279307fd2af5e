//! Reductions over axes (sum, mean, max, min, argmax, argmin) and softmax / log-softmax:
//! each is computed on an `[outer, len, inner]` view with the reduced axes in the middle.
//!
//! [`ReduceOp`]'s codes are the WGSL `override OP` of `shaders/reduce.wgsl`.

mod cpu;
pub(crate) mod gpu;

use crate::array::Array;
use crate::error::{Error, Result};
use crate::shape::normalize_axis;

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

impl Array {
    /// Sorted, de-duplicated axes; all axes when `axes` is empty.
    fn axes(&self, op: &'static str, axes: &[isize]) -> Result<Vec<usize>> {
        if axes.is_empty() {
            return Ok((0..self.rank()).collect());
        }
        let mut out = axes
            .iter()
            .map(|&a| normalize_axis(op, &self.shape, a))
            .collect::<Result<Vec<_>>>()?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Views the array as `[outer, len, inner]` with `axes` in the middle, permuting first if
    /// the axes are not adjacent. Refuses empty reductions.
    fn reduce_view(&self, op: &'static str, axes: &[usize]) -> Result<(Array, ReduceDims)> {
        let len: usize = axes.iter().map(|&a| self.shape[a]).product();
        if len == 0 {
            return Err(Error::invalid(
                op,
                &self.shape,
                "cannot reduce over an empty axis",
            ));
        }
        let adjacent = axes.windows(2).all(|w| w[1] == w[0] + 1);
        if axes.is_empty() {
            return Ok((
                self.clone(),
                ReduceDims {
                    outer: self.numel(),
                    len: 1,
                    inner: 1,
                },
            ));
        }
        if adjacent {
            let (first, last) = (axes[0], axes[axes.len() - 1]);
            let outer = self.shape[..first].iter().product();
            let inner = self.shape[last + 1..].iter().product();
            return Ok((self.clone(), ReduceDims { outer, len, inner }));
        }
        let mut perm: Vec<usize> = (0..self.rank()).filter(|d| !axes.contains(d)).collect();
        perm.extend_from_slice(axes);
        let moved = self.permute(&perm)?;
        Ok((
            moved,
            ReduceDims {
                outer: self.numel() / len,
                len,
                inner: 1,
            },
        ))
    }

    fn reduced_shape(&self, axes: &[usize], keepdim: bool) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.rank());
        for (d, &n) in self.shape.iter().enumerate() {
            if !axes.contains(&d) {
                out.push(n);
            } else if keepdim {
                out.push(1);
            }
        }
        out
    }

    fn reduce(
        &self,
        name: &'static str,
        op: ReduceOp,
        axes: &[isize],
        keepdim: bool,
        mean: bool,
    ) -> Result<Array> {
        let axes = self.axes(name, axes)?;
        let scattered = axes.windows(2).any(|w| w[1] != w[0] + 1);
        if scattered && matches!(op, ReduceOp::Sum | ReduceOp::Max | ReduceOp::Min) {
            return self.reduce_runs(name, op, &axes, keepdim, mean);
        }
        let (src, dims) = self.reduce_view(name, &axes)?;
        let scale = if mean { 1.0 / dims.len as f32 } else { 1.0 };
        let s = on_backend!(self.device, reduce(op, &src.storage, dims, scale))?;
        Ok(Self::wrap(
            &self.device,
            self.reduced_shape(&axes, keepdim),
            s,
        ))
    }

    /// A reduction over axes that are not adjacent (a convolution's bias gradient sums
    /// `[N, C, H, W]` over 0, 2 and 3) as one reduction per run of adjacent axes, the last run
    /// first, keeping the reduced axes until the end: no permuted copy of the input is made.
    fn reduce_runs(
        &self,
        name: &'static str,
        op: ReduceOp,
        axes: &[usize],
        keepdim: bool,
        mean: bool,
    ) -> Result<Array> {
        let total: usize = axes.iter().map(|&a| self.shape[a]).product();
        if total == 0 {
            return Err(Error::invalid(
                name,
                &self.shape,
                "cannot reduce over an empty axis",
            ));
        }
        let mut runs: Vec<Vec<usize>> = Vec::new();
        for &a in axes {
            match runs.last_mut() {
                Some(run) if run.last() == Some(&(a - 1)) => run.push(a),
                _ => runs.push(vec![a]),
            }
        }
        let mut cur = self.clone();
        for (k, run) in runs.iter().rev().enumerate() {
            let (first, last) = (run[0], run[run.len() - 1]);
            let dims = ReduceDims {
                outer: cur.shape[..first].iter().product(),
                len: cur.shape[first..=last].iter().product(),
                inner: cur.shape[last + 1..].iter().product(),
            };
            let last_run = k + 1 == runs.len();
            let scale = if mean && last_run {
                1.0 / total as f32
            } else {
                1.0
            };
            let s = on_backend!(self.device, reduce(op, &cur.storage, dims, scale))?;
            let mut shape = cur.shape.clone();
            run.iter().for_each(|&a| shape[a] = 1);
            cur = Self::wrap(&self.device, shape, s);
        }
        cur.reshape(&self.reduced_shape(axes, keepdim))
    }

    /// Sum over `axes` (all axes if empty).
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Array> {
        self.reduce("sum", ReduceOp::Sum, axes, keepdim, false)
    }

    /// Mean over `axes` (all axes if empty).
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Array> {
        self.reduce("mean", ReduceOp::Sum, axes, keepdim, true)
    }

    /// Maximum over `axes` (all axes if empty); NaN propagates.
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Array> {
        self.reduce("max", ReduceOp::Max, axes, keepdim, false)
    }

    /// Minimum over `axes` (all axes if empty); NaN propagates.
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Result<Array> {
        self.reduce("min", ReduceOp::Min, axes, keepdim, false)
    }

    /// Index of the first maximum along `axis`, as f32 (exact below 2^24).
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Result<Array> {
        self.reduce("argmax", ReduceOp::Argmax, &[axis], keepdim, false)
    }

    /// Index of the first minimum along `axis`, as f32 (exact below 2^24).
    pub fn argmin(&self, axis: isize, keepdim: bool) -> Result<Array> {
        self.reduce("argmin", ReduceOp::Argmin, &[axis], keepdim, false)
    }

    fn softmax_impl(&self, name: &'static str, axis: isize, log: bool) -> Result<Array> {
        let axis = normalize_axis(name, &self.shape, axis)?;
        let (_, dims) = self.reduce_view(name, &[axis])?;
        let s = on_backend!(self.device, softmax(&self.storage, dims, log))?;
        Ok(Self::wrap(&self.device, self.shape.clone(), s))
    }

    /// Softmax along `axis`, computed stably (the max is subtracted first).
    pub fn softmax(&self, axis: isize) -> Result<Array> {
        self.softmax_impl("softmax", axis, false)
    }

    /// Log-softmax along `axis`, computed stably.
    pub fn log_softmax(&self, axis: isize) -> Result<Array> {
        self.softmax_impl("log_softmax", axis, true)
    }
}
