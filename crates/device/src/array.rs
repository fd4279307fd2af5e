//! `Array`: a contiguous, row-major f32 array on a [`Device`]. Ops validate shapes here, once,
//! then hand the backend plain descriptors. Arrays are immutable; clones share memory.

use crate::backend::Storage;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::{
    BinaryOp, Broadcast, CopyPiece, Distribution, MatmulDims, ReduceDims, ReduceOp, UnaryOp,
};
use crate::shape::{self, broadcast_shape, broadcast_strides, normalize_axis, numel, strides};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A contiguous f32 array on a device.
#[derive(Clone)]
pub struct Array {
    shape: Vec<usize>,
    storage: Storage,
    device: Device,
    /// Bumped by every in-place update of the storage; shared by every array viewing it.
    version: Arc<AtomicU64>,
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Array({:?} on {})", self.shape, self.device)
    }
}

/// Kernels index with 32-bit integers; refuse anything larger up front.
fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    shape::check_rank(op, shape)?;
    let n = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match n {
        Some(n) if n <= u32::MAX as usize => Ok(n),
        _ => Err(Error::invalid(
            op,
            shape,
            "more than 2^32 - 1 elements; split the array",
        )),
    }
}

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Result<Array> {
            self.unary($op)
        }
    )*};
}

macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self, other: &Array) -> Result<Array> {
            self.binary($op, other)
        }
    )*};
}

impl Array {
    pub(crate) fn wrap(device: &Device, shape: Vec<usize>, storage: Storage) -> Array {
        Array {
            shape,
            storage,
            device: device.clone(),
            version: Arc::new(AtomicU64::new(0)),
        }
    }

    /// An array holding `data`, which must have exactly `numel(shape)` values.
    pub fn from_slice(device: &Device, data: &[f32], shape: &[usize]) -> Result<Array> {
        let n = checked_numel("from_slice", shape)?;
        if n != data.len() {
            return Err(Error::invalid(
                "from_slice",
                shape,
                format!("{} values given but the shape holds {n}", data.len()),
            ));
        }
        Ok(Self::wrap(
            device,
            shape.to_vec(),
            device.backend().upload(data)?,
        ))
    }

    /// A 0-dimensional array holding `value`.
    pub fn scalar(device: &Device, value: f32) -> Result<Array> {
        Self::full(device, &[], value)
    }

    /// An array of `value`s.
    pub fn full(device: &Device, shape: &[usize], value: f32) -> Result<Array> {
        let n = checked_numel("full", shape)?;
        Ok(Self::wrap(
            device,
            shape.to_vec(),
            device.backend().arange(n, value, 0.0)?,
        ))
    }

    /// An array of zeros.
    pub fn zeros(device: &Device, shape: &[usize]) -> Result<Array> {
        Self::full(device, shape, 0.0)
    }

    /// An array of ones.
    pub fn ones(device: &Device, shape: &[usize]) -> Result<Array> {
        Self::full(device, shape, 1.0)
    }

    /// `[start, start + step, ...]` up to but excluding `end`, like `torch.arange`.
    pub fn arange(device: &Device, start: f32, end: f32, step: f32) -> Result<Array> {
        let span = (end - start) / step;
        if step == 0.0 || !span.is_finite() {
            return Err(Error::invalid(
                "arange",
                &[],
                format!("step {step} cannot walk from {start} to {end}; use a non-zero step of the right sign"),
            ));
        }
        let n = span.ceil().max(0.0) as usize;
        checked_numel("arange", &[n])?;
        Ok(Self::wrap(
            device,
            vec![n],
            device.backend().arange(n, start, step)?,
        ))
    }

    /// Random values from `dist`; element `i` depends only on `seed` and `i` (Philox4x32-10),
    /// so the GPU and the CPU reference produce the same numbers.
    pub fn random(
        device: &Device,
        shape: &[usize],
        dist: Distribution,
        seed: u64,
    ) -> Result<Array> {
        let n = checked_numel("random", shape)?;
        Ok(Self::wrap(
            device,
            shape.to_vec(),
            device.backend().random(n, dist, seed)?,
        ))
    }

