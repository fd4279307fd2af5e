//! # fovea-device
//!
//! The bottom layer of Fovea: a [`Device`] that is either the wgpu backend (WGSL compute
//! kernels on Vulkan, Metal, DX12, GL or the browser's WebGPU) or the CPU reference backend
//! (plain loops), and [`Array`], a contiguous f32 array whose ops run on its device.
//!
//! ```no_run
//! use fovea_device::{Array, Device};
//! # fn main() -> fovea_device::Result<()> {
//! let dev = Device::best();
//! let a = Array::randn(&dev, &[64, 32], 7)?;
//! let b = Array::randn(&dev, &[32, 16], 8)?;
//! let c = a.matmul(&b)?.relu()?.sum(&[1], false)?;
//! println!("{:?}", c.to_vec()?);
//! # Ok(()) }
//! ```
//!
//! Every GPU op has a CPU twin and a test that compares the two on random shapes.

/// Calls `$method` on the backend of `$device` (a [`Device`]): the method of that name that
/// the op's `cpu.rs` adds to the CPU reference, or the one its `gpu.rs` adds to [`Engine`].
macro_rules! on_backend {
    ($device:expr, $method:ident($($arg:expr),* $(,)?)) => {
        match $device.backend() {
            $crate::device::Backend::Cpu(b) => b.$method($($arg),*),
            $crate::device::Backend::Gpu(b) => b.$method($($arg),*),
        }
    };
}

mod array;
mod cpu;
mod device;
pub mod error;
#[macro_use]
mod gpu;
mod ops;
mod philox;
mod shape;
mod storage;

pub use array::Array;
pub use device::Device;
pub use error::{Error, Result};
pub use gpu::buffer_pool::PoolStats;
pub use gpu::{AdapterSummary, Engine, GpuOptions, KernelTime, MatmulKernel};
pub use ops::batch_norm::{BatchNormGrads, BatchNormStats, ChannelDims};
pub use ops::conv2d::{Conv2dGeom, Conv2dOptions, ConvAlgo};
pub use ops::cross_entropy::{CrossEntropyOptions, Reduction};
pub use ops::fill::Distribution;
pub use ops::linear::LinearGrads;
pub use ops::matmul::{MatmulTile, MATMUL_TILE};
pub use ops::optim::{AdamStep, SgdStep};
pub use ops::pool2d::{Pool2dGeom, Pool2dOptions, PoolKind};

/// Runs a future to completion on this thread: the native edge where Fovea's async host reads
/// (`*_async`) become the plain synchronous API. Not on wasm, where nothing may block.
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

/// Runs a few ops on `device` and on the CPU reference and compares them; returns a one-line
/// summary, or an error naming the op that disagreed.
pub fn self_check(device: &Device) -> Result<String> {
    let cpu = Device::cpu();
    let run = |d: &Device| -> Result<Vec<Vec<f32>>> {
        let a = Array::randn(d, &[33, 17], 1)?;
        let b = Array::randn(d, &[17, 9], 2)?;
        let c = a.matmul(&b)?;
        Ok(vec![
            c.to_vec()?,
            c.relu()?.sum(&[1], false)?.to_vec()?,
            c.softmax(-1)?.to_vec()?,
            a.transpose(0, 1)?.pad(&[(1, 1), (0, 2)], 0.5)?.to_vec()?,
        ])
    };
    let (got, want) = (run(device)?, run(&cpu)?);
    let names = ["matmul", "relu+sum", "softmax", "transpose+pad"];
    for ((g, w), name) in got.iter().zip(&want).zip(names) {
        let err = g
            .iter()
            .zip(w)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        if err > 1e-3 {
            return Err(Error::Gpu(format!(
                "self-check: {name} differs from the CPU reference by {err}"
            )));
        }
    }
    Ok(format!("{} ops agree ({})", names.len(), names.join(", ")))
}
