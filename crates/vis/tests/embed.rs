//! Embeddings, layer pictures, patches, DeepDream and style transfer, each checked by a
//! property: PCA's ratios equal a full eigendecomposition's, t-SNE of trained features keeps
//! classes apart better than t-SNE of pixels, the top patches are the true maxima, dreaming
//! raises its objective, an image's Gram loss against itself is 0 and style loss falls.

mod common;

use common::*;
use fovea_device::{Array, Device};
use fovea_models::{by_name, Model};
use fovea_nn::ModuleExt;
use fovea_vis::embed::{self, knn_accuracy, nearest, pca, symmetric_eigen, Metric, Rows, Tsne};
use fovea_vis::{dream, layers, patches, style};
use std::collections::HashMap;

/// `n` rows of `d` columns with a decaying spectrum along random directions.
fn spectrum_data(n: usize, d: usize) -> Rows {
    let mut s = 12345u64;
    let mut rnd = move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let dirs: Vec<Vec<f32>> = (0..d).map(|_| (0..d).map(|_| rnd()).collect()).collect();
    let mut v = vec![0.0f32; n * d];
    for i in 0..n {
        for (k, dir) in dirs.iter().enumerate().take(8) {
            let a = rnd() * 4.0 / (k as f32 + 1.0);
            for j in 0..d {
                v[i * d + j] += a * dir[j];
            }
        }
        for j in 0..d {
            v[i * d + j] += 0.01 * rnd() + 3.0;
        }
    }
    Rows::new(v, n, d).unwrap()
}

/// The sample covariance's eigenvalues by plain loops and Jacobi, as ratios of the trace.
fn full_ratios(r: &Rows) -> Vec<f64> {
    let (n, d) = (r.n, r.d);
    let mean: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| r.values[i * d + j] as f64).sum::<f64>() / n as f64)
        .collect();
    let mut cov = vec![0.0f64; d * d];
    for i in 0..n {
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] +=
                    (r.values[i * d + a] as f64 - mean[a]) * (r.values[i * d + b] as f64 - mean[b]);
            }
        }
    }
    cov.iter_mut().for_each(|c| *c /= (n - 1) as f64);
    let trace: f64 = (0..d).map(|i| cov[i * d + i]).sum();
    symmetric_eigen(&cov, d)
        .0
        .iter()
        .map(|v| v / trace)
        .collect()
}

#[test]
fn pca_ratios_match_a_full_eigendecomposition() {
    let dev = Device::cpu();
    for d in [20, 160] {
        let data = spectrum_data(400, d);
        let fit = pca(&dev, &data, 3).unwrap();
        let want = full_ratios(&data);
        for (k, (&g, &w)) in fit.explained_variance_ratio.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() < 1e-3 * w.max(1e-3) + 1e-5,
                "d={d} component {k}: {g} vs {w}"
            );
        }
        assert_eq!(fit.projected.len(), 400 * 3);
    }
    // the eigen routine itself: A v = lambda v
    let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 1.0];
    let (vals, vecs) = symmetric_eigen(&a, 3);
    for (l, v) in vals.iter().zip(&vecs) {
        for r in 0..3 {
            let av: f64 = (0..3).map(|c| a[r * 3 + c] * v[c]).sum();
            assert!((av - l * v[r]).abs() < 1e-9);
        }
    }
}

#[test]
fn nearest_neighbours_match_brute_force_in_every_metric() {
    let dev = Device::cpu();
    let data = spectrum_data(50, 6);
    let q = Rows::new(data.row(7).to_vec(), 1, 6).unwrap();
    for metric in [Metric::L2, Metric::L1, Metric::Cosine] {
        let nb = nearest(&dev, &data, &q, 5, metric, &[None]).unwrap();
        assert_eq!(
            nb[0][0].0, 7,
            "{metric:?}: a row is its own nearest neighbour"
        );
        assert!(nb[0][0].1.abs() < 1e-3, "{metric:?}");
        let dist = |j: usize| -> f32 {
            let (a, b) = (data.row(7), data.row(j));
            match metric {
                Metric::L2 => a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).powi(2))
                    .sum::<f32>()
                    .sqrt(),
                Metric::L1 => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
                Metric::Cosine => {
                    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
                    1.0 - dot / (n(a) * n(b))
                }
            }
        };
        let mut want: Vec<usize> = (0..50).collect();
        want.sort_by(|&a, &b| dist(a).total_cmp(&dist(b)));
        let got: Vec<usize> = nb[0].iter().map(|(j, _)| *j).collect();
        assert_eq!(got, want[..5], "{metric:?}");
    }
}

