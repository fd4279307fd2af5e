//! Matrix product for the CPU backend, on the `matrixmultiply` crate's blocked kernels
//! (threaded on native targets).

use super::MatmulDims;
use crate::cpu::{read, store, Cpu};
use crate::error::Result;
use crate::storage::Storage;

/// A row-major view of a matrix inside a slice: `rows x cols`, element `(i, j)` at
/// `offset + i * row_stride + j * col_stride`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
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
    pub fn dense(data: &'a [f32], offset: usize, rows: usize, cols: usize) -> Self {
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
    pub fn t(self) -> Self {
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

/// `c[offset..offset + a.rows * b.cols] = beta * c + a @ b`, with `c` dense row-major.
///
/// # Panics
/// If the inner dimensions differ or a view reaches past its slice (a bug in the caller).
pub fn gemm(a: MatRef, b: MatRef, beta: f32, c: &mut [f32], c_offset: usize) {
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
    // SAFETY: the asserts above keep every element the strides reach inside the slices, and
    // `c` is borrowed mutably, so it aliases neither input.
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
            c.as_mut_ptr().add(c_offset),
            n as isize,
            1,
        );
    }
}

impl Cpu {
    pub(crate) fn matmul(&self, a: &Storage, b: &Storage, d: &MatmulDims) -> Result<Storage> {
        let (a, b) = (read(a)?, read(b)?);
        let mut c = vec![0.0f32; d.batch * d.m * d.n];
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
            gemm(a_view, b_view, 0.0, &mut c, p * d.m * d.n);
        }
        Ok(store(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        );
        assert!(close(&c));
    }
}
