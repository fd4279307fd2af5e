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

/// A GPU device of its own with these options on top of the environment's adapter choice
/// (a convolution algorithm, a GEMM core, a binding cap). Fails like [`gpu`].
pub fn gpu_with(options: fovea_device::GpuOptions) -> Device {
    let base = fovea_device::GpuOptions::from_env().unwrap();
    let opts = fovea_device::GpuOptions {
        backends: base.backends,
        adapter: base.adapter,
        ..options
    };
    match Device::gpu_with(&opts) {
        Ok(d) => d,
        Err(e) => {
            panic!("no GPU adapter with {opts:?} ({e}); install mesa-vulkan-drivers for lavapipe")
        }
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
    pair_on(&gpu(), values, shape)
}

/// The same host data on device `dev` and on the CPU reference.
pub fn pair_on(dev: &Device, values: &[f32], shape: &[usize]) -> (Array, Array) {
    (
        Array::from_slice(dev, values, shape).unwrap(),
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

/// Checks `analytic` against central finite differences of `sum(f(x) * grad_y)` on the CPU
/// reference, at every element of `x` (keep shapes small). `eps` must stay below the gaps
/// between values where `f` has kinks (max pooling).
pub fn fd_check(
    what: &str,
    x: &[f32],
    shape: &[usize],
    grad_y: &[f32],
    analytic: &[f32],
    eps: f32,
    f: impl Fn(&Array) -> Array,
) {
    let cpu = Device::cpu();
    let objective = |v: &[f32]| -> f64 {
        let y = f(&Array::from_slice(&cpu, v, shape).unwrap())
            .to_vec()
            .unwrap();
        assert_eq!(y.len(), grad_y.len(), "{what}: grad_y length");
        y.iter()
            .zip(grad_y)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum()
    };
    let scale = analytic.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let mut v = x.to_vec();
    for i in 0..x.len() {
        v[i] = x[i] + eps;
        let up = objective(&v);
        v[i] = x[i] - eps;
        let down = objective(&v);
        v[i] = x[i];
        let numeric = ((up - down) / (2.0 * eps as f64)) as f32;
        assert!(
            (numeric - analytic[i]).abs() <= 2e-3 * scale,
            "{what}: element {i} has gradient {} but finite differences give {numeric}",
            analytic[i]
        );
    }
}

/// `n` distinct values spaced `gap` apart in random order (no ties for max pooling).
pub fn distinct(rng: &mut StdRng, n: usize, gap: f32) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * gap).collect();
    for i in (1..n).rev() {
        v.swap(i, rng.random_range(0..=i));
    }
    v
}

/// A GPU device per convolution algorithm (im2col, im2col with a small binding cap so the
/// batch is chunked, implicit GEMM), each named.
pub fn conv_variants() -> Vec<(String, Device)> {
    [
        (fovea_device::ConvAlgo::Im2col, None),
        (fovea_device::ConvAlgo::Im2col, Some(2048)),
        (fovea_device::ConvAlgo::ImplicitGemm, None),
    ]
    .into_iter()
    .map(|(algo, cap)| {
        let dev = gpu_with(fovea_device::GpuOptions {
            conv: Some(algo),
            binding_cap: cap,
            ..fovea_device::GpuOptions::default()
        });
        (format!("{algo:?} cap {cap:?}"), dev)
    })
    .collect()
}
