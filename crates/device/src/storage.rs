//! Where an array's elements live: host memory (the CPU reference) or a pooled GPU buffer.

use crate::error::{Error, Result};
use crate::gpu::buffer_pool::PooledBuffer;
use std::sync::{Arc, RwLock};

/// Host memory of the CPU backend.
pub(crate) type CpuBuf = Arc<RwLock<HostVec>>;

/// The values of a CPU array. When the last array using them is dropped, the vector goes
/// back to the CPU backend's spare vectors ([`crate::cpu::recycle`]) for the next op of its
/// length, so a training step's steady state does not allocate.
#[derive(Debug, Default)]
pub(crate) struct HostVec(pub(crate) Vec<f32>);

impl std::ops::Deref for HostVec {
    type Target = Vec<f32>;
    fn deref(&self) -> &Vec<f32> {
        &self.0
    }
}

impl std::ops::DerefMut for HostVec {
    fn deref_mut(&mut self) -> &mut Vec<f32> {
        &mut self.0
    }
}

impl Drop for HostVec {
    fn drop(&mut self) {
        crate::cpu::recycle(std::mem::take(&mut self.0));
    }
}

/// Where an array's elements live. Cloning shares the memory.
#[derive(Clone, Debug)]
pub(crate) enum Storage {
    /// host memory (CPU reference backend)
    Cpu(CpuBuf),
    /// a pooled GPU buffer (wgpu backend)
    Gpu(Arc<PooledBuffer>),
}

impl Storage {
    /// The host memory, or an error if this storage lives elsewhere.
    pub(crate) fn cpu(&self) -> Result<&CpuBuf> {
        match self {
            Storage::Cpu(b) => Ok(b),
            Storage::Gpu(_) => Err(Error::Gpu(
                "expected host storage, found a GPU buffer".into(),
            )),
        }
    }

    /// The GPU buffer, or an error if this storage lives elsewhere.
    pub(crate) fn gpu(&self) -> Result<&PooledBuffer> {
        self.gpu_shared().map(|b| &**b)
    }

    /// The shared handle of the GPU buffer, or an error if this storage lives elsewhere.
    pub(crate) fn gpu_shared(&self) -> Result<&Arc<PooledBuffer>> {
        match self {
            Storage::Gpu(b) => Ok(b),
            Storage::Cpu(_) => Err(Error::Gpu(
                "expected a GPU buffer, found host storage".into(),
            )),
        }
    }
}
