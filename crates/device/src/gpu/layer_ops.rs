//! The layer kernels of the wgpu backend: pooling, bilinear resize, batch-norm moments and
//! affine maps, softmax cross-entropy, and the SGD / Adam steps.

use super::kernels::KernelKey;
use super::pool::PooledBuffer;
use super::{Engine, WG};
use crate::backend::Storage;
use crate::error::Result;
use crate::ops::{
    AdamStep, ChannelDims, CrossEntropyGeom, Pool2dGeom, PoolKind, ResizeGeom, SgdStep,
};
use std::sync::Arc;

uniform! {
    /// `pool2d.wgsl`: planes, sizes, kernel, stride, padding, dilation and the average's mode.
    pub(super) struct PoolParams for ["pool2d"] {
        planes: u32,
        h: u32,
        w: u32,
        oh: u32,
        ow: u32,
        kh: u32,
        kw: u32,
        sh: u32,
        sw: u32,
        ph: u32,
        pw: u32,
        dh: u32,
        dw: u32,
        mode: u32,
        divisor: u32,
        _pad: u32,
    }
}

impl PoolParams {
    fn new(g: &Pool2dGeom) -> Self {
        let (mode, divisor) = match g.kind {
            PoolKind::Avg {
                divisor: Some(d), ..
            } => (2, d),
            PoolKind::Avg {
                count_include_pad, ..
            } => (count_include_pad as usize, 0),
            _ => (0, 0),
        };
        let u = |v: usize| v as u32;
        PoolParams {
            planes: u(g.planes),
            h: u(g.h),
            w: u(g.w),
            oh: u(g.oh),
            ow: u(g.ow),
            kh: u(g.kernel.0.max(1)),
            kw: u(g.kernel.1.max(1)),
            sh: u(g.stride.0.max(1)),
            sw: u(g.stride.1.max(1)),
            ph: u(g.padding.0),
            pw: u(g.padding.1),
            dh: u(g.dilation.0.max(1)),
            dw: u(g.dilation.1.max(1)),
            mode: u(mode),
            divisor: u(divisor),
            _pad: 0,
        }
    }
}

uniform! {
    /// `resize_bilinear.wgsl`: planes, input and output sizes, alignment and scales.
    pub(super) struct ResizeParams for ["resize_bilinear"] {
        planes: u32,
        h: u32,
        w: u32,
        oh: u32,
        ow: u32,
        align: u32,
        scale_y: f32,
        scale_x: f32,
    }
}

uniform! {
    /// `batch_norm.wgsl`: batch, channels and pixels per channel.
    pub(super) struct ChannelParams for ["batch_norm"] {
        n: u32,
        c: u32,
        hw: u32,
        _pad: u32,
    }
}

uniform! {
    /// `cross_entropy.wgsl`: rows, classes, label smoothing and the ignored class.
    pub(super) struct CrossEntropyParams for ["cross_entropy"] {
        rows: u32,
        classes: u32,
        smoothing: f32,
        ignore_index: f32,
    }
}

uniform! {
    /// `sgd.wgsl`: length, flags and the hyper-parameters.
    pub(super) struct SgdParams for ["sgd"] {
        len: u32,
        flags: u32,
        lr: f32,
        momentum: f32,
        dampening: f32,
        weight_decay: f32,
        _pad: [u32; 2],
    }
}

