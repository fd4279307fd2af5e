//! Matmul on the GEMM core: `shaders/matmul/operands.wgsl` and an epilogue
//! (`matmul/store.wgsl`, or `matmul/store_bias.wgsl` with a fused bias) composed with
//! `shaders/gemm/core.wgsl` (or its subgroup variant), with workgroups narrowed for thin
//! outputs and K split for thin products with a long K.

use super::{Bias, MatmulDims};
use crate::error::{Error, Result};
use crate::gpu::buffer_pool::PooledBuffer;
use crate::gpu::kernels::KernelKey;
use crate::gpu::{Engine, MatmulKernel};
use crate::ops::reduce::{ReduceDims, ReduceOp};
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

/// The narrow core's cost per padded multiply-add (lavapipe: 0.65 of the time of the
/// 16-row core on a 32 x 25 weight gradient, whose tile it halves).
const NARROW_COST: f64 = 0.6;

/// Fewest invocation rows a narrowed workgroup keeps (a weight gradient's 10 rows take one
/// row of 8 or 16).
const MIN_THREADS_Y: u32 = 1;

/// Loop iterations one kernel invocation may run on a CPU adapter. llvmpipe (lavapipe)
/// ends every loop of a shader once their iterations add up to 65535
/// (`LP_MAX_TGSI_LOOP_ITERATIONS`, a guard against endless shaders), silently: a GEMM
/// walking a long K in small workgroups summed K short. Products split K to stay under
/// this, with room for the epilogue's loops.
pub(crate) const CPU_LOOP_BUDGET: usize = 60_000;

uniform! {
    /// `matmul/operands.wgsl`: sizes, first product, operand batch strides and the K split.
    pub(crate) struct MatmulParams for [
        "matmul",
        "matmul_subgroup",
        "matmul_bias",
        "matmul_bias_subgroup",
        "matmul_subgroup_tall",
        "matmul_bias_subgroup_tall",
        "matmul_subgroup_narrow",
        "matmul_bias_subgroup_narrow",
        "matmul_bias_relu",
        "matmul_bias_relu_subgroup",
        "matmul_bias_relu_subgroup_tall",
        "matmul_bias_relu_subgroup_narrow"
    ] {
        m: u32,
        n: u32,
        k: u32,
        z0: u32,
        a_stride: u32,
        b_stride: u32,
        splits: u32,
        k_chunk: u32,
    }
}

/// Products with fewer output tiles than this (batches included) split K, so that a thin
/// product with a long K runs as several workgroups instead of one.
const SPLIT_BELOW_TILES: usize = 16;
/// Shortest K range a split computes.
const SPLIT_MIN_K: usize = 512;

/// Splits of K for a product of `tiles` output tiles (batches included) and depth `k`, and
/// the K range of each: a multiple of `tile_k`, at most `max_chunk` (itself a multiple).
fn k_splits(tiles: usize, k: usize, tile_k: usize, max_chunk: usize) -> (usize, usize) {
    let thin = tiles < SPLIT_BELOW_TILES && k >= 2 * SPLIT_MIN_K;
    let fill = if thin {
        (k / SPLIT_MIN_K).min(4 * SPLIT_BELOW_TILES / tiles)
    } else {
        1
    };
    let want = fill.max(k.div_ceil(max_chunk.max(1))).max(1);
    if want == 1 {
        return (1, k);
    }
    let chunk = k.div_ceil(want).next_multiple_of(tile_k.max(1));
    (k.div_ceil(chunk), chunk)
}

/// The longest K range a GEMM core workgroup of `threads` invocations and a
/// `tile_m x tile_n x tile_k` tile may walk on a CPU adapter: per K slab it loops over its
/// share of both tiles' staging and the slab's steps ([`CPU_LOOP_BUDGET`]).
fn cpu_max_chunk(tile_m: usize, tile_n: usize, tile_k: usize, threads: usize) -> usize {
    let per_slab =
        (tile_m * tile_k).div_ceil(threads) + (tile_n * tile_k).div_ceil(threads) + tile_k + 1;
    let epilogue = tile_m * tile_n * 4 / threads;
    (CPU_LOOP_BUDGET.saturating_sub(epilogue) / per_slab).max(1) * tile_k
}

