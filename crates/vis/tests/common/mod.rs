//! Shared test helpers: small nets and a quick CPU training run on real Fashion-MNIST.

#![allow(dead_code)]

use fovea_device::{Array, CrossEntropyOptions, Device};
use fovea_graph::{cross_entropy, Tensor};
use fovea_models::{ArchSpec, Model, SpecNet};
use fovea_nn::{with_generator, Generator, ModuleExt, Optimizer, Sgd};

/// Runs `build` with a generator seeded with `seed` (the layers it makes draw from it).
pub fn seeded<T>(seed: u64, build: impl FnOnce() -> T) -> T {
    with_generator(&mut Generator::new(seed), build)
}

/// A small conv net written as a spec, seeded.
pub fn spec_net(spec: &str, input: (usize, usize, usize), classes: usize, seed: u64) -> SpecNet {
    seeded(seed, || {
        ArchSpec::parse(spec)
            .unwrap()
            .build(input, classes)
            .unwrap()
    })
}

/// The net the attribution and embedding tests train: two conv blocks and a 64-wide
/// feature layer.
pub const SMALL: &str =
    "conv 16 k3 p1, relu, pool 2, conv 32 k3 p1, relu, pool 2, linear 64, relu, linear";

/// Normalised Fashion-MNIST images `[N, 1, 28, 28]` and labels.
pub fn fashion(split: fovea_data::Split, n: usize) -> (Vec<f32>, Vec<u8>) {
    let d = fovea_data::MnistKind::Fashion
        .load(split, None)
        .unwrap()
        .take(n);
    let norm =
        fovea_data::Normalize::new(fovea_data::FASHION_MEAN, fovea_data::FASHION_STD).unwrap();
    let mut x = vec![0.0; d.len() * 784];
    for i in 0..d.len() {
        norm.apply(d.image(i), 1, &mut x[i * 784..(i + 1) * 784]);
    }
    (x, d.labels)
}

/// [`SMALL`] trained for `epochs` passes over `n` training images on the CPU backend.
pub fn trained_small(n: usize, epochs: usize, seed: u64) -> SpecNet {
    let net = spec_net(SMALL, (1, 28, 28), 10, seed);
    train_on_fashion(&net, n, epochs, 0.05);
    net
}

/// Moves `net` to the CPU backend and trains it for `epochs` passes of SGD (momentum 0.9,
/// batches of 64) over the first `n` Fashion-MNIST training images; leaves it in eval mode.
pub fn train_on_fashion(net: &dyn Model, n: usize, epochs: usize, lr: f32) {
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    net.train();
    let (x, y) = fashion(fovea_data::Split::Train, n);
    let mut opt = Sgd::new(net.parameters(), lr).momentum(0.9);
    for _ in 0..epochs {
        for start in (0..n).step_by(64) {
            let m = 64.min(n - start);
            let xb = Tensor::new(
                Array::from_slice(&dev, &x[start * 784..(start + m) * 784], &[m, 1, 28, 28])
                    .unwrap(),
            );
            let labels: Vec<f32> = y[start..start + m].iter().map(|&l| l as f32).collect();
            let yb = Array::from_slice(&dev, &labels, &[m]).unwrap();
            let loss = cross_entropy(
                &net.forward(&xb).unwrap(),
                &yb,
                CrossEntropyOptions::default(),
            )
            .unwrap();
            opt.zero_grad();
            loss.backward().unwrap();
            opt.step().unwrap();
        }
    }
    net.eval();
}

/// Spearman rank correlation.
pub fn spearman(a: &[f32], b: &[f32]) -> f64 {
    let rank = |v: &[f32]| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        let mut r = vec![0.0f64; v.len()];
        for (k, &i) in idx.iter().enumerate() {
            r[i] = k as f64;
        }
        r
    };
    let (ra, rb) = (rank(a), rank(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt().max(1e-300)
}

/// The model's logits for `x` on the host.
pub fn logits(model: &dyn Model, x: &Array) -> Vec<f32> {
    fovea_vis::attribution::scores(model, x).unwrap()
}
