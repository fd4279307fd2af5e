//! Convolution as im2col + the tiled matmul (one channel group): the column matrix of a chunk
//! of images is materialised by `shaders/conv2d/im2col.wgsl`, then every direction is one batched
//! matmul (plus a col2im gather for the input gradient, a batch sum for the weight
//! gradient). On adapters where the matmul kernel is much faster than the implicit-GEMM
//! staging (lavapipe), this wins despite the extra memory traffic.

use super::gpu::ConvParams;
use super::Conv2dGeom;
use crate::error::Result;
use crate::gpu::buffer_pool::PooledBuffer;
use crate::gpu::kernels::KernelKey;
use crate::gpu::Engine;
use crate::ops::elementwise::{BinaryOp, Broadcast};
use crate::ops::matmul::MatmulDims;
use crate::ops::reduce::{ReduceDims, ReduceOp};
use crate::storage::Storage;
use std::sync::Arc;

/// Largest column workspace, in elements (128 MiB).
const WORKSPACE: usize = 32 << 20;

/// How the engine computes convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvAlgo {
    /// im2col + matmul where the column matrix of one image fits the workspace and there is
    /// one channel group; implicit GEMM otherwise
    Im2col,
    /// always the implicit-GEMM kernels
    ImplicitGemm,
}

fn storage(b: Arc<PooledBuffer>) -> Storage {
    Storage::Gpu(b)
}

impl Engine {
    /// Images per im2col chunk, or `None` when this convolution takes the implicit GEMM.
    pub(crate) fn im2col_chunk(&self, g: &Conv2dGeom) -> Option<usize> {
        if self.conv_algo() != ConvAlgo::Im2col || g.groups != 1 {
            return None;
        }
        let max_groups = self.limits().max_compute_workgroups_per_dimension as usize;
        let k = g.c_in * g.kh * g.kw;
        let per_image = k * g.oh * g.ow;
        let nb = (WORKSPACE.min(self.max_binding_len()) / per_image.max(1)).min(max_groups);
        (nb > 0 && k <= max_groups).then(|| nb.min(g.n))
    }

    /// Records `entry` of `shaders/conv2d/im2col.wgsl` over `rows` rows (K for im2col, C_in for
    /// col2im) of images `n0 .. n0 + nb`.
    #[allow(clippy::too_many_arguments)]
    fn cols_pass(
        &self,
        entry: &'static str,
        g: &Conv2dGeom,
        n0: usize,
        nb: usize,
        src: &PooledBuffer,
        out: &PooledBuffer,
        rows: usize,
    ) -> Result<()> {
        let mut p = ConvParams::new(g, false);
        (p.n0, p.nb) = (n0 as u32, nb as u32);
        let lanes = if entry == "im2col" { g.ow } else { g.w };
        let wg = lanes.next_power_of_two().clamp(8, 64);
        let key = KernelKey::entry("im2col", entry, &[("WG", wg as f64)]);
        let groups = [rows as u32, nb as u32, 1];
        self.dispatch(&key, bytemuck::bytes_of(&p), &[src, out], groups)
    }

    /// The column matrices `[nb, K, P]` of images `n0 .. n0 + nb`.
    fn im2col(
        &self,
        x: &PooledBuffer,
        g: &Conv2dGeom,
        n0: usize,
        nb: usize,
    ) -> Result<Arc<PooledBuffer>> {
        let k = g.c_in * g.kh * g.kw;
        let cols = self.out(nb * k * g.oh * g.ow)?;
        self.cols_pass("im2col", g, n0, nb, x, &cols, k)?;
        Ok(cols)
    }

    /// Images `n0 .. n0 + nb` of an NCHW buffer with `per` elements per image, compact.
    fn images(
        &self,
        t: &Arc<PooledBuffer>,
        per: usize,
        n0: usize,
        nb: usize,
        n: usize,
    ) -> Result<Arc<PooledBuffer>> {
        if nb == n {
            return Ok(t.clone());
        }
        let out = self.out(nb * per)?;
        self.copy(
            t.buffer(),
            (n0 * per) as u64 * 4,
            out.buffer(),
            0,
            (nb * per) as u64 * 4,
        );
        Ok(out)
    }

