//! Batched matrix products with `torch.matmul`'s shapes, either operand optionally read
//! transposed. On the GPU this is the GEMM core (`shaders/gemm/`) behind `shaders/matmul/`,
//! split into blocks where an operand exceeds one storage binding.

mod cpu;
pub(crate) mod gpu;
mod gpu_split;

pub(crate) use cpu::{gemm, MatRef, Threads};
pub use gpu::{MatmulTile, MATMUL_TILE};

use crate::array::{checked_numel, Array};
use crate::device::Backend;
use crate::error::{Error, Result};
use crate::shape::numel;

/// A bias added to a product as it is stored: `C[m, n] += values[n]` (a linear layer's, over
/// output features) or `values[m]` (`along_m`: a convolution's, over output channels).
#[derive(Clone, Copy)]
pub(crate) struct Bias<'a> {
    pub values: &'a crate::storage::Storage,
    pub along_m: bool,
}

/// A batched matrix product `C[b] = op(A[b]) op(B[b])` with `op` identity or transpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulDims {
    /// number of products
    pub batch: usize,
    /// rows of `op(A)` and `C`
    pub m: usize,
    /// columns of `op(A)`, rows of `op(B)`
    pub k: usize,
    /// columns of `op(B)` and `C`
    pub n: usize,
    /// `A` is stored `[K, M]`
    pub trans_a: bool,
    /// `B` is stored `[N, K]`
    pub trans_b: bool,
    /// elements between consecutive `A` matrices (0 broadcasts one matrix)
    pub a_stride: usize,
    /// elements between consecutive `B` matrices (0 broadcasts one matrix)
    pub b_stride: usize,
}

impl Array {
    /// Matrix product with `torch.matmul`'s shapes: `[..., M, K] x [..., K, N]`; a rank-1
    /// operand is a vector. Batch axes must be equal, or one side has none (or all 1s).
    pub fn matmul(&self, other: &Array) -> Result<Array> {
        self.matmul_t(other, false, false)
    }

    /// [`Array::matmul`] with either operand read transposed in its last two axes
    /// (`A` stored `[..., K, M]`, `B` stored `[..., N, K]`), without materialising it.
    pub fn matmul_t(&self, other: &Array, trans_a: bool, trans_b: bool) -> Result<Array> {
        self.matmul_bias(other, trans_a, trans_b, None)
    }

    /// [`Array::matmul_t`] plus `bias[n]` on every row of the product, added as it is
    /// stored (one pass, not two). `bias` must be `[N]`, on the same device.
    pub(crate) fn matmul_bias(
        &self,
        other: &Array,
        trans_a: bool,
        trans_b: bool,
        bias: Option<&Array>,
    ) -> Result<Array> {
        Ok(self.matmul_then(other, trans_a, trans_b, bias, false)?.0)
    }

    /// [`Array::matmul_bias`], and with `relu` also the product's ReLU where the GPU's
    /// epilogue writes it in the same pass (`None`: the caller applies it).
    pub(crate) fn matmul_then(
        &self,
        other: &Array,
        trans_a: bool,
        trans_b: bool,
        bias: Option<&Array>,
        relu: bool,
    ) -> Result<(Array, Option<Array>)> {
        const OP: &str = "matmul";
        self.same_device(OP, other)?;
        let (a_vec, b_vec) = (self.rank() == 1, other.rank() == 1);
        if self.rank() == 0 || other.rank() == 0 {
            return Err(Error::mismatch(
                OP,
                &self.shape,
                &other.shape,
                "both operands need at least one axis",
            ));
        }
        let a_shape = if a_vec {
            vec![1, self.shape[0]]
        } else {
            self.shape.clone()
        };
        let b_shape = if b_vec {
            vec![other.shape[0], 1]
        } else {
            other.shape.clone()
        };
        let (ar, br) = (a_shape.len(), b_shape.len());
        let (m, ka) = if trans_a {
            (a_shape[ar - 1], a_shape[ar - 2])
        } else {
            (a_shape[ar - 2], a_shape[ar - 1])
        };
        let (kb, n) = if trans_b {
            (b_shape[br - 1], b_shape[br - 2])
        } else {
            (b_shape[br - 2], b_shape[br - 1])
        };
        if ka != kb {
            return Err(Error::mismatch(
                OP,
                &self.shape,
                &other.shape,
                format!("inner dimensions differ ({ka} vs {kb}); the left operand's columns must equal the right one's rows"),
            ));
        }
        let (a_batch, b_batch) = (&a_shape[..ar - 2], &b_shape[..br - 2]);
        let (na, nb) = (numel(a_batch), numel(b_batch));
        let batch_shape = if a_batch == b_batch || nb == 1 && a_batch.len() >= b_batch.len() {
            a_batch.to_vec()
        } else if na == 1 && b_batch.len() >= a_batch.len() {
            b_batch.to_vec()
        } else {
            return Err(Error::mismatch(
                OP,
                &self.shape,
                &other.shape,
                "batch axes must be equal, or one operand a single matrix; expand the other operand",
            ));
        };
        let batch = numel(&batch_shape);
        let mut out = batch_shape;
        if !a_vec {
            out.push(m);
        }
        if !b_vec {
            out.push(n);
        }
        checked_numel(OP, &out)?;
        let dims = MatmulDims {
            batch,
            m,
            k: ka,
            n,
            trans_a,
            trans_b,
            a_stride: if na == 1 { 0 } else { m * ka },
            b_stride: if nb == 1 { 0 } else { ka * n },
        };
        if let Some(b) = bias {
            self.same_device(OP, b)?;
            if b.shape != [n] {
                return Err(Error::mismatch(
                    OP,
                    &other.shape,
                    &b.shape,
                    format!("the bias needs shape [{n}], one value per output column"),
                ));
            }
        }
        let bias = bias.map(|b| Bias {
            values: &b.storage,
            along_m: false,
        });
        let (a, b) = (&self.storage, &other.storage);
        let (c, activated) = match self.device.backend() {
            Backend::Cpu(cpu) => (cpu.matmul(a, b, &dims, bias)?, None),
            Backend::Gpu(e) => e.matmul(a, b, &dims, bias, relu)?,
        };
        let wrap = |s| Self::wrap(&self.device, out.clone(), s);
        Ok((wrap(c), activated.map(wrap)))
    }
}
