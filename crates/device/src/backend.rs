//! The `Backend` trait: the primitive ops every device implements, on validated shapes.
//!
//! Callers go through [`crate::Array`], which checks shapes and devices once and then hands a
//! backend plain descriptors; a backend never has to re-validate.

use crate::error::{Error, Result};
use crate::ops::BinaryOp;
use crate::ops::{
    AdamStep, Broadcast, ChannelDims, Conv2dGeom, CopyPiece, CrossEntropyGeom, Distribution,
    MatmulDims, Pool2dGeom, ReduceDims, ReduceOp, ResizeGeom, SgdStep, UnaryOp,
};
use std::sync::{Arc, RwLock};

/// Host memory of the CPU reference backend.
pub type CpuBuf = Arc<RwLock<Vec<f32>>>;

/// Where an array's elements live. Cloning shares the memory.
#[derive(Clone, Debug)]
pub enum Storage {
    /// host memory (CPU reference backend)
    Cpu(CpuBuf),
    /// a pooled GPU buffer (wgpu backend)
    Gpu(Arc<crate::gpu::pool::PooledBuffer>),
}

impl Storage {
    /// The host memory, or an error if this storage lives elsewhere.
    pub fn cpu(&self) -> Result<&CpuBuf> {
        match self {
            Storage::Cpu(b) => Ok(b),
            Storage::Gpu(_) => Err(Error::Gpu(
                "expected host storage, found a GPU buffer".into(),
            )),
        }
    }

    /// The GPU buffer, or an error if this storage lives elsewhere.
    pub fn gpu(&self) -> Result<&crate::gpu::pool::PooledBuffer> {
        self.gpu_shared().map(|b| &**b)
    }

    /// The shared handle of the GPU buffer, or an error if this storage lives elsewhere.
    pub fn gpu_shared(&self) -> Result<&Arc<crate::gpu::pool::PooledBuffer>> {
        match self {
            Storage::Gpu(b) => Ok(b),
            Storage::Cpu(_) => Err(Error::Gpu(
                "expected a GPU buffer, found host storage".into(),
            )),
        }
    }
}

