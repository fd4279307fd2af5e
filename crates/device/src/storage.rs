//! Where an array's elements live: host memory (the CPU reference) or a pooled GPU buffer.

use crate::error::{Error, Result};
use crate::gpu::buffer_pool::PooledBuffer;
use std::sync::{Arc, RwLock};

/// Host memory of the CPU reference backend.
pub(crate) type CpuBuf = Arc<RwLock<Vec<f32>>>;

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