/// A GEMM core the planner can choose: its kernels and the shape of its register block.
#[derive(Clone, Copy, Debug)]
struct Core {
    plain: &'static str,
    with_bias: &'static str,
    /// with the bias and a second output, the ReLU of the first
    with_bias_relu: &'static str,
    /// rows of C per invocation
    rows: u32,
    /// columns of C per invocation
    cols: u32,
    /// invocations along N must be a multiple of this (the subgroup size)
    x_multiple: u32,
    /// most invocation rows, as a fraction of the tiling's `threads_y`
    y_divisor: u32,
    /// time per padded multiply-add relative to the plain core (measured on lavapipe)
    cost: f64,
}

/// How one product runs: the core, its orientation and its workgroup.
struct Plan {
    core: Core,
    swap: bool,
    threads_x: u32,
    threads_y: u32,
    cost: f64,
}

impl Core {
    const PLAIN: Core = Core {
        plain: "matmul",
        with_bias: "matmul_bias",
        with_bias_relu: "matmul_bias_relu",
        rows: 8,
        cols: 8,
        x_multiple: 1,
        y_divisor: 1,
        cost: 1.0,
    };

    fn subgroup(size: u32) -> Core {
        Core {
            plain: "matmul_subgroup",
            with_bias: "matmul_bias_subgroup",
            with_bias_relu: "matmul_bias_relu_subgroup",
            rows: 16,
            cols: 8,
            x_multiple: size,
            y_divisor: 1,
            cost: 0.5,
        }
    }

    /// 16 x 4 per invocation: half the 16-row core's tile width, for a thin N.
    fn narrow(size: u32) -> Core {
        Core {
            plain: "matmul_subgroup_narrow",
            with_bias: "matmul_bias_subgroup_narrow",
            with_bias_relu: "matmul_bias_relu_subgroup_narrow",
            rows: 16,
            cols: 4,
            x_multiple: size,
            y_divisor: 1,
            cost: NARROW_COST,
        }
    }

    /// 64 rows per invocation, at most `threads_y / 4` rows of invocations (the same
    /// 256-row tile as the 16-row core at the default tiling).
    fn tall(size: u32) -> Core {
        Core {
            plain: "matmul_subgroup_tall",
            with_bias: "matmul_bias_subgroup_tall",
            with_bias_relu: "matmul_bias_relu_subgroup_tall",
            rows: 64,
            cols: 8,
            x_multiple: size,
            y_divisor: 4,
            cost: 0.3,
        }
    }

    /// The workgroup for `d` (transposed when `swap`) and its estimated cost: the padded
    /// output times this core's cost per multiply-add. Thin outputs get narrower
    /// workgroups (a conv layer's 64 output channels: 3x faster on lavapipe than a
    /// 256-row tile).
    fn plan(self, d: &MatmulDims, swap: bool, t: &MatmulTile) -> Plan {
        let (m, n) = if swap { (d.n, d.m) } else { (d.m, d.n) };
        let fit = |len: usize, per: u32, least: u32, most: u32| {
            let want = len.div_ceil(per as usize).next_power_of_two() as u32;
            want.clamp(most.min(least), most)
        };
        let most_y = (t.threads_y / self.y_divisor).max(1);
        let threads_y = fit(m, self.rows, MIN_THREADS_Y, most_y);
        let threads_x = fit(n, self.cols, 4, t.threads_x).next_multiple_of(self.x_multiple);
        let padded = m.next_multiple_of((self.rows * threads_y) as usize)
            * n.next_multiple_of((self.cols * threads_x) as usize);
        // The transpose must be clearly cheaper; ties go to the first core.
        let bias = if swap { 1.33 } else { 1.0 };
        Plan {
            core: self,
            swap,
            threads_x,
            threads_y,
            cost: padded as f64 * self.cost * bias,
        }
    }
}

impl Engine {
    /// One batched matmul on buffers that each fit a storage binding, with an optional bias
    /// `(values, along_m)` added in the epilogue. A thin product with a long K is split along
    /// K into partial products, summed after.
    pub(crate) fn matmul_bufs(
        &self,
        a: &PooledBuffer,
        b: &PooledBuffer,
        d: &MatmulDims,
        bias: Option<(&PooledBuffer, bool)>,
    ) -> Result<Arc<PooledBuffer>> {
        Ok(self.gemm(a, b, d, bias, false)?.0)
    }

