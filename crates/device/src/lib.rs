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

mod array;
pub mod backend;
pub mod conformance;
mod conv;
pub mod cpu;
mod cpu_conv;
mod cpu_gemm;
pub mod cpu_layers;
mod device;
mod dropout;
pub mod error;
pub mod gpu;
mod linear;
mod loss;
mod norm;
pub mod ops;
mod optim;
pub mod philox;
mod pool;
mod resize;
pub mod shape;

pub use array::Array;
pub use backend::Backend;
pub use conv::Conv2dOptions;
pub use device::Device;
pub use error::{Error, Result};
pub use gpu::{AdapterSummary, GpuOptions};
pub use linear::LinearGrads;
pub use loss::{CrossEntropyOptions, Reduction};
pub use norm::{BatchNormGrads, BatchNormStats};
pub use ops::{AdamStep, SgdStep};
pub use pool::Pool2dOptions;

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
