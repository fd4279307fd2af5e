//! Matrix product for the CPU backend, on the `matrixmultiply` crate's blocked kernels; a
//! large product is cut into row blocks, one per core (rayon's pool natively, one thread in
//! wasm), and a product inside an op that is already parallel stays on its thread.

use super::{Bias, MatmulDims};
use crate::cpu::{read, store, Cpu};
use crate::error::Result;
use crate::storage::Storage;

/// A row-major view of a matrix inside a slice: `rows x cols`, element `(i, j)` at
/// `offset + i * row_stride + j * col_stride`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatRef<'a> {
    /// the storage
    pub data: &'a [f32],
    /// first element
    pub offset: usize,
    /// rows
    pub rows: usize,
    /// columns
    pub cols: usize,
    /// distance between rows
    pub row_stride: usize,
    /// distance between columns
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A dense row-major `rows x cols` matrix at `offset`.
    pub(crate) fn dense(data: &'a [f32], offset: usize, rows: usize, cols: usize) -> Self {
        Self {
            data,
            offset,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, as a view of the same storage.
    pub(crate) fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    fn last_index(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return self.offset;
        }
        self.offset + (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
    }
}

/// Whether a GEMM may spread over every core or must stay on the calling thread (inside an
/// op that is already parallel over images).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Threads {
    /// the calling thread only
    One,
    /// every core, when the product is large enough to pay for it
    Many,
}

/// Multiply-adds below which a product stays on one thread.
const PARALLEL_MACS: usize = 1 << 18;

/// `c[offset..offset + a.rows * b.cols] = beta * c + a @ b`, with `c` dense row-major.
///
/// # Panics
/// If the inner dimensions differ or a view reaches past its slice (a bug in the caller).
pub(crate) fn gemm(
    a: MatRef,
    b: MatRef,
    beta: f32,
    c: &mut [f32],
    c_offset: usize,
    threads: Threads,
) {
    assert_eq!(a.cols, b.rows, "gemm inner dimensions");
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    assert!(c_offset + m * n <= c.len(), "gemm output out of range");
    if k == 0 {
        c[c_offset..c_offset + m * n]
            .iter_mut()
            .for_each(|v| *v *= beta);
        return;
    }
    assert!(
        a.last_index() < a.data.len() && b.last_index() < b.data.len(),
        "gemm input out of range"
    );
    let c = &mut c[c_offset..c_offset + m * n];
    let cores = crate::cpu::cores();
    if threads == Threads::One || m * n * k < PARALLEL_MACS || cores == 1 {
        return sgemm(a, b, beta, c);
    }
    if m >= 2 * cores {
        // Rows of C in one block per core, each an independent single-threaded product.
        let rows = m.div_ceil(cores);
        crate::cpu::par_chunks(c, rows * n, |i, block| {
            let a_rows = MatRef {
                offset: a.offset + i * rows * a.row_stride,
                rows: block.len() / n,
                ..a
            };
            sgemm(a_rows, b, beta, block);
        });
        return;
    }
    // Few rows (a batch of one through a linear layer): blocks of columns, each computed
    // into its own buffer and copied into place.
    let cols = n.div_ceil(cores);
    let mut blocks = vec![0.0f32; m * n];
    crate::cpu::par_chunks(&mut blocks, m * cols, |j, block| {
        let (n0, w) = (j * cols, block.len() / m);
        if beta != 0.0 {
            for (r, row) in block.chunks_mut(w).enumerate() {
                row.copy_from_slice(&c[r * n + n0..][..w]);
            }
        }
        let b_cols = MatRef {
            offset: b.offset + n0 * b.col_stride,
            cols: w,
            ..b
        };
        sgemm(a, b_cols, beta, block);
    });
    for (j, block) in blocks.chunks(m * cols).enumerate() {
        let (n0, w) = (j * cols, block.len() / m);
        for (r, row) in block.chunks(w).enumerate() {
            c[r * n + n0..][..w].copy_from_slice(row);
        }
    }
}

/// `c = beta * c + a @ b` on the calling thread (`c` dense, exactly `a.rows * b.cols`).
fn sgemm(a: MatRef, b: MatRef, beta: f32, c: &mut [f32]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    debug_assert_eq!(c.len(), m * n);
    // SAFETY: the caller checked that every element the strides reach lies inside the
    // slices, and `c` is borrowed mutably, so it aliases neither input.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr().add(a.offset),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr().add(b.offset),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

impl Cpu {
    /// The product, with the bias (if any) written into C first and GEMM accumulating onto it.
    pub(crate) fn matmul(
        &self,
        a: &Storage,
        b: &Storage,
        d: &MatmulDims,
        bias: Option<Bias>,
    ) -> Result<Storage> {
        let (a, b) = (read(a)?, read(b)?);
        let mut c = crate::cpu::filled(d.batch * d.m * d.n, 0.0);
        let beta = match bias {
            None => 0.0,
            Some(bias) => {
                let v = read(bias.values)?;
                for (i, row) in c.chunks_exact_mut(d.n.max(1)).enumerate() {
                    if bias.along_m {
                        row.fill(v[i % d.m]);
                    } else {
                        row.copy_from_slice(&v[..d.n]);
                    }
                }
                1.0
            }
        };
        for p in 0..d.batch {
            let a_view = if d.trans_a {
                MatRef::dense(&a, p * d.a_stride, d.k, d.m).t()
            } else {
                MatRef::dense(&a, p * d.a_stride, d.m, d.k)
            };
            let b_view = if d.trans_b {
                MatRef::dense(&b, p * d.b_stride, d.n, d.k).t()
            } else {
                MatRef::dense(&b, p * d.b_stride, d.k, d.n)
            };
            gemm(a_view, b_view, beta, &mut c, p * d.m * d.n, Threads::Many);
        }
        Ok(store(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Products large enough to be cut over the cores, by rows and (one row) by columns,
    /// with and without accumulating into C, against the definition.
    #[test]
    fn parallel_blocks_match_the_definition() {
        for (m, k, n) in [(200, 80, 90), (1, 3000, 301), (3, 500, 250)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.71).cos()).collect();
            let c0: Vec<f32> = (0..m * n).map(|i| (i % 7) as f32).collect();
            for beta in [0.0, 1.0] {
                let mut want = vec![0.0f32; m * n];
                for i in 0..m {
                    for j in 0..n {
                        let dot: f32 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                        want[i * n + j] = beta * c0[i * n + j] + dot;
                    }
                }
                let mut c = c0.clone();
                let (av, bv) = (MatRef::dense(&a, 0, m, k), MatRef::dense(&b, 0, k, n));
                gemm(av, bv, beta, &mut c, 0, Threads::Many);
                for (i, (x, y)) in c.iter().zip(&want).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-3 * (1.0 + y.abs()),
                        "{m}x{k}x{n} beta {beta}: element {i}: {x} vs {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn gemm_matches_the_definition_with_transposes() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.71).cos()).collect();
        let mut want = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        let mut c = vec![1.0; m * n];
        gemm(
            MatRef::dense(&a, 0, m, k),
            MatRef::dense(&b, 0, k, n),
            0.0,
            &mut c,
            0,
            Threads::Many,
        );
        let close = |x: &[f32]| x.iter().zip(&want).all(|(p, q)| (p - q).abs() < 1e-5);
        assert!(close(&c));
        // (b^T)^T through a transposed view
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        gemm(
            MatRef::dense(&a, 0, m, k),
            MatRef::dense(&bt, 0, n, k).t(),
            0.0,
            &mut c,
            0,
            Threads::Many,
        );
        assert!(close(&c));
    }
}
