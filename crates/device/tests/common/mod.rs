//! Shared helpers for the device tests: one GPU device per process, seeded data, comparisons.

#![allow(dead_code)]

use fovea_device::{Array, Device};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The process-wide GPU device. Tests fail (they do not skip) when no adapter opens: CI
/// installs Mesa's lavapipe so the kernels really run.
pub fn gpu() -> Device {
    match Device::gpu() {
        Ok(d) => d,
        Err(e) => panic!("no GPU adapter ({e}); install mesa-vulkan-drivers for lavapipe"),
    }
}

/// A seeded generator, one per test.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Uniform values in [lo, hi).
pub fn data(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Small integers (many ties), for comparisons and arg-reductions.
pub fn ints(rng: &mut StdRng, n: usize, lo: i32, hi: i32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi) as f32).collect()
}

/// A random shape of `rank` axes, each from `sizes`.
pub fn shape(rng: &mut StdRng, rank: usize, sizes: &[usize]) -> Vec<usize> {
    (0..rank)
        .map(|_| sizes[rng.random_range(0..sizes.len())])
        .collect()
}

/// The same host data on the GPU and on the CPU reference.
pub fn pair(values: &[f32], shape: &[usize]) -> (Array, Array) {
    (
        Array::from_slice(&gpu(), values, shape).unwrap(),
        Array::from_slice(&Device::cpu(), values, shape).unwrap(),
    )
}

/// Asserts `|got - want| <= atol + rtol * |want|` everywhere (NaN matches NaN), naming the
/// worst element.
pub fn assert_close(what: &str, got: &Array, want: &Array, rtol: f32, atol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    let (g, w) = (got.to_vec().unwrap(), want.to_vec().unwrap());
    let mut worst = (0usize, 0.0f32);
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        if a.is_nan() && b.is_nan() || a == b {
            continue;
        }
        let excess = (a - b).abs() - (atol + rtol * b.abs());
        if excess.is_nan() || excess > worst.1 {
            worst = (
                i,
                if excess.is_nan() {
                    f32::INFINITY
                } else {
                    excess
                },
            );
        }
    }
    assert!(
        worst.1 <= 0.0,
        "{what}: element {} is {} on the GPU but {} on the reference (shape {:?}, rtol {rtol}, atol {atol})",
        worst.0,
        g[worst.0],
        w[worst.0],
        got.shape()
    );
}
