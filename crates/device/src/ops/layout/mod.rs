//! Layout ops: permute, transpose, slice (and its backward), broadcast_to, concat and pad.
//! Each is one or more strided copies ([`CopyPiece`]) into a new array.

mod cpu;
pub(crate) mod gpu;

use crate::array::{checked_numel, Array};
use crate::error::{Error, Result};
use crate::shape::{broadcast_shape, broadcast_strides, normalize_axis, numel, strides};
use crate::storage::Storage;

/// One strided copy: element `i` of the iteration space `shape` goes from
/// `src[src_offset + i·src_strides]` to `dst[dst_offset + i·dst_strides]`.
///
/// Permute, slice, concat and pad are all made of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyPiece {
    /// iteration space
    pub shape: Vec<usize>,
    /// first source element
    pub src_offset: usize,
    /// source strides per axis of `shape`
    pub src_strides: Vec<usize>,
    /// first destination element
    pub dst_offset: usize,
    /// destination strides per axis of `shape`
    pub dst_strides: Vec<usize>,
}

impl Array {
    fn gather(
        &self,
        shape: Vec<usize>,
        fill: Option<f32>,
        pieces: &[(&Array, CopyPiece)],
    ) -> Result<Array> {
        let n = numel(&shape);
        let refs: Vec<(&Storage, CopyPiece)> = pieces
            .iter()
            .map(|(a, p)| (&a.storage, p.clone()))
            .collect();
        let s = on_backend!(self.device, assemble(n, fill, &refs))?;
        Ok(Self::wrap(&self.device, shape, s))
    }

    /// Axes reordered: output axis `i` is input axis `dims[i]` (`torch.permute`).
    pub fn permute(&self, dims: &[usize]) -> Result<Array> {
        let mut seen = vec![false; self.rank()];
        let valid = dims.len() == self.rank()
            && dims
                .iter()
                .all(|&d| d < self.rank() && !std::mem::replace(&mut seen[d], true));
        if !valid {
            return Err(Error::invalid(
                "permute",
                &self.shape,
                format!("{dims:?} is not a permutation of 0..{}", self.rank()),
            ));
        }
        let own = strides(&self.shape);
        let shape: Vec<usize> = dims.iter().map(|&d| self.shape[d]).collect();
        let piece = CopyPiece {
            src_offset: 0,
            src_strides: dims.iter().map(|&d| own[d]).collect(),
            dst_offset: 0,
            dst_strides: strides(&shape),
            shape: shape.clone(),
        };
        self.gather(shape, None, &[(self, piece)])
    }

