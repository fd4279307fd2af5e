//! Shape ops: reshape, flatten, permute, transpose, slice, concat, pad, matmul.

use super::sum_to;
use crate::error::Result;
use crate::op::Op;
use crate::tape::{record, record_saving};
use crate::tensor::Tensor;
use fovea_device::Array;

impl Tensor {
    /// The same values in a new shape with as many elements.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let from = self.shape().to_vec();
        record_saving(
            Op::Reshape,
            self.array().reshape(shape)?,
            &[self],
            &[],
            move |g, _| Ok(vec![Some(g.reshape(&from)?)]),
        )
    }

    /// Axes `start..=end` merged into one (`torch.flatten(x, start, end)`); `flatten(1, -1)`
    /// turns `[N, C, H, W]` into `[N, C*H*W]`.
    pub fn flatten(&self, start: isize, end: isize) -> Result<Tensor> {
        let rank = self.rank() as isize;
        let fix = |a: isize| if a < 0 { a + rank } else { a };
        let (s, e) = (fix(start), fix(end));
        if rank == 0 || s < 0 || e >= rank || s > e {
            return Err(fovea_device::Error::invalid(
                "flatten",
                self.shape(),
                format!("axes {start}..={end} do not fit a rank-{rank} tensor"),
            )
            .into());
        }
        let (s, e) = (s as usize, e as usize);
        let dims = self.shape();
        let mut shape = dims[..s].to_vec();
        shape.push(dims[s..=e].iter().product());
        shape.extend_from_slice(&dims[e + 1..]);
        let from = dims.to_vec();
        record_saving(
            Op::Flatten,
            self.array().reshape(&shape)?,
            &[self],
            &[],
            move |g, _| Ok(vec![Some(g.reshape(&from)?)]),
        )
    }

    /// Axes reordered: output axis `i` is input axis `dims[i]`.
    pub fn permute(&self, dims: &[usize]) -> Result<Tensor> {
        let mut inverse = vec![0; dims.len()];
        for (i, &d) in dims.iter().enumerate() {
            if d < inverse.len() {
                inverse[d] = i;
            }
        }
        record_saving(
            Op::Permute,
            self.array().permute(dims)?,
            &[self],
            &[],
            move |g, _| Ok(vec![Some(g.permute(&inverse)?)]),
        )
    }

    /// Two axes swapped.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        record(
            Op::Transpose,
            self.array().transpose(a, b)?,
            &[self],
            move |g, _| Ok(vec![Some(g.transpose(a, b)?)]),
        )
    }

    /// Elements `start, start + step, ...` below `end` along `axis`.
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Result<Tensor> {
        let from = self.shape().to_vec();
        let v = self.array().slice(axis, start, end, step)?;
        record_saving(Op::Slice, v, &[self], &[], move |g, _| {
            Ok(vec![Some(Array::slice_backward(
                g, &from, axis, start, end, step,
            )?)])
        })
    }

    /// Tensors joined along `axis` (`torch.cat`).
    pub fn concat(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
        let arrays: Vec<Array> = tensors.iter().map(|t| t.array()).collect();
        let refs: Vec<&Array> = arrays.iter().collect();
        let v = Array::concat(&refs, axis)?;
        let ax = if axis < 0 {
            axis + v.rank() as isize
        } else {
            axis
        };
        let lens: Vec<usize> = arrays.iter().map(|a| a.shape()[ax as usize]).collect();
        record_saving(Op::Concat, v, tensors, &[], move |g, need| {
            let mut at = 0;
            let mut out = Vec::with_capacity(lens.len());
            for (len, n) in lens.iter().zip(need) {
                out.push(n.then(|| g.slice(ax, at, at + len, 1)).transpose()?);
                at += len;
            }
            Ok(out)
        })
    }

    /// Constant padding, one `(before, after)` pair per axis.
    pub fn pad(&self, pads: &[(usize, usize)], value: f32) -> Result<Tensor> {
        let pads_v = pads.to_vec();
        let from = self.shape().to_vec();
        record(
            Op::Pad,
            self.array().pad(pads, value)?,
            &[self],
            move |g, _| {
                let mut out = g.clone();
                for (d, (&(before, _), &n)) in pads_v.iter().zip(&from).enumerate() {
                    if out.shape()[d] != n {
                        out = out.slice(d as isize, before, before + n, 1)?;
                    }
                }
                Ok(vec![Some(out)])
            },
        )
    }

    /// Matrix product with `torch.matmul`'s shapes (`[..., M, K] x [..., K, N]`, rank-1
    /// operands as vectors, a batch-less operand shared across the other's batch).
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self.array(), other.array());
        let v = a.matmul(&b)?;
        record(Op::Matmul, v, &[self, other], move |g, need| {
            // Reinstate the axes a vector operand dropped, so both rules are plain matmuls.
            let a2 = if a.rank() == 1 {
                a.reshape(&[1, a.shape()[0]])?
            } else {
                a.clone()
            };
            let b2 = if b.rank() == 1 {
                b.reshape(&[b.shape()[0], 1])?
            } else {
                b.clone()
            };
            let mut gshape = g.shape().to_vec();
            if a.rank() == 1 {
                gshape.insert(gshape.len() - usize::from(b.rank() != 1), 1);
            }
            if b.rank() == 1 {
                gshape.push(1);
            }
            let g2 = g.reshape(&gshape)?;
            let ga = need[0]
                .then(|| -> Result<Array> {
                    let full = g2.matmul_t(&b2, false, true)?;
                    Ok(sum_to(&full, a2.shape())?.reshape(a.shape())?)
                })
                .transpose()?;
            let gb = need[1]
                .then(|| -> Result<Array> {
                    let full = a2.matmul_t(&g2, true, false)?;
                    Ok(sum_to(&full, b2.shape())?.reshape(b.shape())?)
                })
                .transpose()?;
            Ok(vec![ga, gb])
        })
    }
}
