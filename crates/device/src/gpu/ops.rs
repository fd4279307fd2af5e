//! `Backend` for the wgpu engine: each op fills its kernel's `Params` and records a dispatch.

use super::kernels::KernelKey;
use super::pool::PooledBuffer;
use super::{Engine, MatmulKernel};
use crate::backend::{Backend, Storage};
use crate::error::{Error, Result};
use crate::ops::{
    AdamStep, BinaryOp, Broadcast, ChannelDims, Conv2dGeom, CopyPiece, CrossEntropyGeom,
    Distribution, MatmulDims, Pool2dGeom, ReduceDims, ReduceOp, ResizeGeom, SgdStep, UnaryOp,
};
use crate::shape::MAX_RANK;
use bytemuck::Zeroable;
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

/// The matmul tile in use: [`MATMUL_TILE`], or `FOVEA_MATMUL_TILE=k,threads_x,threads_y`
/// (a debug and tuning switch; an unusable value is reported and ignored).
pub fn matmul_tile() -> MatmulTile {
    static TILE: std::sync::OnceLock<MatmulTile> = std::sync::OnceLock::new();
    *TILE.get_or_init(|| {
        let Ok(spec) = std::env::var("FOVEA_MATMUL_TILE") else {
            return MATMUL_TILE;
        };
        let v: Vec<u32> = spec
            .split(',')
            .filter_map(|x| x.trim().parse().ok())
            .collect();
        match v[..] {
            [k, threads_x, threads_y] if k > 0 && threads_x * threads_y > 0 => MatmulTile {
                k,
                threads_x,
                threads_y,
            },
            _ => {
                log::warn!("FOVEA_MATMUL_TILE={spec} is not k,threads_x,threads_y; ignored");
                MATMUL_TILE
            }
        }
    })
}

/// Longest K for which matmul narrows its workgroups to thin outputs.
const ADAPT_MAX_K: usize = 4096;

/// Reductions with at least this many elements per output use a workgroup per output.
const ROW_REDUCE_MIN: usize = 256;

uniform! {
    /// `fill.wgsl`: the length, first value and step.
    pub(super) struct FillParams for ["fill"] {
        len: u32,
        start: f32,
        step: f32,
        _pad: u32,
    }
}

uniform! {
    /// `random.wgsl`: length, Philox seed and first block, and the range.
    pub(super) struct RandomParams for ["random"] {
        len: u32,
        seed_lo: u32,
        seed_hi: u32,
        block0: u32,
        a: f32,
        b: f32,
        _pad2: [u32; 2],
    }
}

uniform! {
    /// `unary.wgsl`: length and the scalar operand.
    pub(super) struct UnaryParams for ["unary"] {
        len: u32,
        scalar: f32,
        _pad: [u32; 2],
    }
}

uniform! {
    /// Shape and up to three stride vectors: binary, select and copy kernels share this block.
    pub(super) struct StridedParams for ["binary", "select", "copy"] {
        len: u32,
        rank: u32,
        plain: u32,
        _pad: u32,
        offsets: [u32; 4],
        shape: [u32; MAX_RANK],
        strides: [[u32; MAX_RANK]; 3],
    }
}

impl StridedParams {
    pub(super) fn new(
        shape: &[usize],
        strides: &[&[usize]],
        offsets: [usize; 2],
        plain: bool,
    ) -> Self {
        let mut p = StridedParams::zeroed();
        p.len = shape.iter().product::<usize>() as u32;
        p.rank = shape.len() as u32;
        p.plain = plain as u32;
        p.offsets = [offsets[0] as u32, offsets[1] as u32, 0, 0];
        for (d, &s) in shape.iter().enumerate() {
            p.shape[d] = s as u32;
        }
        for (k, st) in strides.iter().enumerate() {
            for (d, &s) in st.iter().enumerate() {
                p.strides[k][d] = s as u32;
            }
        }
        p
    }
}

uniform! {
    /// `reduce.wgsl` and `softmax.wgsl`: the (outer, len, inner) view and the scale.
    pub(super) struct ReduceParams for ["reduce", "softmax"] {
        outer: u32,
        len: u32,
        inner: u32,
        scale: f32,
    }
}

uniform! {
    /// `matmul.wgsl`: sizes, first batch and operand batch strides.
    pub(super) struct MatmulParams for ["matmul", "matmul_subgroup"] {
        m: u32,
        n: u32,
        k: u32,
        batch0: u32,
        a_stride: u32,
        b_stride: u32,
        _pad: [u32; 2],
    }
}

