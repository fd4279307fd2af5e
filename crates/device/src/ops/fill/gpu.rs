//! The fill kernels: `shaders/fill.wgsl` (constants and `arange`) and `shaders/random.wgsl`
//! (the same Philox rounds as the CPU reference).

use super::Distribution;
use crate::error::Result;
use crate::gpu::buffer_pool::PooledBuffer;
use crate::gpu::kernels::KernelKey;
use crate::gpu::{Engine, WG};
use crate::storage::Storage;

uniform! {
    /// `fill.wgsl`: the length, first value and step.
    pub(crate) struct FillParams for ["fill"] {
        len: u32,
        start: f32,
        step: f32,
        _pad: u32,
    }
}

uniform! {
    /// `random.wgsl`: length, Philox seed and first block, and the range.
    pub(crate) struct RandomParams for ["random"] {
        len: u32,
        seed_lo: u32,
        seed_hi: u32,
        block0: u32,
        a: f32,
        b: f32,
        _pad2: [u32; 2],
    }
}

impl Engine {
    /// Records `out[i] = start + i * step` for the first `len` elements.
    /// Zeros (positive zero, step 0) are a buffer clear instead of a kernel.
    pub(crate) fn fill(&self, out: &PooledBuffer, len: usize, start: f32, step: f32) -> Result<()> {
        if start.to_bits() == 0 && step == 0.0 {
            self.clear(out.buffer(), 0, len as u64 * 4);
            return Ok(());
        }
        let key = KernelKey::new("fill", &[("WG", WG as f64)]);
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

    pub(crate) fn arange(&self, len: usize, start: f32, step: f32) -> Result<Storage> {
        let out = self.out(len)?;
        self.fill(&out, len, start, step)?;
        Ok(Storage::Gpu(out))
    }

    pub(crate) fn random(&self, len: usize, dist: Distribution, seed: u64) -> Result<Storage> {
        let out = self.out(len)?;
        let (kind, a, b) = match dist {
            Distribution::Uniform { low, high } => (0, low, high),
            Distribution::Normal { mean, std } => (1, mean, std),
            Distribution::DropoutMask { p } => (2, p, super::dropout_scale(p)),
        };
        let key = KernelKey::new("random", &[("DIST", kind as f64), ("WG", WG as f64)]);
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
        Ok(Storage::Gpu(out))
    }
}
