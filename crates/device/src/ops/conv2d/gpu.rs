//! Convolution on the GEMM core: `shaders/conv2d/{fwd_igemm,dgrad,wgrad}.wgsl` load the
//! operands of each direction's GEMM straight from the NCHW arrays (implicit GEMM), composed
//! with `shaders/gemm/core.wgsl` or its subgroup variant; im2col + matmul lives beside it in
//! `gpu_im2col.rs`.

use super::Conv2dGeom;
use crate::error::{Error, Result};
use crate::gpu::buffer_pool::PooledBuffer;
use crate::gpu::kernels::KernelKey;
use crate::gpu::{Engine, MatmulKernel};
use crate::storage::Storage;

uniform! {
    /// `conv2d/params.wgsl`: the convolution's geometry, read by every conv2d kernel.
    pub(crate) struct ConvParams for [
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

impl Engine {
    /// Dispatches one of the implicit-GEMM convolution kernels over a `(rows, cols)` GEMM per
    /// channel group, on the GEMM core (its subgroup variant where it fits).
    pub(super) fn conv_gemm(
        &self,
        shader: &'static str,
        p: &ConvParams,
        bufs: &[&PooledBuffer],
        (rows, cols): (usize, usize),
        groups: usize,
    ) -> Result<()> {
        let t = self.matmul_tile();
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
    /// The forward pass, and with `relu` also its ReLU where the GEMM's epilogue can write it
    /// (`None`: the caller applies it).
    pub(crate) fn conv2d(
        &self,
        x: &Storage,
        w: &Storage,
        bias: Option<&Storage>,
        g: &Conv2dGeom,
        relu: bool,
    ) -> Result<(Storage, Option<Storage>)> {
        if let Some(chunk) = self.im2col_chunk(g) {
            return self.conv2d_im2col(x, w, bias, g, chunk, relu);
        }
        let out = self.out(g.n * g.c_out * g.oh * g.ow)?;
        let p = ConvParams::new(g, bias.is_some());
        // Without a bias, `x` stands in for the (unread) bias binding.
        let bufs = [x.gpu()?, w.gpu()?, bias.unwrap_or(x).gpu()?, &out];
        let gemm = (g.c_out / g.groups, g.n * g.oh * g.ow);
        self.conv_gemm("conv2d_fwd_igemm", &p, &bufs, gemm, g.groups)?;
        Ok((Storage::Gpu(out), None))
    }

    pub(crate) fn conv2d_backward_data(
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
        Ok(Storage::Gpu(out))
    }

    pub(crate) fn conv2d_backward_weight(
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
        Ok(Storage::Gpu(out))
    }
}
