//! The strided copies behind every layout op: a buffer copy where a piece is contiguous on
//! both sides, else `shaders/copy.wgsl`.

use super::CopyPiece;
use crate::error::Result;
use crate::gpu::strided::StridedParams;
use crate::gpu::Engine;
use crate::storage::Storage;

impl Engine {
    pub(crate) fn assemble(
        &self,
        len: usize,
        fill: Option<f32>,
        pieces: &[(&Storage, CopyPiece)],
    ) -> Result<Storage> {
        let out = self.out(len)?;
        if let Some(v) = fill {
            self.fill(&out, len, v, 0.0)?;
        }
        for (src, piece) in pieces {
            let plain = piece.src_strides == piece.dst_strides
                && piece.src_strides == crate::shape::strides(&piece.shape);
            let n: usize = piece.shape.iter().product();
            if plain {
                let bytes = n as u64 * 4;
                let (so, dof) = (piece.src_offset as u64 * 4, piece.dst_offset as u64 * 4);
                self.copy(src.gpu()?.buffer(), so, out.buffer(), dof, bytes);
                continue;
            }
            let p = StridedParams::new(
                &piece.shape,
                &[&piece.src_strides, &piece.dst_strides],
                [piece.src_offset, piece.dst_offset],
            );
            self.strided("copy", None, None, &p, &[src.gpu()?, &out])?;
        }
        Ok(Storage::Gpu(out))
    }
}
