//! DeepDream's defaults on the course's Net (conv1 5x5, ReLU, pool, fc1), trained briefly on
//! Fashion-MNIST on the CPU: the dream keeps the image's range (few pixels driven to black or
//! white) and still changes it visibly.

mod common;

use common::*;
use fovea_device::{Array, Device};
use fovea_models::Model;
use fovea_vis::dream::{self, Dream};

/// The Net after `steps` SGD steps of 64 Fashion-MNIST training images, in eval mode.
fn trained_net(steps: usize) -> Box<dyn Model> {
    let net = seeded(1, || fovea_models::by_name("net", 1, 10).unwrap());
    train_on_fashion(net.as_ref(), steps * 64, 1, 0.01);
    net
}

/// Normalised values as the 0-255 grey levels the picture shows.
fn grey(v: &[f32]) -> Vec<u8> {
    v.iter()
        .map(|p| {
            ((p * fovea_data::FASHION_STD + fovea_data::FASHION_MEAN).clamp(0.0, 1.0) * 255.0)
                .round() as u8
        })
        .collect()
}

/// The normalised range of valid pixels.
fn range() -> (f32, f32) {
    (
        -fovea_data::FASHION_MEAN / fovea_data::FASHION_STD,
        (1.0 - fovea_data::FASHION_MEAN) / fovea_data::FASHION_STD,
    )
}

/// Mean activation of `layer` for one normalised 28x28 image.
fn mean_activation(net: &dyn Model, v: &[f32], layer: &str) -> f32 {
    let x = Array::from_slice(&Device::cpu(), v, &[1, 1, 28, 28]).unwrap();
    let (a, _) = fovea_vis::layers::feature_maps(net, &x, layer).unwrap();
    a.iter().sum::<f32>() / a.len() as f32
}

/// The defaults `fovea visualize deepdream` and the report use on the Net (its max-pool
/// layer, [`Dream::new`]'s steps): on four test images, under 10% of the pixels end black or
/// white that were not, the dream has no more black or white pixels than the image, and it
/// still changes the picture (by 10 grey levels or more on average, unevenly) and raises
/// the layer's mean activation.
#[test]
fn deep_dream_defaults_keep_the_range_and_draw_texture_on_the_net() {
    let net = trained_net(300);
    let dev = Device::cpu();
    let (x, _) = fashion(fovea_data::Split::Test, 4);
    for i in 0..4 {
        let xi = &x[i * 784..(i + 1) * 784];
        let a = Array::from_slice(&dev, xi, &[1, 1, 28, 28]).unwrap();
        let cfg = Dream::new("pool");
        let (img, _) = dream::deep_dream(net.as_ref(), &a, &cfg, range(), &mut |_, _| {}).unwrap();
        let (before, after) = (grey(xi), grey(&img));
        let extreme = |g: &u8| *g == 0 || *g == 255;
        let newly = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| extreme(a) && a != b)
            .count();
        let (was, now) = (
            before.iter().filter(|g| extreme(g)).count(),
            after.iter().filter(|g| extreme(g)).count(),
        );
        let diff: Vec<f32> = before
            .iter()
            .zip(&after)
            .map(|(b, a)| *a as f32 - *b as f32)
            .collect();
        let change = diff.iter().map(|d| d.abs()).sum::<f32>() / 784.0;
        let mean = diff.iter().sum::<f32>() / 784.0;
        let spread = (diff.iter().map(|d| (d - mean).powi(2)).sum::<f32>() / 784.0).sqrt();
        let (act0, act1) = (
            mean_activation(net.as_ref(), xi, "pool"),
            mean_activation(net.as_ref(), &img, "pool"),
        );
        eprintln!(
            "test image {i}: {newly} pixels newly black or white ({was} -> {now} in all), \
             mean change {change:.1} grey levels (spread {spread:.1}), pool mean {act0:.3} -> {act1:.3}"
        );
        assert!(
            (newly as f32) < 0.10 * 784.0,
            "image {i}: DeepDream drove {newly} of 784 pixels to black or white"
        );
        assert!(
            now <= was,
            "image {i}: {was} black or white pixels before the dream, {now} after"
        );
        assert!(
            change >= 10.0 && spread >= 10.0,
            "image {i}: the dream barely changes the picture (mean change {change}, spread {spread})"
        );
        assert!(act1 > act0, "image {i}: pool mean {act0} -> {act1}");
    }
}
