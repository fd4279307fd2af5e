//! CPU reference of 2-D convolution: forward, gradient w.r.t. the input, gradient w.r.t. the
//! weight. Direct loops over the definition, written for clarity, not speed.

use crate::ops::Conv2dGeom;

/// `y[n, co, oy, ox] = b[co] + sum_{ci, ky, kx} w[co, ci, ky, kx] x[n, g*cig + ci, iy, ix]`.
pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Conv2dGeom) -> Vec<f32> {
    let plane = g.oh * g.ow;
    let mut y: Vec<f32> = (0..g.n * g.c_out * plane)
        .map(|i| bias.map_or(0.0, |b| b[i / plane % g.c_out]))
        .collect();
    for_each_tap(g, |xi, wi, yi| y[yi] += w[wi] * x[xi]);
    y
}

/// Visits every (input index, weight index, output index) triple that the forward pass
/// multiplies together.
fn for_each_tap(g: &Conv2dGeom, mut f: impl FnMut(usize, usize, usize)) {
    let (cig, cog) = (g.c_in / g.groups, g.c_out / g.groups);
    for n in 0..g.n {
        for co in 0..g.c_out {
            let grp = co / cog;
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let yi = ((n * g.c_out + co) * g.oh + oy) * g.ow + ox;
                    for ci in 0..cig {
                        for ky in 0..g.kh {
                            let Some(iy) = g.in_row(oy, ky) else { continue };
                            for kx in 0..g.kw {
                                let Some(ix) = g.in_col(ox, kx) else { continue };
                                let xi = ((n * g.c_in + grp * cig + ci) * g.h + iy) * g.w + ix;
                                f(xi, ((co * cig + ci) * g.kh + ky) * g.kw + kx, yi);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Gradient w.r.t. the input of `sum(y * grad_y)`.
pub fn backward_data(grad_y: &[f32], w: &[f32], g: &Conv2dGeom) -> Vec<f32> {
    let mut gx = vec![0.0; g.n * g.c_in * g.h * g.w];
    for_each_tap(g, |xi, wi, yi| gx[xi] += w[wi] * grad_y[yi]);
    gx
}

/// Gradient w.r.t. the weight of `sum(y * grad_y)`.
pub fn backward_weight(x: &[f32], grad_y: &[f32], g: &Conv2dGeom) -> Vec<f32> {
    let mut gw = vec![0.0; g.c_out * (g.c_in / g.groups) * g.kh * g.kw];
    for_each_tap(g, |xi, wi, yi| gw[wi] += x[xi] * grad_y[yi]);
    gw
}
