//! CPU reference of the strided copies behind every layout op.

use super::CopyPiece;
use crate::cpu::{read, store, strided_offsets, Cpu};
use crate::error::Result;
use crate::storage::Storage;

impl Cpu {
    pub(crate) fn assemble(
        &self,
        len: usize,
        fill: Option<f32>,
        pieces: &[(&Storage, CopyPiece)],
    ) -> Result<Storage> {
        let mut out = vec![fill.unwrap_or(0.0); len];
        for (src, p) in pieces {
            let src = read(src)?;
            let offs = strided_offsets(&p.shape, &[&p.src_strides, &p.dst_strides]);
            for (s, d) in offs[0].iter().zip(&offs[1]) {
                out[p.dst_offset + d] = src[p.src_offset + s];
            }
        }
        Ok(store(out))
    }
}
