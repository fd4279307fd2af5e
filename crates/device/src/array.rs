//! `Array`: a contiguous, row-major f32 array on a [`Device`]. Each op's methods live in its
//! folder under `ops/`, which validates shapes once and hands the backend plain descriptors.
//! Arrays are immutable; clones share memory.

use crate::device::{Backend, Device};
use crate::error::{Error, Result};
use crate::shape::{self, numel};
use crate::storage::Storage;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A contiguous f32 array on a device.
#[derive(Clone)]
pub struct Array {
    pub(crate) shape: Vec<usize>,
    pub(crate) storage: Storage,
    pub(crate) device: Device,
    /// Bumped by every in-place update of the storage; shared by every array viewing it.
    version: Arc<AtomicU64>,
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Array({:?} on {})", self.shape, self.device)
    }
}

/// Kernels index with 32-bit integers; refuse anything larger up front.
pub(crate) fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
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
        let storage = match device.backend() {
            Backend::Cpu(c) => c.upload(data)?,
            Backend::Gpu(e) => Storage::Gpu(Arc::new(e.upload(data)?)),
        };
        Ok(Self::wrap(device, shape.to_vec(), storage))
    }

    /// A 0-dimensional array holding `value`.
    pub fn scalar(device: &Device, value: f32) -> Result<Array> {
        Self::full(device, &[], value)
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

    /// The backing storage.
    pub(crate) fn storage(&self) -> &Storage {
        &self.storage
    }

    /// How many in-place updates the storage has had (PyTorch's `_version`). Views and
    /// clones share the counter; autodiff compares it with the version an op saved, so a
    /// backward pass refuses values changed after the forward pass.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Records an in-place update of the storage. Every `*_` op calls it on what it writes;
    /// code writing into an array's memory by other means must call it too.
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Copies the elements to the host (waits for pending GPU work). On wasm only CPU arrays
    /// read this way; a GPU array says to use [`Array::to_vec_async`].
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        on_backend!(self.device, download(&self.storage, self.numel()))
    }

    /// Copies the elements to the host without blocking the thread (for the browser).
    pub async fn to_vec_async(&self) -> Result<Vec<f32>> {
        match (self.device.engine(), &self.storage) {
            (Some(engine), Storage::Gpu(buf)) => {
                engine.read_async(buf.buffer(), self.numel()).await
            }
            _ => self.to_vec(),
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
}
