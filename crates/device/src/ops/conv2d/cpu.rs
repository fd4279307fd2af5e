//! CPU 2-D convolution: forward, gradient w.r.t. the input, gradient w.r.t. the weight.
//!
//! Each image and group is unfolded into columns (`im2col`: one row per (channel, kernel
//! row, kernel column), one column per output pixel), so all three passes become one matrix
//! product on the `gemm` crate's blocked kernels. A batch spreads its images over the cores
//! (each with its own column buffer, kept between calls); a single image spreads its GEMM
//! instead. The direct loops over the definition stay in the tests as the oracle.

use super::Conv2dGeom;
use crate::cpu::{cores, filled, par_chunks, par_sum, read, store, with_scratch, Cpu};
use crate::error::Result;
use crate::ops::matmul::{gemm, MatRef, Threads};
use crate::storage::Storage;

/// Rows of a group's column matrix: `C_in / groups * KH * KW`.
fn col_rows(g: &Conv2dGeom) -> usize {
    g.c_in / g.groups * g.kh * g.kw
}

/// The output columns `ox` whose input column `ox * stride + shift` lies inside `0..w`
/// (stride 1).
fn inside(g: &Conv2dGeom, shift: isize) -> (usize, usize) {
    let lo = (-shift).clamp(0, g.ow as isize) as usize;
    let hi = (g.w as isize - shift).clamp(0, g.ow as isize) as usize;
    (lo, hi)
}

