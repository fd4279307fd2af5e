//! The optimizer kernels, `shaders/sgd.wgsl` and `shaders/adam.wgsl`: one invocation per
//! element updates the parameter and its state in place, range by range.

use super::{AdamStep, SgdStep};
use crate::error::Result;
use crate::gpu::buffer_pool::PooledBuffer;
use crate::gpu::kernels::KernelKey;
use crate::gpu::{Engine, WG};
use crate::storage::Storage;
use std::sync::Arc;

uniform! {
    /// `sgd.wgsl`: length, flags and the hyper-parameters.
    pub(crate) struct SgdParams for ["sgd"] {
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
    pub(crate) struct AdamParams for ["adam"] {
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

fn flag(on: bool, bit: u32) -> u32 {
    if on {
        bit
    } else {
        0
    }
}

impl Engine {
    pub(crate) fn sgd_step(
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
    pub(crate) fn adam_step(
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