/// The primitive ops of a device. Lengths and shapes have been validated by the caller.
pub trait Backend: Send + Sync {
    /// One line: adapter or CPU name, backend, device type.
    fn name(&self) -> String;
    /// Several lines: [`Backend::name`] plus the limits that matter.
    fn describe(&self) -> String;
    /// Copies host data to the device.
    fn upload(&self, data: &[f32]) -> Result<Storage>;
    /// Copies `len` elements back to the host, waiting for pending work.
    fn download(&self, x: &Storage, len: usize) -> Result<Vec<f32>>;
    /// `out[i] = start + i * step` (a fill when `step` is 0).
    fn arange(&self, len: usize, start: f32, step: f32) -> Result<Storage>;
    /// Counter-based (Philox4x32-10) random fill: element `i` depends only on `seed` and `i`.
    fn random(&self, len: usize, dist: Distribution, seed: u64) -> Result<Storage>;
    /// Elementwise function of one operand.
    fn unary(&self, op: UnaryOp, x: &Storage, len: usize) -> Result<Storage>;
    /// Elementwise function of two operands, broadcast as `bc` says.
    fn binary(&self, op: BinaryOp, a: &Storage, b: &Storage, bc: &Broadcast) -> Result<Storage>;
    /// `cond != 0 ? a : b`, all three broadcast as `bc` says.
    fn select(&self, cond: &Storage, a: &Storage, b: &Storage, bc: &Broadcast) -> Result<Storage>;
    /// Reduction of the middle axis of `[outer, len, inner]`; sums are multiplied by `scale`.
    fn reduce(&self, op: ReduceOp, x: &Storage, dims: ReduceDims, scale: f32) -> Result<Storage>;
    /// Softmax (or log-softmax) along the middle axis of `[outer, len, inner]`.
    fn softmax(&self, x: &Storage, dims: ReduceDims, log: bool) -> Result<Storage>;
    /// Batched matrix product.
    fn matmul(&self, a: &Storage, b: &Storage, dims: &MatmulDims) -> Result<Storage>;
    /// A new array of `len` elements, set to `fill` (if given), then written by each piece.
    fn assemble(
        &self,
        len: usize,
        fill: Option<f32>,
        pieces: &[(&Storage, CopyPiece)],
    ) -> Result<Storage>;
    /// 2-D convolution forward (NCHW), bias optional.
    fn conv2d(
        &self,
        x: &Storage,
        w: &Storage,
        bias: Option<&Storage>,
        g: &Conv2dGeom,
    ) -> Result<Storage>;
    /// Gradient of `sum(conv2d(x, w) * grad_y)` w.r.t. `x`.
    fn conv2d_backward_data(
        &self,
        grad_y: &Storage,
        w: &Storage,
        g: &Conv2dGeom,
    ) -> Result<Storage>;
    /// Gradient of `sum(conv2d(x, w) * grad_y)` w.r.t. `w`.
    fn conv2d_backward_weight(
        &self,
        x: &Storage,
        grad_y: &Storage,
        g: &Conv2dGeom,
    ) -> Result<Storage>;
    /// Pooling forward; max pooling also returns the plane-local index (`iy * W + ix`, as f32)
    /// of each window's maximum.
    fn pool2d(&self, x: &Storage, g: &Pool2dGeom) -> Result<(Storage, Option<Storage>)>;
    /// Pooling backward (max pooling routes through `indices`).
    fn pool2d_backward(
        &self,
        grad_y: &Storage,
        indices: Option<&Storage>,
        g: &Pool2dGeom,
    ) -> Result<Storage>;
    /// Bilinear resize forward.
    fn resize_bilinear(&self, x: &Storage, g: &ResizeGeom) -> Result<Storage>;
    /// Bilinear resize backward.
    fn resize_bilinear_backward(&self, grad_y: &Storage, g: &ResizeGeom) -> Result<Storage>;
    /// Per-channel moments `[2 * C]` of an NCHW array: without `z`, the mean and the biased
    /// variance of `x`; with `z`, `sum(z)` and `sum(z * (x - center))`.
    fn channel_moments(
        &self,
        x: &Storage,
        z: Option<(&Storage, &Storage)>,
        d: ChannelDims,
    ) -> Result<Storage>;
    /// `out = coef[c] * x + coef[C + c] + coef[2C + c] * z` per channel `c` (the last term
    /// only with `z`); `coef` holds `3 * C` values.
    fn channel_affine(
        &self,
        x: &Storage,
        z: Option<&Storage>,
        coef: &Storage,
        d: ChannelDims,
    ) -> Result<Storage>;
    /// Softmax cross-entropy per row `[rows]` and its gradient `[rows, classes]` w.r.t. the
    /// logits of the sum of the row losses.
    fn cross_entropy(
        &self,
        logits: &Storage,
        labels: &Storage,
        g: &CrossEntropyGeom,
    ) -> Result<(Storage, Storage)>;
    /// One SGD step on `len` elements, updating `param` (and `momentum_buf`) in place.
    fn sgd_step(
        &self,
        param: &Storage,
        grad: &Storage,
        momentum_buf: Option<&Storage>,
        len: usize,
        s: &SgdStep,
    ) -> Result<()>;
    /// One Adam step on `len` elements, updating `param`, the moments `m`, `v` (and the
    /// AMSGrad maximum `vmax`) in place.
    #[allow(clippy::too_many_arguments)]
    fn adam_step(
        &self,
        param: &Storage,
        grad: &Storage,
        m: &Storage,
        v: &Storage,
        vmax: Option<&Storage>,
        len: usize,
        s: &AdamStep,
    ) -> Result<()>;
    /// Waits until all enqueued work has finished.
    fn sync(&self) -> Result<()>;
}
