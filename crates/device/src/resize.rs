//! Bilinear resize on [`Array`]s, forward and backward (DeepDream's octaves), like
//! `torch.nn.functional.interpolate(mode="bilinear")`.

use crate::array::Array;
use crate::error::{Error, Result};
use crate::ops::ResizeGeom;

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
        let s = self
            .device()
            .backend()
            .resize_bilinear(self.storage(), &g)?;
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
        let s = grad_y
            .device()
            .backend()
            .resize_bilinear_backward(grad_y.storage(), &g)?;
        Ok(Array::wrap(grad_y.device(), input_shape.to_vec(), s))
    }
}
