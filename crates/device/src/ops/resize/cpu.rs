//! CPU reference of the bilinear resize: each output's four taps, and their transpose.

use super::ResizeGeom;
use crate::cpu::{filled, read, store, Cpu};
use crate::error::Result;
use crate::storage::Storage;

/// Visits every (input index, output index, weight) of a bilinear resize.
fn for_each_resize_tap(g: &ResizeGeom, mut f: impl FnMut(usize, usize, f32)) {
    let (sy, sx) = (g.scale(g.h, g.oh), g.scale(g.w, g.ow));
    for p in 0..g.planes {
        for oy in 0..g.oh {
            let (y0, y1, wy0, wy1) = g.taps(oy, g.h, sy);
            for ox in 0..g.ow {
                let (x0, x1, wx0, wx1) = g.taps(ox, g.w, sx);
                let o = (p * g.oh + oy) * g.ow + ox;
                let at = |iy: usize, ix: usize| (p * g.h + iy) * g.w + ix;
                f(at(y0, x0), o, wy0 * wx0);
                f(at(y0, x1), o, wy0 * wx1);
                f(at(y1, x0), o, wy1 * wx0);
                f(at(y1, x1), o, wy1 * wx1);
            }
        }
    }
}

/// Bilinear resize forward.
fn forward(x: &[f32], g: &ResizeGeom) -> Vec<f32> {
    let mut y = filled(g.planes * g.oh * g.ow, 0.0);
    for_each_resize_tap(g, |i, o, w| y[o] += w * x[i]);
    y
}

/// Bilinear resize backward: the transpose of the forward map.
fn backward(grad_y: &[f32], g: &ResizeGeom) -> Vec<f32> {
    let mut gx = filled(g.planes * g.h * g.w, 0.0);
    for_each_resize_tap(g, |i, o, w| gx[i] += w * grad_y[o]);
    gx
}

impl Cpu {
    pub(crate) fn resize_bilinear(&self, x: &Storage, g: &ResizeGeom) -> Result<Storage> {
        Ok(store(forward(&read(x)?, g)))
    }

    pub(crate) fn resize_bilinear_backward(
        &self,
        grad_y: &Storage,
        g: &ResizeGeom,
    ) -> Result<Storage> {
        Ok(store(backward(&read(grad_y)?, g)))
    }
}
