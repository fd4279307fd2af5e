//! Matmul with an operand larger than one storage binding (VGG-16's first classifier weight
//! is 25088 x 4096 floats, 411 MB, past lavapipe's 128 MiB and WebGPU's default limits).
//!
//! The product is cut into blocks along M, N and K so that every block of A, B and C fits a
//! binding. A block is gathered into a compact buffer by buffer-to-buffer copies (which have
//! no binding limit), multiplied by the ordinary kernel, summed over K blocks, and copied
//! back into C. A big operand is always cut along its stored rows, so its blocks are
//! contiguous: one copy each.

use super::MatmulDims;
use crate::error::{Error, Result};
use crate::gpu::buffer_pool::PooledBuffer;
use crate::gpu::strided::StridedParams;
use crate::gpu::Engine;
use crate::ops::elementwise::{BinaryOp, Broadcast};
use crate::storage::Storage;
use std::ops::Range;
use std::sync::Arc;

/// A row-major matrix inside a buffer: first element and row length.
#[derive(Clone, Copy)]
struct Mat<'a> {
    buf: &'a Arc<PooledBuffer>,
    base: usize,
    ld: usize,
}

/// Block sizes: full length, or the largest count of `row` elements that fits in `limit`.
fn cut(full: usize, row: usize, big: bool, limit: usize) -> usize {
    if big {
        (limit / row.max(1)).min(full)
    } else {
        full
    }
}

fn blocks(len: usize, step: usize) -> impl Iterator<Item = Range<usize>> {
    (0..len).step_by(step).map(move |s| s..(s + step).min(len))
}

impl Engine {
    /// `C = op(A) op(B)` (plus a bias `(values, along_m)`) for any operand sizes the adapter
    /// can hold, and with `relu` and a bias also the product's ReLU where the epilogue
    /// writes it (`None`: the caller applies it).
    pub(crate) fn matmul_any(
        &self,
        a: &Arc<PooledBuffer>,
        b: &Arc<PooledBuffer>,
        d: &MatmulDims,
        bias: Option<(&Arc<PooledBuffer>, bool)>,
        relu: bool,
    ) -> Result<(Arc<PooledBuffer>, Option<Arc<PooledBuffer>>)> {
        let limit = self.max_binding_len();
        let whole = |buf: &PooledBuffer| (buf.bytes() / 4) as usize;
        if [whole(a), whole(b), d.m * d.n * d.batch]
            .iter()
            .all(|&len| len <= limit)
        {
            return match bias {
                Some((v, along_m)) if relu => self.matmul_bufs_relu(a, b, d, (&**v, along_m)),
                _ => Ok((
                    self.matmul_bufs(a, b, d, bias.map(|(v, m)| (&**v, m)))?,
                    None,
                )),
            };
        }
        self.matmul_blocks(a, b, d, bias).map(|c| (c, None))
    }

    /// [`Engine::matmul_any`] past the binding limit, block by block.
    fn matmul_blocks(
        &self,
        a: &Arc<PooledBuffer>,
        b: &Arc<PooledBuffer>,
        d: &MatmulDims,
        bias: Option<(&Arc<PooledBuffer>, bool)>,
    ) -> Result<Arc<PooledBuffer>> {
        let limit = self.max_binding_len();
        let (a_len, b_len, c_len) = (d.m * d.k, d.k * d.n, d.m * d.n);
        let fits = |len: usize| len <= limit;
        if let Some((values, along_m)) = bias {
            // Blocks are summed over K, so the bias is added once, after.
            let c = self.matmul_blocks(a, b, d, None)?;
            let strides = if along_m { [0, 1, 0] } else { [0, 0, 1] };
            let bc = Broadcast {
                shape: vec![d.batch, d.m, d.n],
                strides: vec![vec![c_len, d.n, 1], strides.to_vec()],
            };
            let sum = self.binary(
                BinaryOp::Add,
                &Storage::Gpu(c),
                &Storage::Gpu(values.clone()),
                &bc,
            )?;
            return match sum {
                Storage::Gpu(s) => Ok(s),
                Storage::Cpu(_) => unreachable!("the GPU backend returns GPU storage"),
            };
        }
        let (big_a, big_b, big_c) = (!fits(a_len), !fits(b_len), !fits(c_len));
        // Cut each big matrix along its stored rows.
        let mut mc = cut(d.m, d.k, big_a && !d.trans_a, limit);
        mc = mc.min(cut(d.m, d.n, big_c, limit));
        let nc = cut(d.n, d.k, big_b && d.trans_b, limit);
        let kc =
            cut(d.k, d.m, big_a && d.trans_a, limit).min(cut(d.k, d.n, big_b && !d.trans_b, limit));
        if mc == 0 || nc == 0 || kc == 0 {
            return Err(Error::invalid(
                "matmul",
                &[d.batch, d.m, d.k, d.n],
                format!(
                    "one row of an operand exceeds the largest storage binding ({limit} elements)"
                ),
            ));
        }
        let out = Arc::new(self.alloc(d.batch * c_len)?);
        for bi in 0..d.batch {
            let am = Mat {
                buf: a,
                base: bi * d.a_stride,
                ld: if d.trans_a { d.m } else { d.k },
            };
            let bm = Mat {
                buf: b,
                base: bi * d.b_stride,
                ld: if d.trans_b { d.k } else { d.n },
            };
            let cm = Mat {
                buf: &out,
                base: bi * c_len,
                ld: d.n,
            };
            for rm in blocks(d.m, mc) {
                for rn in blocks(d.n, nc) {
                    let mut acc: Option<Arc<PooledBuffer>> = None;
                    for rk in blocks(d.k, kc) {
                        let ap = if d.trans_a {
                            self.extract(am, rk.clone(), rm.clone())?
                        } else {
                            self.extract(am, rm.clone(), rk.clone())?
                        };
                        let bp = if d.trans_b {
                            self.extract(bm, rn.clone(), rk.clone())?
                        } else {
                            self.extract(bm, rk.clone(), rn.clone())?
                        };
                        let dims = MatmulDims {
                            batch: 1,
                            m: rm.len(),
                            k: rk.len(),
                            n: rn.len(),
                            a_stride: 0,
                            b_stride: 0,
                            ..*d
                        };
                        let piece = self.matmul_bufs(&ap, &bp, &dims, None)?;
                        acc = Some(match acc {
                            None => piece,
                            Some(sum) => self.add_bufs(sum, piece, rm.len() * rn.len())?,
                        });
                    }
                    let acc = acc.expect("K is at least 1");
                    self.place(&acc, cm, rm.clone(), rn.clone())?;
                }
            }
        }
        Ok(out)
    }

