//! CPU reference of the strided copies behind every layout op.

use super::CopyPiece;
use crate::cpu::{filled, read, store, strided_rows, Cpu};
use crate::error::Result;
use crate::storage::Storage;

impl Cpu {
    pub(crate) fn assemble(
        &self,
        len: usize,
        fill: Option<f32>,
        pieces: &[(&Storage, CopyPiece)],
    ) -> Result<Storage> {
        let mut out = filled(len, fill.unwrap_or(0.0));
        for (src, p) in pieces {
            let src = read(src)?;
            let (ss, ds) = (&p.src_strides, &p.dst_strides);
            let (si, di) = (*ss.last().unwrap_or(&0), *ds.last().unwrap_or(&0));
            let inner = *p.shape.last().unwrap_or(&1);
            strided_rows(&p.shape, &[ss, ds], |_, base| {
                let (s0, d0) = (p.src_offset + base[0], p.dst_offset + base[1]);
                if si == 1 && di == 1 {
                    out[d0..d0 + inner].copy_from_slice(&src[s0..s0 + inner]);
                } else {
                    for j in 0..inner {
                        out[d0 + j * di] = src[s0 + j * si];
                    }
                }
            });
        }
        Ok(store(out))
    }
}
