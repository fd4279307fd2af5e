//! CPU reference of pooling: direct loops over each window.

use super::{Pool2dGeom, PoolKind};
use crate::cpu::{read, store, Cpu};
use crate::error::Result;
use crate::storage::Storage;

/// Input rows (or columns) a pooling window reads along one axis: `(start, end, step)`, with
/// `start` possibly negative (padding), before clipping.
fn window(g: &Pool2dGeom, o: usize, axis: usize) -> (isize, isize, isize) {
    let (size, out, k, s, p, d) = if axis == 0 {
        (g.h, g.oh, g.kernel.0, g.stride.0, g.padding.0, g.dilation.0)
    } else {
        (g.w, g.ow, g.kernel.1, g.stride.1, g.padding.1, g.dilation.1)
    };
    match g.kind {
        PoolKind::AdaptiveAvg => (
            (o * size / out) as isize,
            ((o + 1) * size).div_ceil(out) as isize,
            1,
        ),
        _ => {
            let start = (o * s) as isize - p as isize;
            (start, start + ((k - 1) * d + 1) as isize, d as isize)
        }
    }
}

/// The divisor of an average window starting at `(y0, x0)` with end `(y1, x1)` (unclipped).
fn avg_divisor(g: &Pool2dGeom, (y0, y1): (isize, isize), (x0, x1): (isize, isize)) -> f32 {
    match g.kind {
        PoolKind::Avg {
            divisor: Some(d), ..
        } => d as f32,
        PoolKind::Avg {
            count_include_pad: true,
            ..
        } => {
            let ye = y1.min((g.h + g.padding.0) as isize);
            let xe = x1.min((g.w + g.padding.1) as isize);
            ((ye - y0) * (xe - x0)) as f32
        }
        _ => {
            let (ys, ye) = (y0.max(0), y1.min(g.h as isize));
            let (xs, xe) = (x0.max(0), x1.min(g.w as isize));
            ((ye - ys) * (xe - xs)) as f32
        }
    }
}

/// Pooling forward: the output, and for max pooling the plane-local index `iy * W + ix` of
/// each window's maximum.
fn forward(x: &[f32], g: &Pool2dGeom) -> (Vec<f32>, Vec<f32>) {
    let mut y = Vec::with_capacity(g.planes * g.oh * g.ow);
    let mut idx = Vec::new();
    for p in 0..g.planes {
        let plane = &x[p * g.h * g.w..(p + 1) * g.h * g.w];
        for oy in 0..g.oh {
            let (y0, y1, dy) = window(g, oy, 0);
            for ox in 0..g.ow {
                let (x0, x1, dx) = window(g, ox, 1);
                let taps = (y0..y1)
                    .step_by(dy as usize)
                    .flat_map(|iy| (x0..x1).step_by(dx as usize).map(move |ix| (iy, ix)));
                let inside = taps.filter(|&(iy, ix)| {
                    iy >= 0 && ix >= 0 && iy < g.h as isize && ix < g.w as isize
                });
                if g.kind == PoolKind::Max {
                    let (mut best, mut at) = (f32::NEG_INFINITY, None);
                    for (iy, ix) in inside {
                        let i = iy as usize * g.w + ix as usize;
                        if at.is_none() || plane[i] > best || plane[i].is_nan() {
                            (best, at) = (plane[i], Some(i));
                        }
                    }
                    y.push(best);
                    idx.push(at.unwrap_or(0) as f32);
                } else {
                    let sum: f32 = inside
                        .map(|(iy, ix)| plane[iy as usize * g.w + ix as usize])
                        .sum();
                    y.push(sum / avg_divisor(g, (y0, y1), (x0, x1)));
                }
            }
        }
    }
    (y, idx)
}

/// Pooling backward: each output's gradient goes to its window's maximum (max pooling) or is
/// spread evenly over its window (average pooling).
fn backward(grad_y: &[f32], indices: &[f32], g: &Pool2dGeom) -> Vec<f32> {
    let mut gx = vec![0.0; g.planes * g.h * g.w];
    for p in 0..g.planes {
        let gxp = &mut gx[p * g.h * g.w..(p + 1) * g.h * g.w];
        for oy in 0..g.oh {
            let (y0, y1, dy) = window(g, oy, 0);
            for ox in 0..g.ow {
                let o = (p * g.oh + oy) * g.ow + ox;
                if g.kind == PoolKind::Max {
                    gxp[indices[o] as usize] += grad_y[o];
                    continue;
                }
                let (x0, x1, dx) = window(g, ox, 1);
                let share = grad_y[o] / avg_divisor(g, (y0, y1), (x0, x1));
                for iy in (y0.max(0)..y1.min(g.h as isize)).step_by(dy as usize) {
                    for ix in (x0.max(0)..x1.min(g.w as isize)).step_by(dx as usize) {
                        gxp[iy as usize * g.w + ix as usize] += share;
                    }
                }
            }
        }
    }
    gx
}

impl Cpu {
    pub(crate) fn pool2d(&self, x: &Storage, g: &Pool2dGeom) -> Result<(Storage, Option<Storage>)> {
        let (y, idx) = forward(&read(x)?, g);
        Ok((store(y), (g.kind == PoolKind::Max).then(|| store(idx))))
    }

    pub(crate) fn pool2d_backward(
        &self,
        grad_y: &Storage,
        indices: Option<&Storage>,
        g: &Pool2dGeom,
    ) -> Result<Storage> {
        let idx = indices.map(read).transpose()?;
        let idx: &[f32] = idx.as_deref().map_or(&[], |v| v.as_slice());
        Ok(store(backward(&read(grad_y)?, idx, g)))
    }
}
