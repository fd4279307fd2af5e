//! The cross-entropy kernel, `shaders/cross_entropy.wgsl`: one invocation per row writes its
//! loss and its gradient.

use super::CrossEntropyGeom;
use crate::error::Result;
use crate::gpu::kernels::KernelKey;
use crate::gpu::Engine;
use crate::storage::Storage;

uniform! {
    /// `cross_entropy.wgsl`: rows, classes, label smoothing and the ignored class.
    pub(crate) struct CrossEntropyParams for ["cross_entropy"] {
        rows: u32,
        classes: u32,
        smoothing: f32,
        ignore_index: f32,
    }
}

impl Engine {
    pub(crate) fn cross_entropy(
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
}