    fn add_bufs(
        &self,
        a: Arc<PooledBuffer>,
        b: Arc<PooledBuffer>,
        len: usize,
    ) -> Result<Arc<PooledBuffer>> {
        let bc = Broadcast {
            shape: vec![len],
            strides: vec![vec![1], vec![1]],
        };
        match self.binary(BinaryOp::Add, &Storage::Gpu(a), &Storage::Gpu(b), &bc)? {
            Storage::Gpu(s) => Ok(s),
            Storage::Cpu(_) => unreachable!("the GPU backend returns GPU storage"),
        }
    }

    /// The block `rows x cols` of `m`, compact; the matrix itself when it is the whole buffer.
    fn extract(&self, m: Mat, rows: Range<usize>, cols: Range<usize>) -> Result<Arc<PooledBuffer>> {
        let (r, c) = (rows.len(), cols.len());
        if m.base == 0 && c == m.ld && rows.start == 0 && (m.buf.bytes() / 4) as usize == r * c {
            return Ok(m.buf.clone());
        }
        let out = Arc::new(self.alloc(r * c)?);
        self.block_copy(
            m.buf,
            m.base + rows.start * m.ld + cols.start,
            m.ld,
            &out,
            0,
            c,
            (r, c),
        )?;
        Ok(out)
    }

    /// Writes the compact block `blk` into `m` at `rows x cols`.
    fn place(
        &self,
        blk: &PooledBuffer,
        m: Mat,
        rows: Range<usize>,
        cols: Range<usize>,
    ) -> Result<()> {
        let (r, c) = (rows.len(), cols.len());
        let dst = m.base + rows.start * m.ld + cols.start;
        self.block_copy(blk, 0, c, m.buf, dst, m.ld, (r, c))
    }

    /// Copies an `r x c` block between row-major layouts (row lengths `src_ld`, `dst_ld`):
    /// one buffer copy when rows are contiguous, the strided copy kernel when both buffers
    /// can be bound, else one buffer copy per row.
    #[allow(clippy::too_many_arguments)]
    fn block_copy(
        &self,
        src: &PooledBuffer,
        src_off: usize,
        src_ld: usize,
        dst: &PooledBuffer,
        dst_off: usize,
        dst_ld: usize,
        (r, c): (usize, usize),
    ) -> Result<()> {
        let limit = self.max_binding_len() as u64 * 4;
        if c == src_ld && c == dst_ld {
            let bytes = (r * c) as u64 * 4;
            self.copy(
                src.buffer(),
                src_off as u64 * 4,
                dst.buffer(),
                dst_off as u64 * 4,
                bytes,
            );
            return Ok(());
        }
        if r > 16 && src.bytes() <= limit && dst.bytes() <= limit {
            let p = StridedParams::new(&[r, c], &[&[src_ld, 1], &[dst_ld, 1]], [src_off, dst_off]);
            return self.strided("copy", None, None, &p, &[src, dst]);
        }
        for i in 0..r {
            let (s, t) = (
                (src_off + i * src_ld) as u64 * 4,
                (dst_off + i * dst_ld) as u64 * 4,
            );
            self.copy(src.buffer(), s, dst.buffer(), t, c as u64 * 4);
        }
        Ok(())
    }
}