/// Unfolds group `grp` of one image `x` (`[C_in, H, W]`) into `col` (`col_rows x OH*OW`,
/// zero where the kernel reads padding).
fn im2col(x: &[f32], g: &Conv2dGeom, grp: usize, col: &mut [f32]) {
    let (cig, plane) = (g.c_in / g.groups, g.oh * g.ow);
    for ci in 0..cig {
        let x_plane = &x[((grp * cig + ci) * g.h * g.w)..][..g.h * g.w];
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = &mut col[((ci * g.kh + ky) * g.kw + kx) * plane..][..plane];
                let shift = (kx * g.dilation.1) as isize - g.padding.1 as isize;
                for oy in 0..g.oh {
                    let out = &mut row[oy * g.ow..][..g.ow];
                    let Some(iy) = g.in_row(oy, ky) else {
                        out.fill(0.0);
                        continue;
                    };
                    let src = &x_plane[iy * g.w..][..g.w];
                    if g.stride.1 == 1 {
                        // a shifted copy of the row, zeros where it falls off either edge
                        let (lo, hi) = inside(g, shift);
                        out.fill(0.0);
                        if lo < hi {
                            let from = (lo as isize + shift) as usize;
                            out[lo..hi].copy_from_slice(&src[from..from + hi - lo]);
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

/// Adds the columns `col` back onto group `grp` of one image's gradient `gx` (`[C_in, H, W]`;
/// the adjoint of [`im2col`]).
fn col2im(col: &[f32], g: &Conv2dGeom, grp: usize, gx: &mut [f32]) {
    let (cig, plane) = (g.c_in / g.groups, g.oh * g.ow);
    for ci in 0..cig {
        let gx_plane = &mut gx[((grp * cig + ci) * g.h * g.w)..][..g.h * g.w];
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = &col[((ci * g.kh + ky) * g.kw + kx) * plane..][..plane];
                let shift = (kx * g.dilation.1) as isize - g.padding.1 as isize;
                for oy in 0..g.oh {
                    let Some(iy) = g.in_row(oy, ky) else { continue };
                    let src = &row[oy * g.ow..][..g.ow];
                    let dst = &mut gx_plane[iy * g.w..][..g.w];
                    if g.stride.1 == 1 {
                        let (lo, hi) = inside(g, shift);
                        if lo < hi {
                            let from = (lo as isize + shift) as usize;
                            let dst = &mut dst[from..from + hi - lo];
                            for (d, v) in dst.iter_mut().zip(&src[lo..hi]) {
                                *d += v;
                            }
                        }
                    } else {
                        for (ox, v) in src.iter().enumerate() {
                            if let Some(ix) = g.in_col(ox, kx) {
                                dst[ix] += v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether to spread a convolution's images over the cores (each image's GEMM then runs on
/// one thread), rather than run images in turn with each GEMM spread over the cores.
fn by_image(g: &Conv2dGeom) -> (bool, Threads) {
    let many = g.n >= 2 * cores();
    (many, if many { Threads::One } else { Threads::Many })
}

/// `y[n, co, oy, ox] = b[co] + sum_{ci, ky, kx} w[co, ci, ky, kx] x[n, g*cig + ci, iy, ix]`.
pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Conv2dGeom) -> Vec<f32> {
    let (plane, cog, k) = (g.oh * g.ow, g.c_out / g.groups, col_rows(g));
    let mut y = filled(g.n * g.c_out * plane, 0.0);
    let (per_image, threads) = by_image(g);
    let image = |n: usize, y: &mut [f32]| {
        if let Some(b) = bias {
            for (co, out) in y.chunks_mut(plane).enumerate() {
                out.fill(b[co]);
            }
        }
        let x = &x[n * g.c_in * g.h * g.w..][..g.c_in * g.h * g.w];
        with_scratch(k * plane, |col| {
            for grp in 0..g.groups {
                im2col(x, g, grp, col);
                let wg = MatRef::dense(w, grp * cog * k, cog, k);
                let beta = if bias.is_some() { 1.0 } else { 0.0 };
                let cols = MatRef::dense(col, 0, k, plane);
                gemm(wg, cols, beta, y, grp * cog * plane, threads);
            }
        });
    };
    let len = g.c_out * plane;
    if per_image {
        par_chunks(&mut y, len, image);
    } else {
        y.chunks_mut(len.max(1))
            .enumerate()
            .for_each(|(n, y)| image(n, y));
    }
    y
}

/// Gradient w.r.t. the input of `sum(y * grad_y)`.
pub fn backward_data(grad_y: &[f32], w: &[f32], g: &Conv2dGeom) -> Vec<f32> {
    let (plane, cog, k) = (g.oh * g.ow, g.c_out / g.groups, col_rows(g));
    let mut gx = filled(g.n * g.c_in * g.h * g.w, 0.0);
    let (per_image, threads) = by_image(g);
    let image = |n: usize, gx: &mut [f32]| {
        with_scratch(k * plane, |col| {
            for grp in 0..g.groups {
                let wg = MatRef::dense(w, grp * cog * k, cog, k);
                let gy = MatRef::dense(grad_y, (n * g.c_out + grp * cog) * plane, cog, plane);
                gemm(wg.t(), gy, 0.0, col, 0, threads);
                col2im(col, g, grp, gx);
            }
        });
    };
    let len = g.c_in * g.h * g.w;
    if per_image {
        par_chunks(&mut gx, len, image);
    } else {
        gx.chunks_mut(len.max(1))
            .enumerate()
            .for_each(|(n, gx)| image(n, gx));
    }
    gx
}

/// Gradient w.r.t. the weight of `sum(y * grad_y)`.
pub fn backward_weight(x: &[f32], grad_y: &[f32], g: &Conv2dGeom) -> Vec<f32> {
    let (plane, cog, k) = (g.oh * g.ow, g.c_out / g.groups, col_rows(g));
    let (per_image, threads) = by_image(g);
    let image = |n: usize, gw: &mut [f32]| {
        let x = &x[n * g.c_in * g.h * g.w..][..g.c_in * g.h * g.w];
        with_scratch(k * plane, |col| {
            for grp in 0..g.groups {
                im2col(x, g, grp, col);
                let gy = MatRef::dense(grad_y, (n * g.c_out + grp * cog) * plane, cog, plane);
                let cols = MatRef::dense(col, 0, k, plane).t();
                gemm(gy, cols, 1.0, gw, grp * cog * k, threads);
            }
        });
    };
    if per_image {
        par_sum(g.n, g.c_out * k, image)
    } else {
        let mut gw = vec![0.0; g.c_out * k];
        (0..g.n).for_each(|n| image(n, &mut gw));
        gw
    }
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
            b.as_deref().map(|v| v.as_slice()),
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

    /// The weight gradient sums images in fixed groups, so repeated runs agree bit for bit
    /// however rayon schedules them (resumed training depends on it).
    #[test]
    fn the_weight_gradient_is_the_same_bits_every_time() {
        let g = Conv2dGeom {
            n: 40,
            c_in: 3,
            h: 9,
            w: 9,
            c_out: 5,
            kh: 3,
            kw: 3,
            oh: 9,
            ow: 9,
            stride: (1, 1),
            padding: (1, 1),
            dilation: (1, 1),
            groups: 1,
        };
        let x: Vec<f32> = (0..40 * 3 * 81).map(|i| (i as f32 * 0.37).sin()).collect();
        let gy: Vec<f32> = (0..40 * 5 * 81).map(|i| (i as f32 * 0.11).cos()).collect();
        let first = backward_weight(&x, &gy, &g);
        for _ in 0..20 {
            assert!(backward_weight(&x, &gy, &g) == first);
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
            // enough images to spread them over the cores, and padding wider than the output
            (5, 3, 6, 6, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
            (4, 2, 2, 2, 3, (3, 3), (1, 1), (4, 4), (1, 1), 1),
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
