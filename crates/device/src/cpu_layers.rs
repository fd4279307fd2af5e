//! CPU reference of the layer kernels: pooling, bilinear resize, batch-norm moments and
//! affine maps, softmax cross-entropy, and the SGD / Adam updates. Direct loops over each
//! definition, written for clarity, not speed.

use crate::ops::{
    AdamStep, ChannelDims, CrossEntropyGeom, Pool2dGeom, PoolKind, ResizeGeom, SgdStep,
};

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
pub fn pool2d(x: &[f32], g: &Pool2dGeom) -> (Vec<f32>, Vec<f32>) {
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
pub fn pool2d_backward(grad_y: &[f32], indices: &[f32], g: &Pool2dGeom) -> Vec<f32> {
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
pub fn resize_bilinear(x: &[f32], g: &ResizeGeom) -> Vec<f32> {
    let mut y = vec![0.0; g.planes * g.oh * g.ow];
    for_each_resize_tap(g, |i, o, w| y[o] += w * x[i]);
    y
}

/// Bilinear resize backward: the transpose of the forward map.
pub fn resize_bilinear_backward(grad_y: &[f32], g: &ResizeGeom) -> Vec<f32> {
    let mut gx = vec![0.0; g.planes * g.h * g.w];
    for_each_resize_tap(g, |i, o, w| gx[i] += w * grad_y[o]);
    gx
}

/// Per-channel moments: without `z`, `[mean(x), mean((x - mean)^2)]`; with `z`,
/// `[sum(z), sum(z * (x - center))]`. Sums run in f64.
pub fn channel_moments(x: &[f32], z: Option<&[f32]>, center: &[f32], d: ChannelDims) -> Vec<f32> {
    let mut out = vec![0.0; 2 * d.c];
    let m = d.per_channel() as f64;
    for c in 0..d.c {
        let idx = (0..d.n).flat_map(|n| (0..d.hw).map(move |i| (n * d.c + c) * d.hw + i));
        let (a, b) = match z {
            None => {
                let mean = idx.clone().map(|i| x[i] as f64).sum::<f64>() / m;
                let var = idx.map(|i| (x[i] as f64 - mean).powi(2)).sum::<f64>() / m;
                (mean, var)
            }
            Some(z) => {
                let mu = center[c] as f64;
                let sz = idx.clone().map(|i| z[i] as f64).sum::<f64>();
                let szx = idx.map(|i| z[i] as f64 * (x[i] as f64 - mu)).sum::<f64>();
                (sz, szx)
            }
        };
        out[c] = a as f32;
        out[d.c + c] = b as f32;
    }
    out
}

/// `out = coef[c] * x + coef[C + c] + coef[2C + c] * z` (the `z` term only if given).
pub fn channel_affine(x: &[f32], z: Option<&[f32]>, coef: &[f32], d: ChannelDims) -> Vec<f32> {
    (0..d.len())
        .map(|i| {
            let c = i / d.hw % d.c;
            let v = coef[c] * x[i] + coef[d.c + c];
            z.map_or(v, |z| v + coef[2 * d.c + c] * z[i])
        })
        .collect()
}

/// Softmax cross-entropy per row, and its gradient w.r.t. the logits (of the row losses'
/// sum). An ignored row gives 0 and 0; a label that is not a class index gives NaN.
pub fn cross_entropy(logits: &[f32], labels: &[f32], g: &CrossEntropyGeom) -> (Vec<f32>, Vec<f32>) {
    let c = g.classes;
    let mut loss = vec![0.0; g.rows];
    let mut grad = vec![0.0; g.rows * c];
    for r in 0..g.rows {
        let z = &logits[r * c..(r + 1) * c];
        let gr = &mut grad[r * c..(r + 1) * c];
        let label = labels[r];
        if label == g.ignore_index as f32 {
            continue;
        }
        if label.fract() != 0.0 || label < 0.0 || label >= c as f32 {
            loss[r] = f32::NAN;
            gr.fill(f32::NAN);
            continue;
        }
        let y = label as usize;
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = z.iter().map(|v| (v - max).exp()).sum();
        let lse = max + sum.ln();
        let e = g.smoothing;
        let mean_z = z.iter().sum::<f32>() / c as f32;
        loss[r] = lse - (1.0 - e) * z[y] - e * mean_z;
        for (j, gj) in gr.iter_mut().enumerate() {
            let target = e / c as f32 + if j == y { 1.0 - e } else { 0.0 };
            *gj = (z[j] - lse).exp() - target;
        }
    }
    (loss, grad)
}

/// One SGD step in place, as `torch.optim.SGD` (single-tensor path).
pub fn sgd_step(param: &mut [f32], grad: &[f32], buf: Option<&mut [f32]>, s: &SgdStep) {
    let mut buf = buf;
    for i in 0..param.len() {
        let mut g = if s.maximize { -grad[i] } else { grad[i] };
        g += s.weight_decay * param[i];
        if let Some(b) = buf.as_deref_mut() {
            b[i] = if s.first {
                g
            } else {
                s.momentum * b[i] + (1.0 - s.dampening) * g
            };
            g = if s.nesterov {
                g + s.momentum * b[i]
            } else {
                b[i]
            };
        }
        param[i] -= s.lr * g;
    }
}

/// One Adam / AdamW step in place, as `torch.optim.Adam` (single-tensor path).
pub fn adam_step(
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    mut vmax: Option<&mut [f32]>,
    s: &AdamStep,
) {
    for i in 0..param.len() {
        let mut g = if s.maximize { -grad[i] } else { grad[i] };
        if s.decoupled {
            param[i] *= 1.0 - s.lr * s.weight_decay;
        } else {
            g += s.weight_decay * param[i];
        }
        m[i] += (g - m[i]) * (1.0 - s.beta1);
        v[i] = v[i] * s.beta2 + (1.0 - s.beta2) * g * g;
        let second = match vmax.as_deref_mut() {
            Some(vm) => {
                vm[i] = vm[i].max(v[i]);
                vm[i]
            }
            None => v[i],
        };
        let denom = second.sqrt() / s.bias_correction2_sqrt + s.eps;
        param[i] -= s.lr / s.bias_correction1 * m[i] / denom;
    }
}
