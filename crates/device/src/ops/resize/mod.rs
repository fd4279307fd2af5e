//! Bilinear resize on [`Array`]s, forward and backward (DeepDream's octaves), like
//! `torch.nn.functional.interpolate(mode="bilinear")`.

mod cpu;
pub(crate) mod gpu;

use crate::array::Array;
use crate::error::{Error, Result};

fn geometry(
    op: &'static str,
    x: &[usize],
    (oh, ow): (usize, usize),
    align: bool,
) -> Result<ResizeGeom> {
    if x.len() != 4 || x.contains(&0) || oh == 0 || ow == 0 {
        return Err(Error::invalid(
            op,
            x,
            format!("expects a non-empty [N, C, H, W] input and an output size of at least 1x1, got {oh}x{ow}"),
        ));
    }
    Ok(ResizeGeom {
        planes: x[0] * x[1],
        h: x[2],
        w: x[3],
        oh,
        ow,
        align_corners: align,
    })
}

impl Array {
    /// Bilinear resize of an NCHW input to `size` (rows, columns).
    pub fn resize_bilinear(&self, size: (usize, usize), align_corners: bool) -> Result<Array> {
        let g = geometry("resize_bilinear", self.shape(), size, align_corners)?;
        let s = on_backend!(self.device(), resize_bilinear(self.storage(), &g))?;
        let shape = vec![self.shape()[0], self.shape()[1], size.0, size.1];
        Ok(Array::wrap(self.device(), shape, s))
    }

    /// Gradient w.r.t. the input of [`Array::resize_bilinear`], for an input of `input_shape`.
    pub fn resize_bilinear_backward(
        grad_y: &Array,
        input_shape: &[usize],
        align_corners: bool,
    ) -> Result<Array> {
        const OP: &str = "resize_bilinear_backward";
        if grad_y.rank() != 4 || grad_y.shape()[..2] != input_shape[..2.min(input_shape.len())] {
            return Err(Error::mismatch(
                OP,
                grad_y.shape(),
                input_shape,
                "grad_y must be [N, C, OH, OW] with the input's N and C",
            ));
        }
        let size = (grad_y.shape()[2], grad_y.shape()[3]);
        let g = geometry(OP, input_shape, size, align_corners)?;
        let s = on_backend!(
            grad_y.device(),
            resize_bilinear_backward(grad_y.storage(), &g)
        )?;
        Ok(Array::wrap(grad_y.device(), input_shape.to_vec(), s))
    }
}

/// Geometry of a bilinear resize of `planes` images from `h x w` to `oh x ow`, with
/// PyTorch's `align_corners` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResizeGeom {
    /// batch times channels
    pub planes: usize,
    /// input height
    pub h: usize,
    /// input width
    pub w: usize,
    /// output height
    pub oh: usize,
    /// output width
    pub ow: usize,
    /// corner pixels of input and output are aligned
    pub align_corners: bool,
}

impl ResizeGeom {
    /// Source coordinate scale along one axis, as PyTorch computes it (in f32).
    pub fn scale(&self, input: usize, output: usize) -> f32 {
        if self.align_corners {
            if output > 1 {
                (input as f32 - 1.0) / (output as f32 - 1.0)
            } else {
                0.0
            }
        } else {
            input as f32 / output as f32
        }
    }

    /// The two source indices and their weights for output index `o` along an axis of
    /// `input` elements resized by `scale`.
    pub fn taps(&self, o: usize, input: usize, scale: f32) -> (usize, usize, f32, f32) {
        let src = if self.align_corners {
            scale * o as f32
        } else {
            (scale * (o as f32 + 0.5) - 0.5).max(0.0)
        };
        let i0 = (src as usize).min(input - 1);
        let i1 = if i0 + 1 < input { i0 + 1 } else { i0 };
        let l1 = src - i0 as f32;
        (i0, i1, 1.0 - l1, l1)
    }
}