#[test]
fn tsne_of_trained_features_separates_classes_better_than_of_pixels() {
    let net = trained_small(8000, 2, 4);
    let dev = Device::cpu();
    let n = 1000;
    let (x, y) = fashion(fovea_data::Split::Test, n);
    let feats = embed::features(
        &net,
        &dev,
        &x,
        (1, 28, 28),
        &net.feature_layer(),
        250,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((feats.n, feats.d), (n, 64));
    let pixels = Rows::new(x, n, 784).unwrap();
    let cfg = Tsne {
        iterations: 500,
        ..Tsne::default()
    };
    let started = std::time::Instant::now();
    let yf = Rows::new(
        embed::tsne(&dev, &feats, &cfg, &mut |_, _| {}).unwrap(),
        n,
        2,
    )
    .unwrap();
    let yp = Rows::new(
        embed::tsne(&dev, &pixels, &cfg, &mut |_, _| {}).unwrap(),
        n,
        2,
    )
    .unwrap();
    let (af, ap) = (
        knn_accuracy(&dev, &yf, &y, 10).unwrap(),
        knn_accuracy(&dev, &yp, &y, 10).unwrap(),
    );
    eprintln!(
        "10-NN accuracy in 2-D: trained features {af:.3}, pixels {ap:.3} ({:.1} s for both maps)",
        started.elapsed().as_secs_f64()
    );
    assert!(af > ap, "features {af} vs pixels {ap}");
    assert!(ap > 0.5, "t-SNE of pixels still groups Fashion-MNIST: {ap}");
    // reproducible
    let again = embed::tsne(&dev, &feats, &cfg, &mut |_, _| {}).unwrap();
    assert_eq!(again, yf.values);
}

#[test]
fn top_patches_are_the_true_maxima_with_their_receptive_fields() {
    let net = spec_net(
        "conv 4 k3 p1, relu, pool 2, conv 5 k3 p1, relu, linear",
        (1, 12, 12),
        3,
        1,
    );
    net.eval();
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    let images: Vec<f32> = (0..20 * 144)
        .map(|i| ((i * 7919) % 97) as f32 / 48.0 - 1.0)
        .collect();
    let got = patches::top_patches(
        &net,
        &dev,
        &images,
        (1, 12, 12),
        "relu2_1",
        &[0, 3],
        4,
        6,
        &mut |_| {},
    )
    .unwrap();
    for (slot, ch) in [0usize, 3].iter().enumerate() {
        let mut want: Vec<(f32, usize)> = (0..20)
            .map(|i| {
                let x = Array::from_slice(&dev, &images[i * 144..(i + 1) * 144], &[1, 1, 12, 12])
                    .unwrap();
                let (v, _) = layers::feature_maps(&net, &x, "relu2_1").unwrap();
                (
                    v[ch * 36..(ch + 1) * 36]
                        .iter()
                        .copied()
                        .fold(f32::MIN, f32::max),
                    i,
                )
            })
            .collect();
        want.sort_by(|a, b| b.0.total_cmp(&a.0));
        let ids: Vec<usize> = got[slot].iter().map(|p| p.image).collect();
        assert_eq!(ids, want[..4].iter().map(|w| w.1).collect::<Vec<_>>());
        for p in &got[slot] {
            // conv3 p1, pool2, conv3 p1: a 8x8 field, clipped at the borders
            assert!(
                p.rows.1 - p.rows.0 <= 8 && p.rows.1 - p.rows.0 >= 5,
                "{p:?}"
            );
        }
    }
    let pic = patches::patch_grid(&images, (1, 12, 12), &[0.0], &[1.0], &got, 3);
    assert!(pic.width() > 4 * 15 && pic.height() > 2 * 15);
}

#[test]
fn filter_and_feature_map_grids_normalise_each_tile() {
    let net = spec_net(
        "conv 6 k5, relu, pool 2, conv 4 k3, relu, linear",
        (3, 16, 16),
        2,
        8,
    );
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    let first = layers::conv_weight(&net, None).unwrap();
    assert_eq!(first.shape, [6, 3, 5, 5]);
    let pic = layers::filter_grid(&first, 4, 3);
    // 5x5 filters are drawn at least 48 px a side: enlarged 10 times, not 4, 2 px apart
    assert_eq!((pic.width(), pic.height()), (3 * 52 + 2, 2 * 52 + 2));
    // each tile spans the full range: some channel hits 0 and some hits 255
    let tile = image::imageops::crop_imm(&pic, 2, 2, 50, 50).to_image();
    assert!(tile.pixels().any(|p| p.0.contains(&0)) && tile.pixels().any(|p| p.0.contains(&255)));
    let second = layers::conv_weight(&net, Some("features.3")).unwrap();
    assert_eq!(second.shape, [4, 6, 3, 3]);
    let err = layers::conv_weight(&net, Some("features.9"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("features.0.weight, features.3.weight"),
        "{err}"
    );

    let x = Array::from_slice(
        &dev,
        &(0..768).map(|i| (i % 17) as f32 / 8.0).collect::<Vec<_>>(),
        &[1, 3, 16, 16],
    )
    .unwrap();
    let (maps, shape) = layers::feature_maps(&net, &x, "relu1_1").unwrap();
    assert_eq!(shape, [6, 12, 12]);
    let shared = layers::feature_grid(&maps, shape, true, 2, 3);
    let own = layers::feature_grid(&maps, shape, false, 2, 3);
    assert_eq!(shared.dimensions(), own.dimensions());
    assert_ne!(shared, own, "a shared scale differs from per-map scales");
}

/// DeepDream raises the channel's mean activation on every seed, and on average to at least
/// 1.5 times its start. (Steps shrink near black and white, so a channel that could only
/// gain by saturating pixels, as seed 6's does, rises less than the others.)
#[test]
fn deep_dream_raises_its_objective() {
    let mut ratios = Vec::new();
    for seed in [3, 4, 5, 6] {
        let net = spec_net(SMALL, (1, 28, 28), 10, seed);
        net.eval();
        let dev = Device::cpu();
        net.to_device(&dev).unwrap();
        let (x, _) = fashion(fovea_data::Split::Test, 1);
        let x = Array::from_slice(&dev, &x, &[1, 1, 28, 28]).unwrap();
        let mut cfg = dream::Dream::new("relu2_1");
        let (start, [c, h, w]) = layers::feature_maps(&net, &x, "relu2_1").unwrap();
        let plane = h * w;
        let mean = |v: &[f32], ch: usize| {
            v[ch * plane..(ch + 1) * plane].iter().sum::<f32>() / plane as f32
        };
        // dream on the channel that responds most
        let ch = (0..c)
            .max_by(|&a, &b| mean(&start, a).total_cmp(&mean(&start, b)))
            .unwrap();
        cfg.channel = Some(ch);
        let (img, values) =
            dream::deep_dream(&net, &x, &cfg, (-0.81, 2.03), &mut |_, _| {}).unwrap();
        let after_x = Array::from_slice(&dev, &img, &[1, 1, 28, 28]).unwrap();
        let end = layers::feature_maps(&net, &after_x, "relu2_1").unwrap().0;
        let (before, after) = (mean(&start, ch), mean(&end, ch));
        eprintln!(
            "DeepDream, seed {seed}, channel {ch} of relu2_1: mean {before:.3} -> {after:.3}"
        );
        assert_eq!(values.len(), 3);
        assert!(
            after > before,
            "seed {seed}: channel {ch} mean {before} -> {after}"
        );
        ratios.push(after / before);
        assert!(img.iter().all(|v| (-0.81..=2.03).contains(v)));
        assert!(
            net.parameters().iter().all(|p| p.requires_grad()),
            "weights unfrozen afterwards"
        );
    }
    let mean = ratios.iter().sum::<f32>() / ratios.len() as f32;
    assert!(
        mean >= 1.5,
        "channel means rose {ratios:?} times, {mean} on average"
    );
}

#[test]
fn gram_loss_of_an_image_against_itself_is_zero_and_style_loss_falls() {
    let vgg = seeded(5, || by_name("vgg11", 3, 10).unwrap());
    vgg.eval();
    let dev = Device::cpu();
    vgg.to_device(&dev).unwrap();
    // content: a smooth ramp; style: high-contrast stripes
    let content: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| ((i % 1024) as f32 / 1024.0) - 0.5)
        .collect();
    let stripes: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| if (i % 32) / 2 % 2 == 0 { 1.5 } else { -1.5 })
        .collect();
    let content = Array::from_slice(&dev, &content, &[1, 3, 32, 32]).unwrap();
    let style_img = Array::from_slice(&dev, &stripes, &[1, 3, 32, 32]).unwrap();
    let cfg = style::Style {
        style_layers: vec!["relu1_1".into(), "relu2_1".into(), "relu3_1".into()],
        content_layer: "relu4_2".into(),
        steps: 10,
        lr: 0.1,
        style_weight: 1e6,
        tv_weight: 0.0,
        ..Default::default()
    };
    let mut targets = HashMap::new();
    for n in &cfg.style_layers {
        let a = fovea_vis::activation(
            vgg.as_ref(),
            &fovea_graph::Tensor::new(style_img.clone()),
            n,
        )
        .unwrap();
        targets.insert(n.clone(), style::gram(&a).unwrap());
    }
    let own = style::style_loss(
        vgg.as_ref(),
        &fovea_graph::Tensor::new(style_img.clone()),
        &targets,
    )
    .unwrap();
    assert_eq!(own.item().unwrap(), 0.0);
    let (out, history) = style::style_transfer(
        vgg.as_ref(),
        &content,
        &style_img,
        &cfg,
        (-3.0, 3.0),
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(out.len(), 3 * 32 * 32);
    let (first, last) = (history[0].style, history.last().unwrap().style);
    assert!(last < 0.8 * first, "style loss {first} -> {last}");
}
