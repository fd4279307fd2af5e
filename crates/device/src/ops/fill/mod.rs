//! Arrays made on the device: constants, `arange`, and random fills from the counter-based
//! Philox generator (element `i` depends only on the seed and `i`, on every backend).

mod cpu;
pub(crate) mod gpu;

use crate::array::{checked_numel, Array};
use crate::device::Device;
use crate::error::{Error, Result};

/// The distribution of a random fill.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// uniform on `[low, high)`
    Uniform {
        /// inclusive lower bound
        low: f32,
        /// exclusive upper bound
        high: f32,
    },
    /// normal with the given mean and standard deviation
    Normal {
        /// mean
        mean: f32,
        /// standard deviation
        std: f32,
    },
    /// a dropout mask: `1 / (1 - p)` where the uniform draw is at least `p`, else 0
    /// (all zeros when `p` is 1)
    DropoutMask {
        /// probability of dropping an element
        p: f32,
    },
}

/// The value a kept element of a dropout mask takes: `1 / (1 - p)`, or 0 when `p` is 1.
pub(crate) fn dropout_scale(p: f32) -> f32 {
    if p >= 1.0 {
        0.0
    } else {
        1.0 / (1.0 - p)
    }
}

impl Array {
    /// An array of `value`s.
    pub fn full(device: &Device, shape: &[usize], value: f32) -> Result<Array> {
        let n = checked_numel("full", shape)?;
        Ok(Self::wrap(
            device,
            shape.to_vec(),
            on_backend!(device, arange(n, value, 0.0))?,
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
            on_backend!(device, arange(n, start, step))?,
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
            on_backend!(device, random(n, dist, seed))?,
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
}
