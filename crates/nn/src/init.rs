//! Parameter initialisation as PyTorch does it by default, from a seedable generator
//! (`torch.manual_seed`).

use fovea_device::{Array, Device, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;

static GENERATOR: Mutex<Option<StdRng>> = Mutex::new(None);

/// The seed layers draw from until [`manual_seed`] is called.
pub const DEFAULT_SEED: u64 = 0x5eed_f0ea;

/// Reseeds the generator every layer constructor draws its initial weights from, so the same
/// seed builds the same net.
pub fn manual_seed(seed: u64) {
    *GENERATOR.lock().expect("generator lock poisoned") = Some(StdRng::seed_from_u64(seed));
}

/// Draws from the shared generator.
pub fn with_rng<T>(f: impl FnOnce(&mut StdRng) -> T) -> T {
    let mut g = GENERATOR.lock().expect("generator lock poisoned");
    f(g.get_or_insert_with(|| StdRng::seed_from_u64(DEFAULT_SEED)))
}

/// A fresh 64-bit seed from the shared generator (dropout masks).
pub fn next_seed() -> u64 {
    with_rng(|r| r.random())
}

/// Uniform values in `[-bound, bound)` of `shape` on the CPU.
pub fn uniform(shape: &[usize], bound: f32) -> Result<Array> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = with_rng(|r| (0..n).map(|_| r.random_range(-bound..bound)).collect());
    Array::from_slice(&Device::cpu(), &v, shape)
}

/// `kaiming_uniform_(w, a=sqrt(5))`, PyTorch's default for Conv2d and Linear weights: the
/// bound is `gain * sqrt(3 / fan_in)` with `gain = sqrt(2 / (1 + a^2))`, i.e.
/// `1 / sqrt(fan_in)`. `fan_in` is the product of every axis but the first.
pub fn kaiming_uniform(shape: &[usize]) -> Result<Array> {
    let fan_in: usize = shape[1..].iter().product();
    let a2 = 5.0f32;
    let gain = (2.0 / (1.0 + a2)).sqrt();
    uniform(shape, gain * (3.0 / fan_in.max(1) as f32).sqrt())
}

/// PyTorch's default bias: uniform in `+-1 / sqrt(fan_in)`.
pub fn bias_uniform(len: usize, fan_in: usize) -> Result<Array> {
    uniform(&[len], 1.0 / (fan_in.max(1) as f32).sqrt())
}