    /// Two axes swapped.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Array> {
        let (a, b) = (
            normalize_axis("transpose", &self.shape, a)?,
            normalize_axis("transpose", &self.shape, b)?,
        );
        let mut dims: Vec<usize> = (0..self.rank()).collect();
        dims.swap(a, b);
        self.permute(&dims)
    }

    /// Elements `start, start + step, ...` below `end` along `axis` (`x[..., start:end:step]`).
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Result<Array> {
        let ax = normalize_axis("slice", &self.shape, axis)?;
        if step == 0 || start > end || end > self.shape[ax] {
            return Err(Error::invalid(
                "slice",
                &self.shape,
                format!(
                    "range {start}..{end} step {step} does not fit axis {ax} of length {}",
                    self.shape[ax]
                ),
            ));
        }
        let own = strides(&self.shape);
        let mut shape = self.shape.clone();
        shape[ax] = (end - start).div_ceil(step);
        let mut src_strides = own.clone();
        src_strides[ax] *= step;
        let piece = CopyPiece {
            src_offset: start * own[ax],
            src_strides,
            dst_offset: 0,
            dst_strides: strides(&shape),
            shape: shape.clone(),
        };
        self.gather(shape, None, &[(self, piece)])
    }

    /// Gradient w.r.t. the input of [`Array::slice`]: `grad_y` scattered into zeros of
    /// `input_shape` at the sliced positions.
    pub fn slice_backward(
        grad_y: &Array,
        input_shape: &[usize],
        axis: isize,
        start: usize,
        end: usize,
        step: usize,
    ) -> Result<Array> {
        const OP: &str = "slice_backward";
        let ax = normalize_axis(OP, input_shape, axis)?;
        let fits = step > 0 && start <= end && end <= input_shape[ax];
        let mut want = input_shape.to_vec();
        if fits {
            want[ax] = (end - start).div_ceil(step);
        }
        if !fits || grad_y.shape != want {
            return Err(Error::mismatch(
                OP,
                &grad_y.shape,
                input_shape,
                format!("grad_y must have the shape of x[{start}..{end} step {step}] on axis {ax}"),
            ));
        }
        let own = strides(input_shape);
        let mut dst_strides = own.clone();
        dst_strides[ax] *= step;
        let piece = CopyPiece {
            shape: grad_y.shape.clone(),
            src_offset: 0,
            src_strides: strides(&grad_y.shape),
            dst_offset: start * own[ax],
            dst_strides,
        };
        grad_y.gather(input_shape.to_vec(), Some(0.0), &[(grad_y, piece)])
    }

    /// The array repeated along its size-1 (or missing leading) axes to `shape`, NumPy
    /// broadcasting rules (`torch.Tensor.expand`, materialised).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Array> {
        const OP: &str = "broadcast_to";
        if broadcast_shape(&self.shape, shape).as_deref() != Some(shape) {
            return Err(Error::mismatch(
                OP,
                &self.shape,
                shape,
                "each axis must equal the target's or be 1 (NumPy broadcasting)",
            ));
        }
        checked_numel(OP, shape)?;
        let piece = CopyPiece {
            shape: shape.to_vec(),
            src_offset: 0,
            src_strides: broadcast_strides(&self.shape, shape),
            dst_offset: 0,
            dst_strides: strides(shape),
        };
        self.gather(shape.to_vec(), None, &[(self, piece)])
    }

    /// Arrays joined along `axis`; all other axes must match (`torch.cat`).
    pub fn concat(arrays: &[&Array], axis: isize) -> Result<Array> {
        let first = arrays
            .first()
            .ok_or_else(|| Error::invalid("concat", &[], "needs at least one array"))?;
        let ax = normalize_axis("concat", &first.shape, axis)?;
        let mut shape = first.shape.clone();
        shape[ax] = 0;
        for a in arrays {
            first.same_device("concat", a)?;
            let fits = a.rank() == first.rank()
                && (0..a.rank()).all(|d| d == ax || a.shape[d] == first.shape[d]);
            if !fits {
                return Err(Error::mismatch(
                    "concat",
                    &first.shape,
                    &a.shape,
                    format!("every axis but {ax} must match"),
                ));
            }
            shape[ax] += a.shape[ax];
        }
        checked_numel("concat", &shape)?;
        let out_strides = strides(&shape);
        let mut at = 0;
        let pieces: Vec<(&Array, CopyPiece)> = arrays
            .iter()
            .map(|a| {
                let piece = CopyPiece {
                    shape: a.shape.clone(),
                    src_offset: 0,
                    src_strides: strides(&a.shape),
                    dst_offset: at * out_strides[ax],
                    dst_strides: out_strides.clone(),
                };
                at += a.shape[ax];
                (*a, piece)
            })
            .collect();
        first.gather(shape, None, &pieces)
    }

    /// Constant padding: `pads[d] = (before, after)` elements added on axis `d`, one pair per axis.
    pub fn pad(&self, pads: &[(usize, usize)], value: f32) -> Result<Array> {
        if pads.len() != self.rank() {
            return Err(Error::invalid(
                "pad",
                &self.shape,
                format!(
                    "{} (before, after) pairs given; give one per axis ({})",
                    pads.len(),
                    self.rank()
                ),
            ));
        }
        let shape: Vec<usize> = self
            .shape
            .iter()
            .zip(pads)
            .map(|(n, (b, a))| n + b + a)
            .collect();
        checked_numel("pad", &shape)?;
        let out_strides = strides(&shape);
        let piece = CopyPiece {
            shape: self.shape.clone(),
            src_offset: 0,
            src_strides: strides(&self.shape),
            dst_offset: pads.iter().zip(&out_strides).map(|((b, _), s)| b * s).sum(),
            dst_strides: out_strides,
        };
        self.gather(shape, Some(value), &[(self, piece)])
    }
}