uniform! {
    /// `conv2d/params.wgsl`: the convolution's geometry, read by every conv2d kernel.
    pub(super) struct ConvParams for [
        "conv2d_fwd_igemm",
        "conv2d_fwd_igemm_subgroup",
        "conv2d_dgrad",
        "conv2d_dgrad_subgroup",
        "conv2d_wgrad",
        "conv2d_wgrad_subgroup",
        "im2col",
    ] {
        n: u32,
        c_in: u32,
        h: u32,
        w: u32,
        c_out: u32,
        kh: u32,
        kw: u32,
        oh: u32,
        ow: u32,
        stride_h: u32,
        stride_w: u32,
        pad_h: u32,
        pad_w: u32,
        dil_h: u32,
        dil_w: u32,
        groups: u32,
        has_bias: u32,
        /// im2col's batch chunk: its first image
        pub(super) n0: u32,
        /// im2col's batch chunk: its images
        pub(super) nb: u32,
        _pad: u32,
    }
}

impl ConvParams {
    pub(super) fn new(g: &Conv2dGeom, has_bias: bool) -> Self {
        let u = |v: usize| v as u32;
        ConvParams {
            n: u(g.n),
            c_in: u(g.c_in),
            h: u(g.h),
            w: u(g.w),
            c_out: u(g.c_out),
            kh: u(g.kh),
            kw: u(g.kw),
            oh: u(g.oh),
            ow: u(g.ow),
            stride_h: u(g.stride.0),
            stride_w: u(g.stride.1),
            pad_h: u(g.padding.0),
            pad_w: u(g.padding.1),
            dil_h: u(g.dilation.0),
            dil_w: u(g.dilation.1),
            groups: u(g.groups),
            has_bias: has_bias as u32,
            n0: 0,
            nb: 0,
            _pad: 0,
        }
    }
}

fn gpu(s: Arc<PooledBuffer>) -> Storage {
    Storage::Gpu(s)
}

impl Engine {
    /// Records `out[i] = start + i * step` for the first `len` elements.
    pub(super) fn fill(&self, out: &PooledBuffer, len: usize, start: f32, step: f32) -> Result<()> {
        let key = KernelKey::new("fill", &[("WG", super::WG as f64)]);
        for (s0, n) in self.ranges(len) {
            let p = FillParams {
                len: n as u32,
                start: start + s0 as f32 * step,
                step,
                _pad: 0,
            };
            let bufs = [out.slice(s0, n)];
            self.dispatch_slices(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(n))?;
        }
        Ok(())
    }

    pub(super) fn out(&self, len: usize) -> Result<Arc<PooledBuffer>> {
        Ok(Arc::new(self.alloc(len)?))
    }

    pub(super) fn strided(
        &self,
        kernel: &'static str,
        op: Option<u32>,
        p: &StridedParams,
        bufs: &[&PooledBuffer],
    ) -> Result<()> {
        let wg = super::WG as f64;
        let key = match op {
            Some(op) => KernelKey::new(kernel, &[("OP", op as f64), ("WG", wg)]),
            None => KernelKey::new(kernel, &[("WG", wg)]),
        };
        self.dispatch(
            &key,
            bytemuck::bytes_of(p),
            bufs,
            self.groups_1d(p.len as usize),
        )
    }
}

impl Engine {
    /// Dispatches one of the implicit-GEMM convolution kernels over a `(rows, cols)` GEMM per
    /// channel group, on the GEMM core (its subgroup variant where it fits).
    fn conv_gemm(
        &self,
        shader: &'static str,
        p: &ConvParams,
        bufs: &[&PooledBuffer],
        (rows, cols): (usize, usize),
        groups: usize,
    ) -> Result<()> {
        let t = matmul_tile();
        // The GEMM core's subgroup variant (16 rows an invocation) when the adapter has it
        // and the GEMM fills its taller tile; otherwise the plain core (8 rows).
        let (shader, rows_per, threads_x) = match self.matmul_kernel() {
            MatmulKernel::Subgroup { size } if rows >= 16 * t.threads_y as usize => (
                subgroup_twin(shader),
                16,
                t.threads_x.next_multiple_of(size),
            ),
            _ => (shader, 8, t.threads_x),
        };
        let key = KernelKey::new(
            shader,
            &[
                ("TILE_K", t.k as f64),
                ("THREADS_X", threads_x as f64),
                ("THREADS_Y", t.threads_y as f64),
            ],
        );
        let max = self.limits().max_compute_workgroups_per_dimension as usize;
        let (gx, gy) = (
            cols.div_ceil(8 * threads_x as usize),
            rows.div_ceil(rows_per * t.threads_y as usize),
        );
        if gx > max || gy > max || groups > max {
            return Err(Error::invalid(
                "conv2d",
                &[rows, cols, groups],
                format!("the convolution's GEMM needs more than {max} workgroups per axis; split the batch"),
            ));
        }
        self.dispatch(
            &key,
            bytemuck::bytes_of(p),
            bufs,
            [gx as u32, gy as u32, groups as u32],
        )
    }
}