uniform! {
    /// `adam.wgsl`: length, flags, the hyper-parameters and bias corrections.
    pub(super) struct AdamParams for ["adam"] {
        len: u32,
        flags: u32,
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        bias_correction1: f32,
        bias_correction2_sqrt: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

fn kind_code(k: PoolKind) -> f64 {
    match k {
        PoolKind::Max => 0.0,
        PoolKind::Avg { .. } => 1.0,
        PoolKind::AdaptiveAvg => 2.0,
    }
}

fn flag(on: bool, bit: u32) -> u32 {
    if on {
        bit
    } else {
        0
    }
}

impl Engine {
    pub(super) fn pool2d_gpu(
        &self,
        x: &Storage,
        g: &Pool2dGeom,
    ) -> Result<(Storage, Option<Storage>)> {
        let len = g.planes * g.oh * g.ow;
        let out = self.out(len)?;
        let max = g.kind == PoolKind::Max;
        let ind = self.out(if max { len } else { 1 })?;
        let key = KernelKey::entry(
            "pool2d",
            "forward",
            &[("KIND", kind_code(g.kind)), ("WG", WG as f64)],
        );
        let p = PoolParams::new(g);
        let bufs = [x.gpu()?, &ind, &out];
        self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(len))?;
        Ok((Storage::Gpu(out), max.then_some(Storage::Gpu(ind))))
    }

    pub(super) fn pool2d_backward_gpu(
        &self,
        grad_y: &Storage,
        indices: Option<&Storage>,
        g: &Pool2dGeom,
    ) -> Result<Storage> {
        let len = g.planes * g.h * g.w;
        let out = self.out(len)?;
        let dummy;
        let ind: &PooledBuffer = match indices {
            Some(i) => i.gpu()?,
            None => {
                dummy = self.out(1)?;
                &dummy
            }
        };
        let key = KernelKey::entry(
            "pool2d",
            "backward",
            &[("KIND", kind_code(g.kind)), ("WG", WG as f64)],
        );
        let p = PoolParams::new(g);
        let bufs = [grad_y.gpu()?, ind, &out];
        self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(len))?;
        Ok(Storage::Gpu(out))
    }

    pub(super) fn resize_bilinear_gpu(
        &self,
        src: &Storage,
        g: &ResizeGeom,
        backward: bool,
    ) -> Result<Storage> {
        let len = if backward {
            g.planes * g.h * g.w
        } else {
            g.planes * g.oh * g.ow
        };
        let out = self.out(len)?;
        let p = ResizeParams {
            planes: g.planes as u32,
            h: g.h as u32,
            w: g.w as u32,
            oh: g.oh as u32,
            ow: g.ow as u32,
            align: g.align_corners as u32,
            scale_y: g.scale(g.h, g.oh),
            scale_x: g.scale(g.w, g.ow),
        };
        let entry = if backward { "backward" } else { "forward" };
        let key = KernelKey::entry("resize_bilinear", entry, &[("WG", WG as f64)]);
        let bufs = [src.gpu()?, &out];
        self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(len))?;
        Ok(Storage::Gpu(out))
    }

    fn channel_params(d: ChannelDims) -> ChannelParams {
        ChannelParams {
            n: d.n as u32,
            c: d.c as u32,
            hw: d.hw as u32,
            _pad: 0,
        }
    }

    pub(super) fn channel_moments_gpu(
        &self,
        x: &Storage,
        z: Option<(&Storage, &Storage)>,
        d: ChannelDims,
    ) -> Result<Storage> {
        let out = self.out(2 * d.c)?;
        let x = x.gpu()?;
        let (z, center) = match z {
            Some((z, c)) => (z.gpu()?, c.gpu()?),
            None => (x, x),
        };
        let mode = if std::ptr::eq(z, x) { 0.0 } else { 1.0 };
        let key = KernelKey::entry(
            "batch_norm",
            "moments",
            &[("MODE", mode), ("HAS_Z", 0.0), ("WG", WG as f64)],
        );
        let p = Self::channel_params(d);
        let bufs = [x, z, center, &out];
        self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, self.groups_flat(d.c))?;
        Ok(Storage::Gpu(out))
    }

    pub(super) fn channel_affine_gpu(
        &self,
        x: &Storage,
        z: Option<&Storage>,
        coef: &Storage,
        d: ChannelDims,
    ) -> Result<Storage> {
        let out = self.out(d.len())?;
        let x = x.gpu()?;
        let zb = match z {
            Some(z) => z.gpu()?,
            None => x,
        };
        let key = KernelKey::entry(
            "batch_norm",
            "affine",
            &[
                ("MODE", 0.0),
                ("HAS_Z", z.is_some() as u32 as f64),
                ("WG", WG as f64),
            ],
        );
        let p = Self::channel_params(d);
        let bufs = [x, zb, coef.gpu()?, &out];
        self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(d.len()))?;
        Ok(Storage::Gpu(out))
    }

    pub(super) fn cross_entropy_gpu(
        &self,
        logits: &Storage,
        labels: &Storage,
        g: &CrossEntropyGeom,
    ) -> Result<(Storage, Storage)> {
        let loss = self.out(g.rows)?;
        let grad = self.out(g.rows * g.classes)?;
        let p = CrossEntropyParams {
            rows: g.rows as u32,
            classes: g.classes as u32,
            smoothing: g.smoothing,
            ignore_index: g.ignore_index as f32,
        };
        const CE_WG: u32 = 64;
        let key = KernelKey::new("cross_entropy", &[("WG", CE_WG as f64)]);
        let groups = self.groups_flat(g.rows.div_ceil(CE_WG as usize));
        let bufs = [logits.gpu()?, labels.gpu()?, &loss, &grad];
        self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, groups)?;
        Ok((Storage::Gpu(loss), Storage::Gpu(grad)))
    }

    pub(super) fn sgd_step_gpu(
        &self,
        param: &Storage,
        grad: &Storage,
        buf: Option<&Storage>,
        len: usize,
        s: &SgdStep,
    ) -> Result<()> {
        let (param, grad) = (param.gpu()?, grad.gpu()?);
        let dummy: Arc<PooledBuffer>;
        let buf = match buf {
            Some(b) => b.gpu()?,
            None => {
                dummy = self.out(1)?;
                &dummy
            }
        };
        let flags = flag(s.nesterov, 1)
            | flag(s.maximize, 2)
            | flag(s.first, 4)
            | flag(s.momentum != 0.0 && buf.bytes() >= len as u64 * 4, 8);
        let key = KernelKey::new("sgd", &[("WG", WG as f64)]);
        for (s0, n) in self.ranges(len) {
            let p = SgdParams {
                len: n as u32,
                flags,
                lr: s.lr,
                momentum: s.momentum,
                dampening: s.dampening,
                weight_decay: s.weight_decay,
                _pad: [0; 2],
            };
            let b = if flags & 8 != 0 {
                buf.slice(s0, n)
            } else {
                buf.whole()
            };
            let bufs = [param.slice(s0, n), grad.slice(s0, n), b];
            self.dispatch_slices(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(n))?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn adam_step_gpu(
        &self,
        param: &Storage,
        grad: &Storage,
        m: &Storage,
        v: &Storage,
        vmax: Option<&Storage>,
        len: usize,
        s: &AdamStep,
    ) -> Result<()> {
        let (param, grad, m, v) = (param.gpu()?, grad.gpu()?, m.gpu()?, v.gpu()?);
        let dummy: Arc<PooledBuffer>;
        let vmax = match vmax {
            Some(b) => b.gpu()?,
            None => {
                dummy = self.out(1)?;
                &dummy
            }
        };
        let ams = s.amsgrad && vmax.bytes() >= len as u64 * 4;
        let flags = flag(s.decoupled, 1) | flag(s.maximize, 2) | flag(ams, 4);
        let key = KernelKey::new("adam", &[("WG", WG as f64)]);
        for (s0, n) in self.ranges(len) {
            let p = AdamParams {
                len: n as u32,
                flags,
                lr: s.lr,
                beta1: s.beta1,
                beta2: s.beta2,
                eps: s.eps,
                weight_decay: s.weight_decay,
                bias_correction1: s.bias_correction1,
                bias_correction2_sqrt: s.bias_correction2_sqrt,
                _pad0: 0,
                _pad1: 0,
                _pad2: 0,
            };
            let vm = if ams { vmax.slice(s0, n) } else { vmax.whole() };
            let bufs = [
                param.slice(s0, n),
                grad.slice(s0, n),
                m.slice(s0, n),
                v.slice(s0, n),
                vm,
            ];
            self.dispatch_slices(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(n))?;
        }
        Ok(())
    }
}