    /// [`Engine::matmul_bufs`] with a bias, also giving the ReLU of the product written by the
    /// same epilogue; `None` where the product splits K (the caller applies the ReLU).
    pub(crate) fn matmul_bufs_relu(
        &self,
        a: &PooledBuffer,
        b: &PooledBuffer,
        d: &MatmulDims,
        bias: (&PooledBuffer, bool),
    ) -> Result<(Arc<PooledBuffer>, Option<Arc<PooledBuffer>>)> {
        self.gemm(a, b, d, Some(bias), true)
    }

    fn gemm(
        &self,
        a: &PooledBuffer,
        b: &PooledBuffer,
        d: &MatmulDims,
        bias: Option<(&PooledBuffer, bool)>,
        relu: bool,
    ) -> Result<(Arc<PooledBuffer>, Option<Arc<PooledBuffer>>)> {
        let t = self.matmul_tile();
        // The cores this adapter can run, and their relative speed per padded multiply-add.
        let mut cores = vec![match self.matmul_kernel() {
            MatmulKernel::Tiled => Core::PLAIN,
            MatmulKernel::Subgroup { size } => Core::subgroup(size),
        }];
        if let MatmulKernel::Subgroup { size } = self.matmul_kernel() {
            cores.extend([Core::tall(size), Core::narrow(size)]);
        }
        // Each core in both orientations: C, or (for a thin N, such as a classifier's 10
        // classes) C^T = op(B)^T op(A)^T written transposed. The cheapest plan wins.
        let plan = cores
            .iter()
            .flat_map(|&core| [false, true].map(|swap| core.plan(d, swap, &t)))
            .min_by(|p, q| p.cost.total_cmp(&q.cost))
            .expect("at least one core");
        let swap = plan.swap;
        let (d, bias) = if swap {
            let t = MatmulDims {
                m: d.n,
                n: d.m,
                trans_a: !d.trans_b,
                trans_b: !d.trans_a,
                a_stride: d.b_stride,
                b_stride: d.a_stride,
                ..*d
            };
            (t, bias.map(|(v, along_m)| (v, !along_m)))
        } else {
            (*d, bias)
        };
        let (threads_x, threads_y) = (plan.threads_x, plan.threads_y);
        let (tile_m, tile_n) = (
            (plan.core.rows * threads_y) as usize,
            (plan.core.cols * threads_x) as usize,
        );
        let (gx, gy) = (d.n.div_ceil(tile_n), d.m.div_ceil(tile_m));
        let max_chunk = if self.is_cpu_adapter() {
            let invocations = (threads_x * threads_y) as usize;
            cpu_max_chunk(tile_m, tile_n, t.k as usize, invocations)
        } else {
            usize::MAX
        };
        let (splits, k_chunk) = k_splits(gx * gy * d.batch, d.k, t.k as usize, max_chunk);
        let (a, b) = if swap { (b, a) } else { (a, b) };
        // A partial product over a K range has no ReLU: split products leave it to the caller.
        let relu = relu && bias.is_some() && splits == 1;
        let shader = match (bias, relu) {
            (Some(_), true) => plan.core.with_bias_relu,
            (Some(_), false) => plan.core.with_bias,
            (None, _) => plan.core.plain,
        };
        let mut consts = vec![
            ("TILE_K", t.k as f64),
            ("THREADS_X", threads_x as f64),
            ("THREADS_Y", threads_y as f64),
            ("TRANS_A", d.trans_a as u32 as f64),
            ("TRANS_B", d.trans_b as u32 as f64),
            ("TRANS_C", swap as u32 as f64),
        ];
        if let Some((_, along_m)) = bias {
            consts.push(("BIAS_ALONG_M", along_m as u32 as f64));
        }
        let key = KernelKey::new(shader, &consts);
        let max = self.limits().max_compute_workgroups_per_dimension as usize;
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
        let products = d.batch * splits;
        let out = self.out(products * d.m * d.n)?;
        let activated = if relu {
            Some(self.out(products * d.m * d.n)?)
        } else {
            None
        };
        let mut bufs = vec![a, b, &*out];
        bufs.extend(bias.map(|(values, _)| values));
        bufs.extend(activated.as_deref());
        for z0 in (0..products).step_by(max) {
            let p = MatmulParams {
                m: d.m as u32,
                n: d.n as u32,
                k: d.k as u32,
                z0: z0 as u32,
                a_stride: d.a_stride as u32,
                b_stride: d.b_stride as u32,
                splits: splits as u32,
                k_chunk: k_chunk as u32,
            };
            let gz = (products - z0).min(max);
            self.dispatch(
                &key,
                bytemuck::bytes_of(&p),
                &bufs,
                [gx as u32, gy as u32, gz as u32],
            )?;
        }
        if splits == 1 {
            return Ok((out, activated));
        }
        let sum = ReduceDims {
            outer: d.batch,
            len: splits,
            inner: d.m * d.n,
        };
        match self.reduce(ReduceOp::Sum, &Storage::Gpu(out), sum, 1.0)? {
            Storage::Gpu(s) => Ok((s, None)),
            Storage::Cpu(_) => unreachable!("the GPU backend returns GPU storage"),
        }
    }

