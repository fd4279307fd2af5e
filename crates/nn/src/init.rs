//! Parameter initialisation as PyTorch does it by default, from a seedable generator
//! (`torch.Generator` and `torch.manual_seed`).
//!
//! Layer constructors draw from the calling thread's default generator. PyTorch's default is
//! process-wide; Fovea's is per thread, so threads (and tests running in parallel) that seed
//! and build never interleave their draws. [`with_generator`] makes a generator of your own
//! the default for the layers a closure builds.

use fovea_device::{Array, Device, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;

/// The seed a thread's default generator starts from until [`manual_seed`] is called.
pub const DEFAULT_SEED: u64 = 0x5eed_f0ea;

/// A random generator layers draw their initial weights and dropout seeds from
/// (`torch.Generator`).
#[derive(Clone, Debug)]
pub struct Generator {
    rng: StdRng,
}

impl Generator {
    /// A generator seeded with `seed` (`torch.Generator().manual_seed(seed)`).
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Reseeds this generator.
    pub fn manual_seed(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    /// A fresh 64-bit seed (dropout masks).
    pub fn next_seed(&mut self) -> u64 {
        self.rng.random()
    }
}

impl Default for Generator {
    fn default() -> Self {
        Self::new(DEFAULT_SEED)
    }
}

thread_local! {
    static DEFAULT: RefCell<Generator> = RefCell::new(Generator::default());
}

/// Reseeds the calling thread's default generator, which every layer constructor draws its
/// initial weights from, so the same seed builds the same net (`torch.manual_seed`).
pub fn manual_seed(seed: u64) {
    DEFAULT.with(|g| g.borrow_mut().manual_seed(seed));
}

/// Runs `build` with `generator` as the calling thread's default generator, then puts the
/// previous default back (also when `build` panics): the layers `build` makes draw from
/// `generator`, which keeps its state for the next call.
pub fn with_generator<T>(generator: &mut Generator, build: impl FnOnce() -> T) -> T {
    /// Swaps the generator back in when dropped.
    struct Restore<'a>(&'a mut Generator);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            DEFAULT.with(|g| std::mem::swap(&mut *g.borrow_mut(), self.0));
        }
    }
    DEFAULT.with(|g| std::mem::swap(&mut *g.borrow_mut(), generator));
    let _restore = Restore(generator);
    build()
}

/// Draws from the calling thread's default generator.
pub fn with_rng<T>(f: impl FnOnce(&mut StdRng) -> T) -> T {
    DEFAULT.with(|g| f(&mut g.borrow_mut().rng))
}

/// A fresh 64-bit seed from the calling thread's default generator (dropout masks).
pub fn next_seed() -> u64 {
    DEFAULT.with(|g| g.borrow_mut().next_seed())
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