    /// Uniform on `[0, 1)`, like `torch.rand`.
    pub fn rand(device: &Device, shape: &[usize], seed: u64) -> Result<Array> {
        Self::random(
            device,
            shape,
            Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
            seed,
        )
    }

    /// Standard normal, like `torch.randn`.
    pub fn randn(device: &Device, shape: &[usize], seed: u64) -> Result<Array> {
        Self::random(
            device,
            shape,
            Distribution::Normal {
                mean: 0.0,
                std: 1.0,
            },
            seed,
        )
    }

    /// Uniform on `[low, high)`.
    pub fn uniform(
        device: &Device,
        shape: &[usize],
        low: f32,
        high: f32,
        seed: u64,
    ) -> Result<Array> {
        Self::random(device, shape, Distribution::Uniform { low, high }, seed)
    }

    /// Normal with mean and standard deviation.
    pub fn normal(
        device: &Device,
        shape: &[usize],
        mean: f32,
        std: f32,
        seed: u64,
    ) -> Result<Array> {
        Self::random(device, shape, Distribution::Normal { mean, std }, seed)
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// The device the array lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The backing storage (for other crates' kernels).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// How many in-place updates the storage has had (PyTorch's `_version`). Views and
    /// clones share the counter; autodiff compares it with the version an op saved, so a
    /// backward pass refuses values changed after the forward pass.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Records an in-place update of the storage. Every `*_` op calls it on what it writes;
    /// code writing into [`Array::storage`] with its own kernels must call it too.
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Copies the elements to the host (waits for pending GPU work). On wasm only CPU arrays
    /// read this way; a GPU array says to use [`Array::to_vec_async`].
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.device.backend().download(&self.storage, self.numel())
    }

    /// Copies the elements to the host without blocking the thread (for the browser).
    pub async fn to_vec_async(&self) -> Result<Vec<f32>> {
        match (self.device.engine(), &self.storage) {
            (Some(engine), Storage::Gpu(buf)) => {
                engine.read_async(buf.buffer(), self.numel()).await
            }
            _ => self.device.backend().download(&self.storage, self.numel()),
        }
    }

    /// The same values on another device (on wasm, reading a GPU array this way fails: use
    /// [`Array::to_device_async`]).
    pub fn to_device(&self, device: &Device) -> Result<Array> {
        if *device == self.device {
            return Ok(self.clone());
        }
        Array::from_slice(device, &self.to_vec()?, &self.shape)
    }

    /// The same values on another device, reading through the async path.
    pub async fn to_device_async(&self, device: &Device) -> Result<Array> {
        if *device == self.device {
            return Ok(self.clone());
        }
        Array::from_slice(device, &self.to_vec_async().await?, &self.shape)
    }

