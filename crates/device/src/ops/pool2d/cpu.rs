//! CPU pooling: each plane on its own core, each window's rows and columns clipped once.
//! The iterator loops over the definition (`forward_reference`, `backward_reference`) stay
//! as the oracle the fast loops are tested against.

use super::{Pool2dGeom, PoolKind};
use crate::cpu::{filled, output, par_chunks, par_chunks2, read, store, Cpu};
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
#[cfg(test)]
fn forward_reference(x: &[f32], g: &Pool2dGeom) -> (Vec<f32>, Vec<f32>) {
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
#[cfg(test)]
fn backward_reference(grad_y: &[f32], indices: &[f32], g: &Pool2dGeom) -> Vec<f32> {
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

/// The taps of a window along one axis that fall inside `0..size`: `(first, end, step)`.
fn clipped((start, end, step): (isize, isize, isize), size: usize) -> (usize, usize, usize) {
    let first = if start < 0 {
        start + (-start).div_euclid(step) * step + if (-start) % step == 0 { 0 } else { step }
    } else {
        start
    };
    let end = end.min(size as isize);
    (
        first.max(0) as usize,
        end.max(first.max(0)) as usize,
        step as usize,
    )
}

/// Pooling forward: the output, and for max pooling the plane-local index `iy * W + ix` of
/// each window's maximum (ties keep the first; a NaN wins).
fn forward(x: &[f32], g: &Pool2dGeom) -> (Vec<f32>, Vec<f32>) {
    let out = g.oh * g.ow;
    let max = g.kind == PoolKind::Max;
    let mut y = output(g.planes * out);
    let mut idx = output(if max { g.planes * out } else { 0 });
    // Each output column's window, clipped once for every row and plane.
    let cols: Vec<_> = (0..g.ow)
        .map(|ox| {
            let w = window(g, ox, 1);
            (w, clipped(w, g.w))
        })
        .collect();
    let plane = |p: usize, y: &mut [f32], idx: &mut [f32]| {
        let xp = &x[p * g.h * g.w..][..g.h * g.w];
        for oy in 0..g.oh {
            let rows_w = window(g, oy, 0);
            let (ys, ye, dy) = clipped(rows_w, g.h);
            for (ox, &(cols_w, (xs, xe, dx))) in cols.iter().enumerate() {
                let o = oy * g.ow + ox;
                if max {
                    if ys >= ye || xs >= xe {
                        (y[o], idx[o]) = (f32::NEG_INFINITY, 0.0);
                        continue;
                    }
                    // The first tap starts the scan; a later one wins if larger or NaN.
                    let mut at = ys * g.w + xs;
                    let mut best = xp[at];
                    for iy in (ys..ye).step_by(dy) {
                        let row = &xp[iy * g.w..];
                        for ix in (xs..xe).step_by(dx) {
                            // selects, not a branch: random data would mispredict half
                            let v = row[ix];
                            let take = v > best || v.is_nan();
                            best = if take { v } else { best };
                            at = if take { iy * g.w + ix } else { at };
                        }
                    }
                    y[o] = best;
                    idx[o] = at as f32;
                } else {
                    let mut sum = 0.0f32;
                    for iy in (ys..ye).step_by(dy) {
                        for ix in (xs..xe).step_by(dx) {
                            sum += xp[iy * g.w + ix];
                        }
                    }
                    let (r, c) = ((rows_w.0, rows_w.1), (cols_w.0, cols_w.1));
                    y[o] = sum / avg_divisor(g, r, c);
                }
            }
        }
    };
    if max {
        par_chunks2(&mut y, &mut idx, out, |p, y, idx| plane(p, y, idx));
    } else {
        par_chunks(&mut y, out, |p, y| plane(p, y, &mut []));
    }
    (y, idx)
}

/// Pooling backward: each output's gradient goes to its window's maximum (max pooling) or is
/// spread evenly over its window (average pooling).
fn backward(grad_y: &[f32], indices: &[f32], g: &Pool2dGeom) -> Vec<f32> {
    let mut gx = filled(g.planes * g.h * g.w, 0.0);
    par_chunks(&mut gx, g.h * g.w, |p, gxp| {
        for oy in 0..g.oh {
            let rows_w = window(g, oy, 0);
            let (ys, ye, dy) = clipped(rows_w, g.h);
            for ox in 0..g.ow {
                let o = (p * g.oh + oy) * g.ow + ox;
                if g.kind == PoolKind::Max {
                    gxp[indices[o] as usize] += grad_y[o];
                    continue;
                }
                let cols_w = window(g, ox, 1);
                let (xs, xe, dx) = clipped(cols_w, g.w);
                let (r, c) = ((rows_w.0, rows_w.1), (cols_w.0, cols_w.1));
                let share = grad_y[o] / avg_divisor(g, r, c);
                for iy in (ys..ye).step_by(dy) {
                    for ix in (xs..xe).step_by(dx) {
                        gxp[iy * g.w + ix] += share;
                    }
                }
            }
        }
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The clipped, per-plane loops give exactly what the definition's loops give, for every
    /// kind of pooling, with padding, dilation, ceil-mode windows and NaNs.
    #[test]
    fn fast_loops_match_the_definition() {
        let mut seed = 7u32;
        let mut rnd = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let avg = |count_include_pad, divisor| PoolKind::Avg {
            count_include_pad,
            divisor,
        };
        // (kind, h, w, oh, ow, kernel, stride, padding, dilation)
        let cases = [
            (PoolKind::Max, 8, 8, 4, 4, (2, 2), (2, 2), (0, 0), (1, 1)),
            (PoolKind::Max, 7, 9, 4, 5, (3, 3), (2, 2), (1, 1), (1, 1)),
            (PoolKind::Max, 9, 9, 3, 4, (3, 2), (3, 2), (1, 1), (2, 2)),
            (avg(true, None), 7, 7, 4, 4, (3, 3), (2, 2), (1, 1), (1, 1)),
            (avg(false, None), 7, 7, 4, 4, (3, 3), (2, 2), (1, 1), (1, 1)),
            (
                avg(true, Some(5)),
                6,
                6,
                3,
                3,
                (2, 2),
                (2, 2),
                (0, 0),
                (1, 1),
            ),
            (
                PoolKind::AdaptiveAvg,
                7,
                5,
                3,
                2,
                (0, 0),
                (0, 0),
                (0, 0),
                (0, 0),
            ),
        ];
        for (kind, h, w, oh, ow, kernel, stride, padding, dilation) in cases {
            let g = Pool2dGeom {
                kind,
                planes: 5,
                h,
                w,
                oh,
                ow,
                kernel,
                stride,
                padding,
                dilation,
            };
            let mut x: Vec<f32> = (0..g.planes * h * w).map(|_| rnd()).collect();
            x[3] = f32::NAN;
            let (y, idx) = forward(&x, &g);
            let (want_y, want_idx) = forward_reference(&x, &g);
            let same = |a: &[f32], b: &[f32]| {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(p, q)| p == q || p.is_nan() && q.is_nan())
            };
            assert!(same(&y, &want_y), "{g:?}: forward");
            if kind == PoolKind::Max {
                assert_eq!(idx, want_idx, "{g:?}: argmax");
            }
            let gy: Vec<f32> = (0..g.planes * oh * ow).map(|_| rnd()).collect();
            let gx = backward(&gy, &want_idx, &g);
            let want = backward_reference(&gy, &want_idx, &g);
            assert!(same(&gx, &want), "{g:?}: backward");
        }
    }
}
