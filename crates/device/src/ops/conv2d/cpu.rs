//! CPU 2-D convolution: forward, gradient w.r.t. the input, gradient w.r.t. the weight.
//!
//! Each image and group is unfolded into columns (`im2col`: one row per (channel, kernel
//! row, kernel column), one column per output pixel), so all three passes become one matrix
//! product on the blocked `matrixmultiply` kernels. The direct loops over the definition stay
//! in the tests as the oracle.

use super::Conv2dGeom;
use crate::cpu::{read, store, Cpu};
use crate::error::Result;
use crate::ops::matmul::{gemm, MatRef};
use crate::storage::Storage;

/// Rows of a group's column matrix: `C_in / groups * KH * KW`.
fn col_rows(g: &Conv2dGeom) -> usize {
    g.c_in / g.groups * g.kh * g.kw
}

/// Unfolds image `n`, group `grp` of `x` into `col` (`col_rows x OH*OW`, zero where the
/// kernel reads padding).
fn im2col(x: &[f32], g: &Conv2dGeom, n: usize, grp: usize, col: &mut [f32]) {
    let (cig, plane) = (g.c_in / g.groups, g.oh * g.ow);
    for ci in 0..cig {
        let x_plane = &x[((n * g.c_in + grp * cig + ci) * g.h * g.w)..][..g.h * g.w];
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = &mut col[((ci * g.kh + ky) * g.kw + kx) * plane..][..plane];
                for oy in 0..g.oh {
                    let out = &mut row[oy * g.ow..][..g.ow];
                    let Some(iy) = g.in_row(oy, ky) else {
                        out.fill(0.0);
                        continue;
                    };
                    let src = &x_plane[iy * g.w..][..g.w];
                    if g.stride.1 == 1 {
                        // a shifted copy of the row, zeros where it falls off either edge
                        let shift = (kx * g.dilation.1) as isize - g.padding.1 as isize;
                        for (ox, v) in out.iter_mut().enumerate() {
                            let ix = ox as isize + shift;
                            *v = if ix >= 0 && (ix as usize) < g.w {
                                src[ix as usize]
                            } else {
                                0.0
                            };
                        }
                    } else {
                        for (ox, v) in out.iter_mut().enumerate() {
                            *v = g.in_col(ox, kx).map_or(0.0, |ix| src[ix]);
                        }
                    }
                }
            }
        }
    }
}

/// Adds the columns `col` back onto image `n`, group `grp` of `gx` (the adjoint of
/// [`im2col`]).
fn col2im(col: &[f32], g: &Conv2dGeom, n: usize, grp: usize, gx: &mut [f32]) {
    let (cig, plane) = (g.c_in / g.groups, g.oh * g.ow);
    for ci in 0..cig {
        let gx_plane = &mut gx[((n * g.c_in + grp * cig + ci) * g.h * g.w)..][..g.h * g.w];
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = &col[((ci * g.kh + ky) * g.kw + kx) * plane..][..plane];
                for oy in 0..g.oh {
                    let Some(iy) = g.in_row(oy, ky) else { continue };
                    for ox in 0..g.ow {
                        if let Some(ix) = g.in_col(ox, kx) {
                            gx_plane[iy * g.w + ix] += row[oy * g.ow + ox];
                        }
                    }
                }
            }
        }
    }
}

/// `y[n, co, oy, ox] = b[co] + sum_{ci, ky, kx} w[co, ci, ky, kx] x[n, g*cig + ci, iy, ix]`.
pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Conv2dGeom) -> Vec<f32> {
    let (plane, cog, k) = (g.oh * g.ow, g.c_out / g.groups, col_rows(g));
    let mut y: Vec<f32> = (0..g.n * g.c_out * plane)
        .map(|i| bias.map_or(0.0, |b| b[i / plane % g.c_out]))
        .collect();
    let mut col = vec![0.0; k * plane];
    for n in 0..g.n {
        for grp in 0..g.groups {
            im2col(x, g, n, grp, &mut col);
            let wg = MatRef::dense(w, grp * cog * k, cog, k);
            let y_off = (n * g.c_out + grp * cog) * plane;
            gemm(wg, MatRef::dense(&col, 0, k, plane), 1.0, &mut y, y_off);
        }
    }
    y
}

