//! Matmul on the GEMM core: `shaders/matmul.wgsl` composed with `shaders/gemm/core.wgsl` (or
//! its subgroup variant), with workgroups narrowed for thin outputs.

use super::MatmulDims;
use crate::error::{Error, Result};
use crate::gpu::buffer_pool::PooledBuffer;
use crate::gpu::kernels::KernelKey;
use crate::gpu::{Engine, MatmulKernel};
use crate::storage::Storage;
use std::sync::Arc;

/// GEMM tiling: the `override` constants of the GEMM core, `shaders/gemm/core.wgsl` and
/// `shaders/gemm/core_subgroup.wgsl`, behind matmul and the implicit-GEMM convolutions. An
/// invocation computes an 8 x 8 (subgroup core: 16 x 8) block of C, so a workgroup covers
/// (8 or 16 threads_y) x (8 threads_x).
pub const MATMUL_TILE: MatmulTile = MatmulTile {
    k: 16,
    threads_x: 16,
    threads_y: 16,
};

/// Tile sizes of the GEMM core (see `shaders/gemm/core.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulTile {
    /// depth of each workgroup-memory slab along K
    pub k: u32,
    /// invocations along columns (the tile is 8 times wider; the subgroup kernel rounds
    /// this up to a multiple of the subgroup size)
    pub threads_x: u32,
    /// invocations along rows (the tile is 8 or 16 times taller)
    pub threads_y: u32,
}

/// Longest K for which matmul narrows its workgroups to thin outputs.
const ADAPT_MAX_K: usize = 4096;

uniform! {
    /// `matmul.wgsl`: sizes, first batch and operand batch strides.
    pub(crate) struct MatmulParams for ["matmul", "matmul_subgroup"] {
        m: u32,
        n: u32,
        k: u32,
        batch0: u32,
        a_stride: u32,
        b_stride: u32,
        _pad: [u32; 2],
    }
}

impl Engine {
    /// One batched matmul on buffers that each fit a storage binding.
    pub(crate) fn matmul_bufs(
        &self,
        a: &PooledBuffer,
        b: &PooledBuffer,
        d: &MatmulDims,
    ) -> Result<Arc<PooledBuffer>> {
        let out = self.out(d.batch * d.m * d.n)?;
        let t = self.matmul_tile();
        let rows = match self.matmul_kernel() {
            MatmulKernel::Tiled => 8,
            MatmulKernel::Subgroup { .. } => 16,
        };
        // Thin outputs (a conv layer's 64 output channels) get narrower workgroups, 3x faster
        // on lavapipe than a 256-row tile. Only for K up to ADAPT_MAX_K: past that, lavapipe
        // summed K short with narrow workgroups (thin_matmuls_with_a_long_k_match_reference).
        let adapt = d.k <= ADAPT_MAX_K;
        let fit = |len: usize, per: u32, most: u32| {
            let want = len.div_ceil(per as usize).next_power_of_two() as u32;
            if adapt {
                want.clamp(most.min(4), most)
            } else {
                most
            }
        };
        let threads_y = fit(d.m, rows, t.threads_y);
        let (shader, threads_x) = match self.matmul_kernel() {
            MatmulKernel::Tiled => ("matmul", fit(d.n, 8, t.threads_x)),
            MatmulKernel::Subgroup { size } => (
                "matmul_subgroup",
                fit(d.n, 8, t.threads_x).next_multiple_of(size),
            ),
        };
        let key = KernelKey::new(
            shader,
            &[
                ("TILE_K", t.k as f64),
                ("THREADS_X", threads_x as f64),
                ("THREADS_Y", threads_y as f64),
                ("TRANS_A", d.trans_a as u32 as f64),
                ("TRANS_B", d.trans_b as u32 as f64),
            ],
        );
        let (tile_m, tile_n) = (rows * threads_y, 8 * threads_x);
        let max = self.limits().max_compute_workgroups_per_dimension as usize;
        let (gx, gy) = (d.n.div_ceil(tile_n as usize), d.m.div_ceil(tile_m as usize));
        if gx > max || gy > max {
            return Err(Error::invalid(
                "matmul",
                &[d.batch, d.m, d.n],
                format!(
                    "an output of {}x{} needs more than {max} workgroups per axis",
                    d.m, d.n
                ),
            ));
        }
        let bufs = [a, b, &out];
        for batch0 in (0..d.batch).step_by(max) {
            let p = MatmulParams {
                m: d.m as u32,
                n: d.n as u32,
                k: d.k as u32,
                batch0: batch0 as u32,
                a_stride: d.a_stride as u32,
                b_stride: d.b_stride as u32,
                _pad: [0; 2],
            };
            let gz = (d.batch - batch0).min(max);
            self.dispatch(
                &key,
                bytemuck::bytes_of(&p),
                &bufs,
                [gx as u32, gy as u32, gz as u32],
            )?;
        }
        Ok(out)
    }

    pub(crate) fn matmul(&self, a: &Storage, b: &Storage, d: &MatmulDims) -> Result<Storage> {
        Ok(Storage::Gpu(self.matmul_any(
            a.gpu_shared()?,
            b.gpu_shared()?,
            d,
        )?))
    }
}
