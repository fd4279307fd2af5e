//! The pooling kernels: `shaders/pool2d.wgsl`, an invocation per output (forward) or per
//! input (backward).

use super::{Pool2dGeom, PoolKind};
use crate::error::Result;
use crate::gpu::buffer_pool::PooledBuffer;
use crate::gpu::kernels::KernelKey;
use crate::gpu::{Engine, WG};
use crate::storage::Storage;

uniform! {
    /// `pool2d.wgsl`: planes, sizes, kernel, stride, padding, dilation and the average's mode.
    pub(crate) struct PoolParams for ["pool2d"] {
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

fn kind_code(k: PoolKind) -> f64 {
    match k {
        PoolKind::Max => 0.0,
        PoolKind::Avg { .. } => 1.0,
        PoolKind::AdaptiveAvg => 2.0,
    }
}

impl Engine {
    pub(crate) fn pool2d(&self, x: &Storage, g: &Pool2dGeom) -> Result<(Storage, Option<Storage>)> {
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

    pub(crate) fn pool2d_backward(
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
        let p = PoolParams::new(g);
        let bufs = [grad_y.gpu()?, ind, &out];
        let consts = [("KIND", kind_code(g.kind)), ("WG", WG as f64)];
        // Max windows that neither overlap nor touch padding: each output's gradient goes to
        // one input no other output names, so a scatter over the (fewer) outputs does it.
        let apart = |k: usize, s: usize, d: usize| s > (k - 1) * d;
        let scatter = g.kind == PoolKind::Max
            && indices.is_some()
            && g.padding == (0, 0)
            && apart(g.kernel.0, g.stride.0, g.dilation.0)
            && apart(g.kernel.1, g.stride.1, g.dilation.1);
        if scatter {
            self.fill(&out, len, 0.0, 0.0)?;
            let key = KernelKey::entry("pool2d", "backward_scatter", &consts);
            let groups = self.groups_1d(g.planes * g.oh * g.ow);
            self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, groups)?;
        } else {
            let key = KernelKey::entry("pool2d", "backward", &consts);
            self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(len))?;
        }
        Ok(Storage::Gpu(out))
    }
}
