//! CPU reference of the fills: `arange` and the Philox random fills.

use super::{dropout_scale, Distribution};
use crate::cpu::{store, Cpu};
use crate::error::Result;
use crate::philox;
use crate::storage::Storage;

impl Cpu {
    pub(crate) fn arange(&self, len: usize, start: f32, step: f32) -> Result<Storage> {
        Ok(store((0..len).map(|i| start + i as f32 * step).collect()))
    }

    pub(crate) fn random(&self, len: usize, dist: Distribution, seed: u64) -> Result<Storage> {
        let mut out = Vec::with_capacity(len + 3);
        for b in 0..len.div_ceil(4) {
            let w = philox::block(seed, b as u32);
            match dist {
                Distribution::Uniform { low, high } => {
                    out.extend(w.iter().map(|&x| low + (high - low) * philox::unit(x)))
                }
                Distribution::Normal { mean, std } => {
                    let (z0, z1) = philox::box_muller(w[0], w[1]);
                    let (z2, z3) = philox::box_muller(w[2], w[3]);
                    out.extend([z0, z1, z2, z3].iter().map(|z| mean + std * z))
                }
                Distribution::DropoutMask { p } => {
                    let keep = dropout_scale(p);
                    out.extend(
                        w.iter()
                            .map(|&x| if philox::unit(x) >= p { keep } else { 0.0 }),
                    )
                }
            }
        }
        out.truncate(len);
        Ok(store(out))
    }
}