    /// The same elements viewed with another shape of the same size (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Array> {
        shape::check_rank("reshape", shape)?;
        if numel(shape) != self.numel() {
            return Err(Error::mismatch(
                "reshape",
                &self.shape,
                shape,
                format!(
                    "{} elements cannot take a shape of {}",
                    self.numel(),
                    numel(shape)
                ),
            ));
        }
        Ok(Array {
            shape: shape.to_vec(),
            ..self.clone()
        })
    }

    /// Whether both arrays use the same memory.
    pub fn shares_storage(&self, other: &Array) -> bool {
        match (&self.storage, &other.storage) {
            (Storage::Cpu(a), Storage::Cpu(b)) => std::sync::Arc::ptr_eq(a, b),
            (Storage::Gpu(a), Storage::Gpu(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    pub(crate) fn same_device(&self, op: &'static str, other: &Array) -> Result<()> {
        if self.device != other.device {
            return Err(Error::DeviceMismatch {
                op,
                lhs: self.device.to_string(),
                rhs: other.device.to_string(),
            });
        }
        Ok(())
    }

    fn unary(&self, op: UnaryOp) -> Result<Array> {
        let s = self
            .device
            .backend()
            .unary(op, &self.storage, self.numel())?;
        Ok(Self::wrap(&self.device, self.shape.clone(), s))
    }

    unary_methods! {
        /// `-x`
        neg => UnaryOp::Neg;
        /// `|x|`
        abs => UnaryOp::Abs;
        /// `e^x`
        exp => UnaryOp::Exp;
        /// natural logarithm
        log => UnaryOp::Log;
        /// square root
        sqrt => UnaryOp::Sqrt;
        /// hyperbolic tangent
        tanh => UnaryOp::Tanh;
        /// logistic sigmoid
        sigmoid => UnaryOp::Sigmoid;
        /// `max(x, 0)`
        relu => UnaryOp::Relu;
    }

    /// `x^p`, like `torch.pow` with a float exponent.
    pub fn powf(&self, p: f32) -> Result<Array> {
        self.unary(UnaryOp::Powf(p))
    }

    /// `x + s`.
    pub fn add_scalar(&self, s: f32) -> Result<Array> {
        self.unary(UnaryOp::AddScalar(s))
    }

    /// `x * s`.
    pub fn mul_scalar(&self, s: f32) -> Result<Array> {
        self.unary(UnaryOp::MulScalar(s))
    }

    fn broadcast(op: &'static str, arrays: &[&Array]) -> Result<Broadcast> {
        let mut out = arrays[0].shape.clone();
        for a in &arrays[1..] {
            arrays[0].same_device(op, a)?;
            out = broadcast_shape(&out, &a.shape).ok_or_else(|| {
                Error::mismatch(
                    op,
                    &out,
                    &a.shape,
                    "trailing dimensions must be equal or 1 (NumPy broadcasting); reshape or expand one operand",
                )
            })?;
        }
        checked_numel(op, &out)?;
        let strides = arrays
            .iter()
            .map(|a| broadcast_strides(&a.shape, &out))
            .collect();
        Ok(Broadcast {
            shape: out,
            strides,
        })
    }

    fn binary(&self, op: BinaryOp, other: &Array) -> Result<Array> {
        let bc = Self::broadcast(op.name(), &[self, other])?;
        let s = self
            .device
            .backend()
            .binary(op, &self.storage, &other.storage, &bc)?;
        Ok(Self::wrap(&self.device, bc.shape, s))
    }

    binary_methods! {
        /// `a + b`, broadcasting.
        add => BinaryOp::Add;
        /// `a - b`, broadcasting.
        sub => BinaryOp::Sub;
        /// `a * b`, broadcasting.
        mul => BinaryOp::Mul;
        /// `a / b`, broadcasting.
        div => BinaryOp::Div;
        /// Elementwise maximum (NaN propagates), broadcasting.
        maximum => BinaryOp::Maximum;
        /// Elementwise minimum (NaN propagates), broadcasting.
        minimum => BinaryOp::Minimum;
        /// `a == b` as 1.0 / 0.0, broadcasting.
        eq => BinaryOp::Eq;
        /// `a != b` as 1.0 / 0.0, broadcasting.
        ne => BinaryOp::Ne;
        /// `a < b` as 1.0 / 0.0, broadcasting.
        lt => BinaryOp::Lt;
        /// `a <= b` as 1.0 / 0.0, broadcasting.
        le => BinaryOp::Le;
        /// `a > b` as 1.0 / 0.0, broadcasting.
        gt => BinaryOp::Gt;
        /// `a >= b` as 1.0 / 0.0, broadcasting.
        ge => BinaryOp::Ge;
    }

    /// `cond != 0 ? on_true : on_false` elementwise, all three broadcast (`torch.where`).
    pub fn where_(cond: &Array, on_true: &Array, on_false: &Array) -> Result<Array> {
        let bc = Self::broadcast("where", &[cond, on_true, on_false])?;
        let s = cond.device.backend().select(
            &cond.storage,
            &on_true.storage,
            &on_false.storage,
            &bc,
        )?;
        Ok(Self::wrap(&cond.device, bc.shape, s))
    }

    /// Sorted, de-duplicated axes; all axes when `axes` is empty.
    fn axes(&self, op: &'static str, axes: &[isize]) -> Result<Vec<usize>> {
        if axes.is_empty() {
            return Ok((0..self.rank()).collect());
        }
        let mut out = axes
            .iter()
            .map(|&a| normalize_axis(op, &self.shape, a))
            .collect::<Result<Vec<_>>>()?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Views the array as `[outer, len, inner]` with `axes` in the middle, permuting first if
    /// the axes are not adjacent. Refuses empty reductions.
    fn reduce_view(&self, op: &'static str, axes: &[usize]) -> Result<(Array, ReduceDims)> {
        let len: usize = axes.iter().map(|&a| self.shape[a]).product();
        if len == 0 {
            return Err(Error::invalid(
                op,
                &self.shape,
                "cannot reduce over an empty axis",
            ));
        }
        let adjacent = axes.windows(2).all(|w| w[1] == w[0] + 1);
        if axes.is_empty() {
            return Ok((
                self.clone(),
                ReduceDims {
                    outer: self.numel(),
                    len: 1,
                    inner: 1,
                },
            ));
        }
        if adjacent {
            let (first, last) = (axes[0], axes[axes.len() - 1]);
            let outer = self.shape[..first].iter().product();
            let inner = self.shape[last + 1..].iter().product();
            return Ok((self.clone(), ReduceDims { outer, len, inner }));
        }
        let mut perm: Vec<usize> = (0..self.rank()).filter(|d| !axes.contains(d)).collect();
        perm.extend_from_slice(axes);
        let moved = self.permute(&perm)?;
        Ok((
            moved,
            ReduceDims {
                outer: self.numel() / len,
                len,
                inner: 1,
            },
        ))
    }

    fn reduced_shape(&self, axes: &[usize], keepdim: bool) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.rank());
        for (d, &n) in self.shape.iter().enumerate() {
            if !axes.contains(&d) {
                out.push(n);
            } else if keepdim {
                out.push(1);
            }
        }
        out
    }

    fn reduce(
        &self,
        name: &'static str,
        op: ReduceOp,
        axes: &[isize],
        keepdim: bool,
        mean: bool,
    ) -> Result<Array> {
        let axes = self.axes(name, axes)?;
        let (src, dims) = self.reduce_view(name, &axes)?;
        let scale = if mean { 1.0 / dims.len as f32 } else { 1.0 };
        let s = self
            .device
            .backend()
            .reduce(op, &src.storage, dims, scale)?;
        Ok(Self::wrap(
            &self.device,
            self.reduced_shape(&axes, keepdim),
            s,
        ))
    }

    /// Sum over `axes` (all axes if empty).
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Array> {
        self.reduce("sum", ReduceOp::Sum, axes, keepdim, false)
    }

    /// Mean over `axes` (all axes if empty).
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Array> {
        self.reduce("mean", ReduceOp::Sum, axes, keepdim, true)
    }

    /// Maximum over `axes` (all axes if empty); NaN propagates.
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Array> {
        self.reduce("max", ReduceOp::Max, axes, keepdim, false)
    }

    /// Minimum over `axes` (all axes if empty); NaN propagates.
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Result<Array> {
        self.reduce("min", ReduceOp::Min, axes, keepdim, false)
    }

    /// Index of the first maximum along `axis`, as f32 (exact below 2^24).
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Result<Array> {
        self.reduce("argmax", ReduceOp::Argmax, &[axis], keepdim, false)
    }

    /// Index of the first minimum along `axis`, as f32 (exact below 2^24).
    pub fn argmin(&self, axis: isize, keepdim: bool) -> Result<Array> {
        self.reduce("argmin", ReduceOp::Argmin, &[axis], keepdim, false)
    }

    fn softmax_impl(&self, name: &'static str, axis: isize, log: bool) -> Result<Array> {
        let axis = normalize_axis(name, &self.shape, axis)?;
        let (_, dims) = self.reduce_view(name, &[axis])?;
        let s = self.device.backend().softmax(&self.storage, dims, log)?;
        Ok(Self::wrap(&self.device, self.shape.clone(), s))
    }

    /// Softmax along `axis`, computed stably (the max is subtracted first).
    pub fn softmax(&self, axis: isize) -> Result<Array> {
        self.softmax_impl("softmax", axis, false)
    }

    /// Log-softmax along `axis`, computed stably.
    pub fn log_softmax(&self, axis: isize) -> Result<Array> {
        self.softmax_impl("log_softmax", axis, true)
    }

    /// Matrix product with `torch.matmul`'s shapes: `[..., M, K] x [..., K, N]`; a rank-1
    /// operand is a vector. Batch axes must be equal, or one side has none (or all 1s).
    pub fn matmul(&self, other: &Array) -> Result<Array> {
        self.matmul_t(other, false, false)
    }

    /// [`Array::matmul`] with either operand read transposed in its last two axes
    /// (`A` stored `[..., K, M]`, `B` stored `[..., N, K]`), without materialising it.
    pub fn matmul_t(&self, other: &Array, trans_a: bool, trans_b: bool) -> Result<Array> {
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
        let s = self
            .device
            .backend()
            .matmul(&self.storage, &other.storage, &dims)?;
        Ok(Self::wrap(&self.device, out, s))
    }

    fn gather(
        &self,
        shape: Vec<usize>,
        fill: Option<f32>,
        pieces: &[(&Array, CopyPiece)],
    ) -> Result<Array> {
        let n = numel(&shape);
        let refs: Vec<(&Storage, CopyPiece)> = pieces
            .iter()
            .map(|(a, p)| (&a.storage, p.clone()))
            .collect();
        let s = self.device.backend().assemble(n, fill, &refs)?;
        Ok(Self::wrap(&self.device, shape, s))
    }

    /// Axes reordered: output axis `i` is input axis `dims[i]` (`torch.permute`).
    pub fn permute(&self, dims: &[usize]) -> Result<Array> {
        let mut seen = vec![false; self.rank()];
        let valid = dims.len() == self.rank()
            && dims
                .iter()
                .all(|&d| d < self.rank() && !std::mem::replace(&mut seen[d], true));
        if !valid {
            return Err(Error::invalid(
                "permute",
                &self.shape,
                format!("{dims:?} is not a permutation of 0..{}", self.rank()),
            ));
        }
        let own = strides(&self.shape);
        let shape: Vec<usize> = dims.iter().map(|&d| self.shape[d]).collect();
        let piece = CopyPiece {
            src_offset: 0,
            src_strides: dims.iter().map(|&d| own[d]).collect(),
            dst_offset: 0,
            dst_strides: strides(&shape),
            shape: shape.clone(),
        };
        self.gather(shape, None, &[(self, piece)])
    }

    /// Two axes swapped.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Array> {
        let (a, b) = (
            normalize_axis("transpose", &self.shape, a)?,
            normalize_axis("transpose", &self.shape, b)?,
        );
        let mut dims: Vec<usize> = (0..self.rank()).collect();
        dims.swap(a, b);
        self.permute(&dims)
    }

    /// Elements `start, start + step, ...` below `end` along `axis` (`x[..., start:end:step]`).
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Result<Array> {
        let ax = normalize_axis("slice", &self.shape, axis)?;
        if step == 0 || start > end || end > self.shape[ax] {
            return Err(Error::invalid(
                "slice",
                &self.shape,
                format!(
                    "range {start}..{end} step {step} does not fit axis {ax} of length {}",
                    self.shape[ax]
                ),
            ));
        }
        let own = strides(&self.shape);
        let mut shape = self.shape.clone();
        shape[ax] = (end - start).div_ceil(step);
        let mut src_strides = own.clone();
        src_strides[ax] *= step;
        let piece = CopyPiece {
            src_offset: start * own[ax],
            src_strides,
            dst_offset: 0,
            dst_strides: strides(&shape),
            shape: shape.clone(),
        };
        self.gather(shape, None, &[(self, piece)])
    }

    /// Gradient w.r.t. the input of [`Array::slice`]: `grad_y` scattered into zeros of
    /// `input_shape` at the sliced positions.
    pub fn slice_backward(
        grad_y: &Array,
        input_shape: &[usize],
        axis: isize,
        start: usize,
        end: usize,
        step: usize,
    ) -> Result<Array> {
        const OP: &str = "slice_backward";
        let ax = normalize_axis(OP, input_shape, axis)?;
        let fits = step > 0 && start <= end && end <= input_shape[ax];
        let mut want = input_shape.to_vec();
        if fits {
            want[ax] = (end - start).div_ceil(step);
        }
        if !fits || grad_y.shape != want {
            return Err(Error::mismatch(
                OP,
                &grad_y.shape,
                input_shape,
                format!("grad_y must have the shape of x[{start}..{end} step {step}] on axis {ax}"),
            ));
        }
        let own = strides(input_shape);
        let mut dst_strides = own.clone();
        dst_strides[ax] *= step;
        let piece = CopyPiece {
            shape: grad_y.shape.clone(),
            src_offset: 0,
            src_strides: strides(&grad_y.shape),
            dst_offset: start * own[ax],
            dst_strides,
        };
        grad_y.gather(input_shape.to_vec(), Some(0.0), &[(grad_y, piece)])
    }

    /// The array repeated along its size-1 (or missing leading) axes to `shape`, NumPy
    /// broadcasting rules (`torch.Tensor.expand`, materialised).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Array> {
        const OP: &str = "broadcast_to";
        if broadcast_shape(&self.shape, shape).as_deref() != Some(shape) {
            return Err(Error::mismatch(
                OP,
                &self.shape,
                shape,
                "each axis must equal the target's or be 1 (NumPy broadcasting)",
            ));
        }
        checked_numel(OP, shape)?;
        let piece = CopyPiece {
            shape: shape.to_vec(),
            src_offset: 0,
            src_strides: broadcast_strides(&self.shape, shape),
            dst_offset: 0,
            dst_strides: strides(shape),
        };
        self.gather(shape.to_vec(), None, &[(self, piece)])
    }

    /// Arrays joined along `axis`; all other axes must match (`torch.cat`).
    pub fn concat(arrays: &[&Array], axis: isize) -> Result<Array> {
        let first = arrays
            .first()
            .ok_or_else(|| Error::invalid("concat", &[], "needs at least one array"))?;
        let ax = normalize_axis("concat", &first.shape, axis)?;
        let mut shape = first.shape.clone();
        shape[ax] = 0;
        for a in arrays {
            first.same_device("concat", a)?;
            let fits = a.rank() == first.rank()
                && (0..a.rank()).all(|d| d == ax || a.shape[d] == first.shape[d]);
            if !fits {
                return Err(Error::mismatch(
                    "concat",
                    &first.shape,
                    &a.shape,
                    format!("every axis but {ax} must match"),
                ));
            }
            shape[ax] += a.shape[ax];
        }
        checked_numel("concat", &shape)?;
        let out_strides = strides(&shape);
        let mut at = 0;
        let pieces: Vec<(&Array, CopyPiece)> = arrays
            .iter()
            .map(|a| {
                let piece = CopyPiece {
                    shape: a.shape.clone(),
                    src_offset: 0,
                    src_strides: strides(&a.shape),
                    dst_offset: at * out_strides[ax],
                    dst_strides: out_strides.clone(),
                };
                at += a.shape[ax];
                (*a, piece)
            })
            .collect();
        first.gather(shape, None, &pieces)
    }

    /// Constant padding: `pads[d] = (before, after)` elements added on axis `d`, one pair per axis.
    pub fn pad(&self, pads: &[(usize, usize)], value: f32) -> Result<Array> {
        if pads.len() != self.rank() {
            return Err(Error::invalid(
                "pad",
                &self.shape,
                format!(
                    "{} (before, after) pairs given; give one per axis ({})",
                    pads.len(),
                    self.rank()
                ),
            ));
        }
        let shape: Vec<usize> = self
            .shape
            .iter()
            .zip(pads)
            .map(|(n, (b, a))| n + b + a)
            .collect();
        checked_numel("pad", &shape)?;
        let out_strides = strides(&shape);
        let piece = CopyPiece {
            shape: self.shape.clone(),
            src_offset: 0,
            src_strides: strides(&self.shape),
            dst_offset: pads.iter().zip(&out_strides).map(|((b, _), s)| b * s).sum(),
            dst_strides: out_strides,
        };
        self.gather(shape, Some(value), &[(self, piece)])
    }
}