    /// A batched matmul with an optional bias, and with `relu` also the product's ReLU where
    /// the epilogue writes it (`None`: the caller applies it).
    pub(crate) fn matmul(
        &self,
        a: &Storage,
        b: &Storage,
        d: &MatmulDims,
        bias: Option<Bias>,
        relu: bool,
    ) -> Result<(Storage, Option<Storage>)> {
        let bias = match bias {
            Some(b) => Some((b.values.gpu_shared()?, b.along_m)),
            None => None,
        };
        let (a, b) = (a.gpu_shared()?, b.gpu_shared()?);
        let (c, activated) = self.matmul_any(a, b, d, bias, relu)?;
        Ok((Storage::Gpu(c), activated.map(Storage::Gpu)))
    }
}

#[cfg(test)]
mod tests {
    use super::{cpu_max_chunk, k_splits, Core, MatmulDims, MATMUL_TILE};

    fn best(m: usize, k: usize, n: usize) -> (&'static str, bool) {
        let d = MatmulDims {
            batch: 1,
            m,
            k,
            n,
            trans_a: false,
            trans_b: false,
            a_stride: 0,
            b_stride: 0,
        };
        let p = [Core::subgroup(8), Core::tall(8), Core::narrow(8)]
            .iter()
            .flat_map(|&c| [false, true].map(|swap| c.plan(&d, swap, &MATMUL_TILE)))
            .min_by(|p, q| p.cost.total_cmp(&q.cost))
            .unwrap();
        (p.core.plain, p.swap)
    }

    #[test]
    fn the_planner_picks_the_core_and_orientation_per_shape() {
        // large products take the tall core
        assert_eq!(best(1024, 1024, 1024), ("matmul_subgroup_tall", false));
        // a conv layer's 32 output channels: the 16-row core wastes nothing
        assert_eq!(best(32, 25, 576), ("matmul_subgroup", false));
        // a classifier's 10 classes: the transpose, so the thin side is the 16-row one
        assert_eq!(best(64, 4608, 10), ("matmul_subgroup", true));
        // a first convolution's weight gradient, 32 x 25: the half-width tile
        assert_eq!(best(32, 576, 25), ("matmul_subgroup_narrow", false));
    }

    #[test]
    fn only_thin_products_with_a_long_k_split() {
        let any = usize::MAX;
        // a classifier's [64, 4608] x [4608, 10]: one tile, nine splits of 512
        assert_eq!(k_splits(1, 4608, 16, any), (9, 512));
        // a product with enough tiles, or a short K, stays whole
        assert_eq!(k_splits(64, 4608, 16, any), (1, 4608));
        assert_eq!(k_splits(1, 1000, 16, any), (1, 1000));
        // the ranges cover K, each a multiple of the K tile and at most the longest allowed
        for (tiles, k, max) in [
            (1, 1025, any),
            (3, 5000, 1024),
            (15, 100_000, any),
            (64, 50_176, 32_768),
        ] {
            let (s, c) = k_splits(tiles, k, 16, max);
            assert_eq!(c % 16, 0);
            assert!(c <= max, "{tiles} {k}: {s} x {c}");
            assert!(s * c >= k && (s - 1) * c < k, "{tiles} {k}: {s} x {c}");
        }
    }

    #[test]
    fn cpu_k_ranges_keep_under_the_loop_budget() {
        // the full 256 x 128 tile of 256 invocations: 41 loop iterations per slab of 16 at most
        let c = cpu_max_chunk(256, 128, 16, 256);
        assert_eq!(c % 16, 0);
        assert!((20_000..40_000).contains(&c), "{c}");
        // a narrowed 16 x 64 tile of 8 invocations loops far more per slab
        assert!(cpu_max_chunk(16, 64, 16, 8) < 6_000);
    }
}