    /// The forward pass as im2col + GEMM, `chunk` images at a time. With `relu` and a bias,
    /// an unchunked pass also gives the output's ReLU from the GEMM's epilogue.
    pub(crate) fn conv2d_im2col(
        &self,
        x: &Storage,
        w: &Storage,
        bias: Option<&Storage>,
        g: &Conv2dGeom,
        chunk: usize,
        relu: bool,
    ) -> Result<(Storage, Option<Storage>)> {
        let (k, p) = (g.c_in * g.kh * g.kw, g.oh * g.ow);
        let per_out = g.c_out * p;
        let (x, w) = (x.gpu()?, w.gpu()?);
        let bias = match bias {
            Some(b) => Some((b.gpu()?, true)),
            None => None,
        };
        let mut y = None;
        for n0 in (0..g.n).step_by(chunk) {
            let nb = chunk.min(g.n - n0);
            let cols = self.im2col(x, g, n0, nb)?;
            let dims = MatmulDims {
                batch: nb,
                m: g.c_out,
                k,
                n: p,
                trans_a: false,
                trans_b: false,
                a_stride: 0,
                b_stride: k * p,
            };
            if nb == g.n {
                let (part, activated) = match bias {
                    Some(bias) if relu => self.matmul_bufs_relu(w, &cols, &dims, bias)?,
                    _ => (self.matmul_bufs(w, &cols, &dims, bias)?, None),
                };
                return Ok((storage(part), activated.map(storage)));
            }
            let part = self.matmul_bufs(w, &cols, &dims, bias)?;
            let full = match &y {
                Some(full) => full,
                None => y.insert(self.out(g.n * per_out)?),
            };
            self.copy(
                part.buffer(),
                0,
                full.buffer(),
                (n0 * per_out) as u64 * 4,
                (nb * per_out) as u64 * 4,
            );
        }
        Ok((storage(y.expect("the batch is not empty")), None))
    }

    pub(crate) fn conv2d_dgrad_im2col(
        &self,
        grad_y: &Storage,
        w: &Storage,
        g: &Conv2dGeom,
        chunk: usize,
    ) -> Result<Storage> {
        let (k, p) = (g.c_in * g.kh * g.kw, g.oh * g.ow);
        let (gy, w) = (grad_y.gpu_shared()?, w.gpu()?);
        let plane = g.h * g.w;
        let dx = self.out(g.n * g.c_in * plane)?;
        for n0 in (0..g.n).step_by(chunk) {
            let nb = chunk.min(g.n - n0);
            let gy_part = self.images(gy, g.c_out * p, n0, nb, g.n)?;
            let dims = MatmulDims {
                batch: nb,
                m: k,
                k: g.c_out,
                n: p,
                trans_a: true,
                trans_b: false,
                a_stride: 0,
                b_stride: g.c_out * p,
            };
            let dcols = self.matmul_bufs(w, &gy_part, &dims, None)?;
            self.cols_pass("col2im", g, n0, nb, &dcols, &dx, g.c_in)?;
        }
        Ok(storage(dx))
    }

    pub(crate) fn conv2d_wgrad_im2col(
        &self,
        x: &Storage,
        grad_y: &Storage,
        g: &Conv2dGeom,
        chunk: usize,
    ) -> Result<Storage> {
        let (k, p) = (g.c_in * g.kh * g.kw, g.oh * g.ow);
        let (x, gy) = (x.gpu()?, grad_y.gpu_shared()?);
        let mut total: Option<Storage> = None;
        for n0 in (0..g.n).step_by(chunk) {
            let nb = chunk.min(g.n - n0);
            let cols = self.im2col(x, g, n0, nb)?;
            let gy_part = self.images(gy, g.c_out * p, n0, nb, g.n)?;
            let dims = MatmulDims {
                batch: nb,
                m: g.c_out,
                k: p,
                n: k,
                trans_a: false,
                trans_b: true,
                a_stride: g.c_out * p,
                b_stride: k * p,
            };
            let parts = storage(self.matmul_bufs(&gy_part, &cols, &dims, None)?);
            let sum = if nb == 1 {
                parts
            } else {
                let d = ReduceDims {
                    outer: 1,
                    len: nb,
                    inner: g.c_out * k,
                };
                self.reduce(ReduceOp::Sum, &parts, d, 1.0)?
            };
            total = Some(match total {
                None => sum,
                Some(t) => {
                    let bc = Broadcast {
                        shape: vec![g.c_out * k],
                        strides: vec![vec![1], vec![1]],
                    };
                    self.binary(BinaryOp::Add, &t, &sum, &bc)?
                }
            });
        }
        Ok(total.expect("the batch is not empty"))
    }
}