/// The kernel composed from the same operand file with the GEMM core's subgroup variant.
fn subgroup_twin(shader: &'static str) -> &'static str {
    match shader {
        "conv2d_fwd_igemm" => "conv2d_fwd_igemm_subgroup",
        "conv2d_dgrad" => "conv2d_dgrad_subgroup",
        "conv2d_wgrad" => "conv2d_wgrad_subgroup",
        other => panic!("kernel `{other}` has no subgroup variant"),
    }
}

impl Engine {
    /// One batched matmul on buffers that each fit a storage binding.
    pub(super) fn matmul_bufs(
        &self,
        a: &PooledBuffer,
        b: &PooledBuffer,
        d: &MatmulDims,
    ) -> Result<Arc<PooledBuffer>> {
        let out = self.out(d.batch * d.m * d.n)?;
        let t = matmul_tile();
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
}

impl Backend for Engine {
    fn name(&self) -> String {
        Engine::name(self)
    }

    fn describe(&self) -> String {
        Engine::describe(self)
    }

    fn upload(&self, data: &[f32]) -> Result<Storage> {
        Ok(gpu(Arc::new(Engine::upload(self, data)?)))
    }

    fn download(&self, x: &Storage, len: usize) -> Result<Vec<f32>> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            pollster::block_on(self.read_async(x.gpu()?.buffer(), len))
        }
        #[cfg(target_arch = "wasm32")]
        {
            let _ = (x, len);
            Err(Error::Gpu(
                "blocking reads are unavailable in the browser; use to_vec_async".into(),
            ))
        }
    }

    fn arange(&self, len: usize, start: f32, step: f32) -> Result<Storage> {
        let out = self.out(len)?;
        self.fill(&out, len, start, step)?;
        Ok(gpu(out))
    }

    fn random(&self, len: usize, dist: Distribution, seed: u64) -> Result<Storage> {
        let out = self.out(len)?;
        let (kind, a, b) = match dist {
            Distribution::Uniform { low, high } => (0, low, high),
            Distribution::Normal { mean, std } => (1, mean, std),
            Distribution::DropoutMask { p } => (2, p, crate::cpu::dropout_scale(p)),
        };
        let key = KernelKey::new("random", &[("DIST", kind as f64), ("WG", super::WG as f64)]);
        for (s0, n) in self.ranges(len) {
            let p = RandomParams {
                len: n as u32,
                seed_lo: seed as u32,
                seed_hi: (seed >> 32) as u32,
                block0: (s0 / 4) as u32,
                a,
                b,
                _pad2: [0; 2],
            };
            let bufs = [out.slice(s0, n)];
            let groups = self.groups_1d(n.div_ceil(4));
            self.dispatch_slices(&key, bytemuck::bytes_of(&p), &bufs, groups)?;
        }
        Ok(gpu(out))
    }

    fn unary(&self, op: UnaryOp, x: &Storage, len: usize) -> Result<Storage> {
        let out = self.out(len)?;
        let (code, scalar) = op.code();
        let key = KernelKey::new("unary", &[("OP", code as f64), ("WG", super::WG as f64)]);
        let x = x.gpu()?;
        for (s0, n) in self.ranges(len) {
            let p = UnaryParams {
                len: n as u32,
                scalar,
                _pad: [0; 2],
            };
            let bufs = [x.slice(s0, n), out.slice(s0, n)];
            self.dispatch_slices(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(n))?;
        }
        Ok(gpu(out))
    }

    fn binary(&self, op: BinaryOp, a: &Storage, b: &Storage, bc: &Broadcast) -> Result<Storage> {
        let len: usize = bc.shape.iter().product();
        let out = self.out(len)?;
        let (a, b) = (a.gpu()?, b.gpu()?);
        if bc.is_plain() {
            // same shapes: elementwise, range by range past the binding limit
            let key = KernelKey::new(
                "binary",
                &[("OP", op.code() as f64), ("WG", super::WG as f64)],
            );
            for (s0, n) in self.ranges(len) {
                let p = StridedParams::new(&[n], &[&[1], &[1]], [0, 0], true);
                let bufs = [a.slice(s0, n), b.slice(s0, n), out.slice(s0, n)];
                self.dispatch_slices(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(n))?;
            }
            return Ok(gpu(out));
        }
        let p = StridedParams::new(&bc.shape, &[&bc.strides[0], &bc.strides[1]], [0, 0], false);
        self.strided("binary", Some(op.code()), &p, &[a, b, &out])?;
        Ok(gpu(out))
    }

    fn select(&self, cond: &Storage, a: &Storage, b: &Storage, bc: &Broadcast) -> Result<Storage> {
        let s: Vec<&[usize]> = bc.strides.iter().map(Vec::as_slice).collect();
        let p = StridedParams::new(&bc.shape, &s, [0, 0], bc.is_plain());
        let out = self.out(p.len as usize)?;
        let bufs = [cond.gpu()?, a.gpu()?, b.gpu()?, &out];
        self.strided("select", None, &p, &bufs)?;
        Ok(gpu(out))
    }

    fn reduce(&self, op: ReduceOp, x: &Storage, d: ReduceDims, scale: f32) -> Result<Storage> {
        let outputs = d.outer * d.inner;
        let out = self.out(outputs)?;
        let p = ReduceParams {
            outer: d.outer as u32,
            len: d.len as u32,
            inner: d.inner as u32,
            scale,
        };
        let rows = d.len >= ROW_REDUCE_MIN || (d.inner == 1 && d.len >= 32);
        let consts = [("OP", op.code() as f64), ("WG", super::WG as f64)];
        let (key, groups) = if rows {
            (
                KernelKey::entry("reduce", "rows", &consts),
                self.groups_flat(outputs),
            )
        } else {
            (
                KernelKey::entry("reduce", "cols", &consts),
                self.groups_1d(outputs),
            )
        };
        self.dispatch(&key, bytemuck::bytes_of(&p), &[x.gpu()?, &out], groups)?;
        Ok(gpu(out))
    }

    fn softmax(&self, x: &Storage, d: ReduceDims, log: bool) -> Result<Storage> {
        let out = self.out(d.outer * d.len * d.inner)?;
        let p = ReduceParams {
            outer: d.outer as u32,
            len: d.len as u32,
            inner: d.inner as u32,
            scale: 1.0,
        };
        let key = KernelKey::new(
            "softmax",
            &[("LOG", log as u32 as f64), ("WG", super::WG as f64)],
        );
        let groups = self.groups_flat(d.outer * d.inner);
        self.dispatch(&key, bytemuck::bytes_of(&p), &[x.gpu()?, &out], groups)?;
        Ok(gpu(out))
    }

    fn matmul(&self, a: &Storage, b: &Storage, d: &MatmulDims) -> Result<Storage> {
        Ok(gpu(self.matmul_any(a.gpu_shared()?, b.gpu_shared()?, d)?))
    }

    fn assemble(
        &self,
        len: usize,
        fill: Option<f32>,
        pieces: &[(&Storage, CopyPiece)],
    ) -> Result<Storage> {
        let out = self.out(len)?;
        if let Some(v) = fill {
            self.fill(&out, len, v, 0.0)?;
        }
        for (src, piece) in pieces {
            let plain = piece.src_strides == piece.dst_strides
                && piece.src_strides == crate::shape::strides(&piece.shape);
            let n: usize = piece.shape.iter().product();
            if plain {
                let bytes = n as u64 * 4;
                let (so, dof) = (piece.src_offset as u64 * 4, piece.dst_offset as u64 * 4);
                self.copy(src.gpu()?.buffer(), so, out.buffer(), dof, bytes);
                continue;
            }
            let p = StridedParams::new(
                &piece.shape,
                &[&piece.src_strides, &piece.dst_strides],
                [piece.src_offset, piece.dst_offset],
                false,
            );
            self.strided("copy", None, &p, &[src.gpu()?, &out])?;
        }
        Ok(gpu(out))
    }

    fn conv2d(
        &self,
        x: &Storage,
        w: &Storage,
        bias: Option<&Storage>,
        g: &Conv2dGeom,
    ) -> Result<Storage> {
        if let Some(chunk) = self.im2col_chunk(g) {
            return self.conv2d_im2col(x, w, bias, g, chunk);
        }
        let out = self.out(g.n * g.c_out * g.oh * g.ow)?;
        let p = ConvParams::new(g, bias.is_some());
        // Without a bias, `x` stands in for the (unread) bias binding.
        let bufs = [x.gpu()?, w.gpu()?, bias.unwrap_or(x).gpu()?, &out];
        let gemm = (g.c_out / g.groups, g.n * g.oh * g.ow);
        self.conv_gemm("conv2d_fwd_igemm", &p, &bufs, gemm, g.groups)?;
        Ok(gpu(out))
    }

    fn conv2d_backward_data(
        &self,
        grad_y: &Storage,
        w: &Storage,
        g: &Conv2dGeom,
    ) -> Result<Storage> {
        if let Some(chunk) = self.im2col_chunk(g) {
            return self.conv2d_dgrad_im2col(grad_y, w, g, chunk);
        }
        let out = self.out(g.n * g.c_in * g.h * g.w)?;
        let p = ConvParams::new(g, false);
        let gemm = (g.c_in / g.groups, g.n * g.h * g.w);
        self.conv_gemm(
            "conv2d_dgrad",
            &p,
            &[grad_y.gpu()?, w.gpu()?, &out],
            gemm,
            g.groups,
        )?;
        Ok(gpu(out))
    }

    fn conv2d_backward_weight(
        &self,
        x: &Storage,
        grad_y: &Storage,
        g: &Conv2dGeom,
    ) -> Result<Storage> {
        if let Some(chunk) = self.im2col_chunk(g) {
            return self.conv2d_wgrad_im2col(x, grad_y, g, chunk);
        }
        let out = self.out(g.c_out * (g.c_in / g.groups) * g.kh * g.kw)?;
        let p = ConvParams::new(g, false);
        let gemm = (g.c_out / g.groups, (g.c_in / g.groups) * g.kh * g.kw);
        self.conv_gemm(
            "conv2d_wgrad",
            &p,
            &[x.gpu()?, grad_y.gpu()?, &out],
            gemm,
            g.groups,
        )?;
        Ok(gpu(out))
    }

    fn pool2d(&self, x: &Storage, g: &Pool2dGeom) -> Result<(Storage, Option<Storage>)> {
        self.pool2d_gpu(x, g)
    }

    fn pool2d_backward(
        &self,
        grad_y: &Storage,
        indices: Option<&Storage>,
        g: &Pool2dGeom,
    ) -> Result<Storage> {
        self.pool2d_backward_gpu(grad_y, indices, g)
    }

    fn resize_bilinear(&self, x: &Storage, g: &ResizeGeom) -> Result<Storage> {
        self.resize_bilinear_gpu(x, g, false)
    }

    fn resize_bilinear_backward(&self, grad_y: &Storage, g: &ResizeGeom) -> Result<Storage> {
        self.resize_bilinear_gpu(grad_y, g, true)
    }

    fn channel_moments(
        &self,
        x: &Storage,
        z: Option<(&Storage, &Storage)>,
        d: ChannelDims,
    ) -> Result<Storage> {
        self.channel_moments_gpu(x, z, d)
    }

    fn channel_affine(
        &self,
        x: &Storage,
        z: Option<&Storage>,
        coef: &Storage,
        d: ChannelDims,
    ) -> Result<Storage> {
        self.channel_affine_gpu(x, z, coef, d)
    }

    fn cross_entropy(
        &self,
        logits: &Storage,
        labels: &Storage,
        g: &CrossEntropyGeom,
    ) -> Result<(Storage, Storage)> {
        self.cross_entropy_gpu(logits, labels, g)
    }

    fn sgd_step(
        &self,
        param: &Storage,
        grad: &Storage,
        momentum_buf: Option<&Storage>,
        len: usize,
        s: &SgdStep,
    ) -> Result<()> {
        self.sgd_step_gpu(param, grad, momentum_buf, len, s)
    }

    fn adam_step(
        &self,
        param: &Storage,
        grad: &Storage,
        m: &Storage,
        v: &Storage,
        vmax: Option<&Storage>,
        len: usize,
        s: &AdamStep,
    ) -> Result<()> {
        self.adam_step_gpu(param, grad, m, v, vmax, len, s)
    }

    fn sync(&self) -> Result<()> {
        Engine::sync(self)
    }
}
