//! The reduction kernels: `shaders/reduce.wgsl` (a workgroup per output for long rows, an
//! invocation per output otherwise) and `shaders/softmax.wgsl`.

use super::{ReduceDims, ReduceOp};
use crate::error::Result;
use crate::gpu::kernels::KernelKey;
use crate::gpu::{Engine, WG};
use crate::ops::matmul::gpu::CPU_LOOP_BUDGET;
use crate::storage::Storage;

/// Reductions with at least this many elements per output use a workgroup per output.
const ROW_REDUCE_MIN: usize = 256;
/// On CPU adapters, where a workgroup's tree of barriers is a run of coroutine switches on
/// one core, only reductions with fewer outputs than this use a workgroup per output.
const CPU_ROW_REDUCE_BELOW: usize = 16;

uniform! {
    /// `reduce.wgsl` and `softmax.wgsl`: the (outer, len, inner) view and the scale.
    pub(crate) struct ReduceParams for ["reduce", "softmax"] {
        outer: u32,
        len: u32,
        inner: u32,
        scale: f32,
    }
}

impl Engine {
    pub(crate) fn reduce(
        &self,
        op: ReduceOp,
        x: &Storage,
        d: ReduceDims,
        scale: f32,
    ) -> Result<Storage> {
        let outputs = d.outer * d.inner;
        let out = self.out(outputs)?;
        let p = ReduceParams {
            outer: d.outer as u32,
            len: d.len as u32,
            inner: d.inner as u32,
            scale,
        };
        let rows = if self.is_cpu_adapter() {
            // `cols` loops over the whole row: keep it within llvmpipe's loop budget
            (outputs < CPU_ROW_REDUCE_BELOW && d.len >= 32) || d.len >= CPU_LOOP_BUDGET
        } else {
            d.len >= ROW_REDUCE_MIN || (d.inner == 1 && d.len >= 32)
        };
        let consts = [("OP", op.code() as f64), ("WG", WG as f64)];
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
        Ok(Storage::Gpu(out))
    }

    pub(crate) fn softmax(&self, x: &Storage, d: ReduceDims, log: bool) -> Result<Storage> {
        let out = self.out(d.outer * d.len * d.inner)?;
        let p = ReduceParams {
            outer: d.outer as u32,
            len: d.len as u32,
            inner: d.inner as u32,
            scale: 1.0,
        };
        let key = KernelKey::new("softmax", &[("LOG", log as u32 as f64), ("WG", WG as f64)]);
        let groups = self.groups_flat(d.outer * d.inner);
        self.dispatch(&key, bytemuck::bytes_of(&p), &[x.gpu()?, &out], groups)?;
        Ok(Storage::Gpu(out))
    }
}
