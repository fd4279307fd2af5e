//! Dropout with masks from the counter-based generator: element `i` of the mask depends only
//! on `(seed, i)`, so the GPU and the CPU reference drop the same elements.

use crate::array::Array;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::fill::Distribution;

impl Array {
    /// A dropout mask: `1 / (1 - p)` where kept, 0 where dropped (all 1 for `p = 0`, all 0
    /// for `p = 1`).
    pub fn dropout_mask(device: &Device, shape: &[usize], p: f32, seed: u64) -> Result<Array> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(
                "dropout",
                shape,
                format!("p = {p} must lie in [0, 1]"),
            ));
        }
        Array::random(device, shape, Distribution::DropoutMask { p }, seed)
    }

    /// Training-mode dropout: returns `x * mask` and the mask, which the backward pass
    /// multiplies into the upstream gradient.
    pub fn dropout(&self, p: f32, seed: u64) -> Result<(Array, Array)> {
        let mask = Array::dropout_mask(self.device(), self.shape(), p, seed)?;
        Ok((self.mul(&mask)?, mask))
    }
}