/// Gradient w.r.t. the input of `sum(y * grad_y)`.
pub fn backward_data(grad_y: &[f32], w: &[f32], g: &Conv2dGeom) -> Vec<f32> {
    let (plane, cog, k) = (g.oh * g.ow, g.c_out / g.groups, col_rows(g));
    let mut gx = vec![0.0; g.n * g.c_in * g.h * g.w];
    let mut col = vec![0.0; k * plane];
    for n in 0..g.n {
        for grp in 0..g.groups {
            let wg = MatRef::dense(w, grp * cog * k, cog, k);
            let gy = MatRef::dense(grad_y, (n * g.c_out + grp * cog) * plane, cog, plane);
            gemm(wg.t(), gy, 0.0, &mut col, 0);
            col2im(&col, g, n, grp, &mut gx);
        }
    }
    gx
}

/// Gradient w.r.t. the weight of `sum(y * grad_y)`.
pub fn backward_weight(x: &[f32], grad_y: &[f32], g: &Conv2dGeom) -> Vec<f32> {
    let (plane, cog, k) = (g.oh * g.ow, g.c_out / g.groups, col_rows(g));
    let mut gw = vec![0.0; g.c_out * k];
    let mut col = vec![0.0; k * plane];
    for n in 0..g.n {
        for grp in 0..g.groups {
            im2col(x, g, n, grp, &mut col);
            let gy = MatRef::dense(grad_y, (n * g.c_out + grp * cog) * plane, cog, plane);
            gemm(
                gy,
                MatRef::dense(&col, 0, k, plane).t(),
                1.0,
                &mut gw,
                grp * cog * k,
            );
        }
    }
    gw
}

impl Cpu {
    pub(crate) fn conv2d(
        &self,
        x: &Storage,
        w: &Storage,
        bias: Option<&Storage>,
        g: &Conv2dGeom,
    ) -> Result<Storage> {
        let b = bias.map(read).transpose()?;
        Ok(store(forward(
            &read(x)?,
            &read(w)?,
            b.as_deref().map(Vec::as_slice),
            g,
        )))
    }

    pub(crate) fn conv2d_backward_data(
        &self,
        grad_y: &Storage,
        w: &Storage,
        g: &Conv2dGeom,
    ) -> Result<Storage> {
        Ok(store(backward_data(&read(grad_y)?, &read(w)?, g)))
    }

    pub(crate) fn conv2d_backward_weight(
        &self,
        x: &Storage,
        grad_y: &Storage,
        g: &Conv2dGeom,
    ) -> Result<Storage> {
        Ok(store(backward_weight(&read(x)?, &read(grad_y)?, g)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Visits every (input index, weight index, output index) triple that the forward pass
    /// multiplies together: the definition, written for clarity.
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

    fn close(got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len());
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "element {i}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn im2col_passes_match_the_direct_loops() {
        let mut seed = 1u32;
        let mut rnd = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        // (n, c_in, h, w, c_out, k, stride, padding, dilation, groups)
        let cases = [
            (2, 3, 7, 6, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
            (1, 4, 9, 8, 6, (3, 2), (2, 1), (0, 2), (1, 2), 2),
            (3, 2, 5, 5, 2, (5, 5), (1, 1), (2, 2), (1, 1), 1),
            (2, 6, 6, 7, 6, (1, 3), (1, 2), (1, 0), (2, 1), 3),
        ];
        for (n, c_in, h, w, c_out, (kh, kw), stride, padding, dilation, groups) in cases {
            let out = |len: usize, k: usize, s: usize, p: usize, d: usize| {
                (len + 2 * p - d * (k - 1) - 1) / s + 1
            };
            let g = Conv2dGeom {
                n,
                c_in,
                h,
                w,
                c_out,
                kh,
                kw,
                oh: out(h, kh, stride.0, padding.0, dilation.0),
                ow: out(w, kw, stride.1, padding.1, dilation.1),
                stride,
                padding,
                dilation,
                groups,
            };
            let x: Vec<f32> = (0..n * c_in * h * w).map(|_| rnd()).collect();
            let wt: Vec<f32> = (0..c_out * c_in / groups * kh * kw)
                .map(|_| rnd())
                .collect();
            let b: Vec<f32> = (0..c_out).map(|_| rnd()).collect();
            let gy: Vec<f32> = (0..n * c_out * g.oh * g.ow).map(|_| rnd()).collect();
            let plane = g.oh * g.ow;
            let mut y: Vec<f32> = (0..gy.len()).map(|i| b[i / plane % c_out]).collect();
            let (mut gx, mut gw) = (vec![0.0; x.len()], vec![0.0; wt.len()]);
            for_each_tap(&g, |xi, wi, yi| {
                y[yi] += wt[wi] * x[xi];
                gx[xi] += wt[wi] * gy[yi];
                gw[wi] += x[xi] * gy[yi];
            });
            close(&forward(&x, &wt, Some(&b), &g), &y);
            close(&backward_data(&gy, &wt, &g), &gx);
            close(&backward_weight(&x, &gy, &g), &gw);
        }
    }
}
