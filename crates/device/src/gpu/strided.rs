//! Strided kernels' shared parameter block: a shape and up to three stride vectors, read by
//! `shaders/binary.wgsl`, `select.wgsl` and `copy.wgsl`.

use super::buffer_pool::PooledBuffer;
use super::kernels::KernelKey;
use super::{Engine, PER, WG};
use crate::error::Result;
use crate::shape::MAX_RANK;
use bytemuck::Zeroable;

uniform! {
    /// Shape and up to three stride vectors: binary, select and copy kernels share this block.
    pub(crate) struct StridedParams for ["binary", "select", "copy"] {
        pub(crate) len: u32,
        rank: u32,
        _pad: [u32; 2],
        offsets: [u32; 4],
        shape: [u32; MAX_RANK],
        strides: [[u32; MAX_RANK]; 3],
    }
}

impl StridedParams {
    pub(crate) fn new(shape: &[usize], strides: &[&[usize]], offsets: [usize; 2]) -> Self {
        let mut p = StridedParams::zeroed();
        p.len = shape.iter().product::<usize>() as u32;
        p.rank = shape.len() as u32;
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

impl Engine {
    pub(crate) fn strided(
        &self,
        kernel: &'static str,
        op: Option<u32>,
        plain: Option<bool>,
        p: &StridedParams,
        bufs: &[&PooledBuffer],
    ) -> Result<()> {
        let (wg, per) = (("WG", WG as f64), ("PER", PER as f64));
        let mut overrides = vec![wg, per];
        overrides.extend(op.map(|op| ("OP", op as f64)));
        overrides.extend(plain.map(|on| ("PLAIN", on as u32 as f64)));
        let key = KernelKey::new(kernel, &overrides);
        self.dispatch(
            &key,
            bytemuck::bytes_of(p),
            bufs,
            self.groups_per_element(p.len as usize),
        )
    }
}
