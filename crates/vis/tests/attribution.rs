//! Attributions checked by their defining properties: saliency is the input gradient
//! (finite differences), occlusion of everything is `f(x) - f(baseline)`, maps follow the
//! object when it moves, integrated gradients are complete, guided backprop and Grad-CAM
//! equal their rules written out by hand on tiny nets, and Adebayo et al.'s sanity check
//! holds (saliency changes when the weights are randomised; guided backprop much less).

mod common;

use common::*;
use fovea_device::{Array, Device};
use fovea_models::Model;
use fovea_nn::ModuleExt;
use fovea_vis::attribution::{self, Explain, SmoothGrad};
use fovea_vis::occlusion::{occlusion, Occlusion};

const TINY: &str = "conv 3 k3, relu, pool 2, conv 4 k3 p1, relu, linear 6, relu, linear";

fn image(dev: &Device, c: usize, h: usize, w: usize, seed: u32) -> Array {
    let v: Vec<f32> = (0..c * h * w)
        .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    Array::from_slice(dev, &v, &[1, c, h, w]).unwrap()
}

#[test]
fn saliency_is_the_finite_difference_gradient_on_both_devices() {
    let net = spec_net(TINY, (2, 8, 8), 5, 11);
    net.eval();
    let cpu = Device::cpu();
    net.to_device(&cpu).unwrap();
    let x = image(&cpu, 2, 8, 8, 7);
    let g = attribution::input_gradients(&net, &x, &[3])
        .unwrap()
        .to_vec()
        .unwrap();
    let v = x.to_vec().unwrap();
    let eps = 1e-2;
    for i in 0..v.len() {
        let mut p = v.clone();
        p[i] += eps;
        let mut m = v.clone();
        m[i] -= eps;
        let f =
            |vals: &[f32]| logits(&net, &Array::from_slice(&cpu, vals, &[1, 2, 8, 8]).unwrap())[3];
        let fd = (f(&p) - f(&m)) / (2.0 * eps);
        assert!(
            (fd - g[i]).abs() < 2e-3 * (1.0 + fd.abs()),
            "pixel {i}: fd {fd} vs grad {}",
            g[i]
        );
    }
    let sal = attribution::saliency(&net, &x, &[3]).unwrap();
    for p in 0..64 {
        assert_eq!(sal[p], g[p].abs().max(g[64 + p].abs()));
    }
    // The GPU computes the same map.
    let gpu = Device::gpu().unwrap();
    net.to_device(&gpu).unwrap();
    let sal_gpu = attribution::saliency(&net, &image(&gpu, 2, 8, 8, 7), &[3]).unwrap();
    for (a, b) in sal.iter().zip(&sal_gpu) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "{a} vs {b}");
    }
}

#[test]
fn occluding_everything_gives_the_score_drop_to_the_baseline() {
    let net = spec_net(TINY, (1, 10, 10), 4, 3);
    net.eval();
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    let x = image(&dev, 1, 10, 10, 5);
    let cfg = Occlusion {
        window: (10, 10),
        stride: (1, 1),
        fill: 0.25,
        batch: 8,
    };
    let map = occlusion(&net, &x, 2, &cfg).unwrap();
    let base = Array::from_slice(&dev, &[0.25; 100], &[1, 1, 10, 10]).unwrap();
    let want = logits(&net, &x)[2] - logits(&net, &base)[2];
    assert!(
        map.iter().all(|v| (v - want).abs() < 1e-5),
        "{want} vs {map:?}"
    );
    let err = occlusion(
        &net,
        &x,
        2,
        &Occlusion {
            window: (11, 3),
            ..cfg
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
}

/// Centre of mass of `|map - background|` on an `n x n` map.
fn centre(map: &[f32], n: usize, background: f32) -> (f32, f32) {
    let (mut sy, mut sx, mut s) = (0.0, 0.0, 0.0);
    for (i, v) in map.iter().enumerate() {
        let m = (v - background).abs();
        sy += m * (i / n) as f32;
        sx += m * (i % n) as f32;
        s += m;
    }
    (sy / s, sx / s)
}

#[test]
fn occlusion_and_saliency_maps_follow_a_shifted_object() {
    let net = spec_net(
        "conv 6 k3 p1, relu, conv 6 k3 p1, relu, adaptiveavgpool 1, linear",
        (1, 20, 20),
        3,
        5,
    );
    net.eval();
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    let object = |y0: usize, x0: usize| {
        let mut v = vec![0.0f32; 400];
        for y in y0..y0 + 5 {
            for x in x0..x0 + 5 {
                v[y * 20 + x] = 1.0 + ((x * 7 + y * 3) % 5) as f32 * 0.3;
            }
        }
        Array::from_slice(&dev, &v, &[1, 1, 20, 20]).unwrap()
    };
    let (a, b) = (object(3, 4), object(10, 12));
    let cfg = Occlusion {
        window: (3, 3),
        stride: (1, 1),
        fill: 0.0,
        batch: 64,
    };
    let class = 1;
    let (oa, ob) = (
        occlusion(&net, &a, class, &cfg).unwrap(),
        occlusion(&net, &b, class, &cfg).unwrap(),
    );
    let (ca, cb) = (centre(&oa, 20, 0.0), centre(&ob, 20, 0.0));
    assert!(
        ((cb.0 - ca.0) - 7.0).abs() < 0.6 && ((cb.1 - ca.1) - 8.0).abs() < 0.6,
        "occlusion {ca:?} -> {cb:?}"
    );
    // Saliency also moves where the image is empty (the padding at the borders changes
    // it), so the object's effect is measured against the map of the empty image.
    let empty =
        attribution::saliency(&net, &object(0, 0).mul_scalar(0.0).unwrap(), &[class]).unwrap();
    let change = |x: &Array| -> Vec<f32> {
        let s = attribution::saliency(&net, x, &[class]).unwrap();
        s.iter().zip(&empty).map(|(v, e)| v - e).collect()
    };
    let (sa, sb) = (change(&a), change(&b));
    let (ca, cb) = (centre(&sa, 20, 0.0), centre(&sb, 20, 0.0));
    assert!(
        ((cb.0 - ca.0) - 7.0).abs() < 1.5 && ((cb.1 - ca.1) - 8.0).abs() < 1.5,
        "saliency {ca:?} -> {cb:?}"
    );
}

#[test]
fn integrated_gradients_add_up_to_the_score_difference() {
    let net = spec_net(TINY, (1, 8, 8), 3, 9);
    net.eval();
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    let x = image(&dev, 1, 8, 8, 1);
    let baseline = vec![-0.5f32; 64];
    let ig = attribution::integrated_gradients(&net, &x, &baseline, 0, 200).unwrap();
    let b = Array::from_slice(&dev, &baseline, &[1, 1, 8, 8]).unwrap();
    let want = logits(&net, &x)[0] - logits(&net, &b)[0];
    let got: f32 = ig.iter().sum();
    assert!(
        (got - want).abs() < 0.02 * (1.0 + want.abs()),
        "sum {got} vs {want}"
    );
}

#[test]
fn smoothgrad_is_a_non_negative_map_and_unknown_layers_are_named() {
    let net = spec_net(TINY, (1, 8, 8), 3, 2);
    net.eval();
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    let x = image(&dev, 1, 8, 8, 4);
    let sg = attribution::smoothgrad(
        &net,
        &x,
        1,
        SmoothGrad {
            samples: 8,
            noise: 0.1,
            seed: 1,
        },
    )
    .unwrap();
    assert!(sg.len() == 64 && sg.iter().all(|v| *v >= 0.0) && sg.iter().any(|v| *v > 0.0));
    let err = attribution::grad_cam(&net, &x, 1, "conv9")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no layer `conv9`") && err.contains("relu2_1"),
        "{err}"
    );
}

/// A parameter of `net` by its PyTorch name: shape and values.
fn param(net: &dyn Model, name: &str) -> (Vec<usize>, Vec<f32>) {
    let (_, t) = net
        .state_dict()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no parameter {name}"));
    (t.shape().to_vec(), t.to_vec().unwrap())
}

/// `y = W x + b` for a row-major `[out, in]` weight.
fn affine(w: &[f32], b: &[f32], x: &[f32]) -> Vec<f32> {
    b.iter()
        .enumerate()
        .map(|(o, bo)| bo + (0..x.len()).map(|i| w[o * x.len() + i] * x[i]).sum::<f32>())
        .collect()
}

/// `W^T g` for a row-major `[out, in]` weight.
fn affine_back(w: &[f32], g: &[f32], inp: usize) -> Vec<f32> {
    (0..inp)
        .map(|i| (0..g.len()).map(|o| w[o * inp + i] * g[o]).sum())
        .collect()
}

/// ReLU's backward: `g` where the ReLU's input was positive, and (guided) where `g` is too.
fn relu_back(z: &[f32], g: &[f32], guided: bool) -> Vec<f32> {
    z.iter()
        .zip(g)
        .map(|(&z, &g)| {
            if z > 0.0 && (!guided || g > 0.0) {
                g
            } else {
                0.0
            }
        })
        .collect()
}

/// Guided backprop is the input gradient with every ReLU passing back only positive
/// gradients where its input was positive: on a tiny net (conv 3x3, ReLU, linear, ReLU,
/// linear) written out by hand, it matches the hand-written rule, the plain rule matches
/// the library's input gradient, and the two differ (some gradient was negative at a ReLU).
#[test]
fn guided_backprop_is_the_gradient_with_negative_gradients_stopped_at_each_relu() {
    let net = spec_net("conv 3 k3, relu, linear 6, relu, linear", (1, 6, 6), 4, 21);
    net.eval();
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    let x = image(&dev, 1, 6, 6, 9);
    let xv = x.to_vec().unwrap();
    let (w1s, w1) = param(&net, "features.0.weight");
    let (_, b1) = param(&net, "features.0.bias");
    let (_, w2) = param(&net, "classifier.0.weight");
    let (_, b2) = param(&net, "classifier.0.bias");
    let (_, w3) = param(&net, "classifier.2.weight");
    assert_eq!(w1s, [3, 1, 3, 3]);
    // forward: z1 = conv(x) [3, 4, 4], z2 = W2 relu(z1) + b2 [6]
    let z1: Vec<f32> = (0..3 * 16)
        .map(|i| {
            let (c, y, xx) = (i / 16, i / 4 % 4, i % 4);
            let mut acc = b1[c];
            for ky in 0..3 {
                for kx in 0..3 {
                    acc += w1[c * 9 + ky * 3 + kx] * xv[(y + ky) * 6 + xx + kx];
                }
            }
            acc
        })
        .collect();
    let a1: Vec<f32> = z1.iter().map(|v| v.max(0.0)).collect();
    let z2 = affine(&w2, &b2, &a1);
    let backward = |class: usize, guided: bool| -> Vec<f32> {
        let g_a2: Vec<f32> = w3[class * 6..(class + 1) * 6].to_vec();
        let g_z2 = relu_back(&z2, &g_a2, guided);
        let g_a1 = affine_back(&w2, &g_z2, 48);
        let g_z1 = relu_back(&z1, &g_a1, guided);
        let mut gx = vec![0.0f32; 36];
        for (i, g) in g_z1.iter().enumerate() {
            let (c, y, xx) = (i / 16, i / 4 % 4, i % 4);
            for ky in 0..3 {
                for kx in 0..3 {
                    gx[(y + ky) * 6 + xx + kx] += w1[c * 9 + ky * 3 + kx] * g;
                }
            }
        }
        gx
    };
    let close = |what: &str, got: &[f32], want: &[f32]| {
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{what}, pixel {i}: {a} vs {b} by hand"
            );
        }
    };
    let mut differed = 0;
    for class in 0..4 {
        let plain = attribution::input_gradients(&net, &x, &[class])
            .unwrap()
            .to_vec()
            .unwrap();
        close(
            &format!("plain gradient, class {class}"),
            &plain,
            &backward(class, false),
        );
        let guided = attribution::guided_backprop(&net, &x, &Explain::Class(class)).unwrap();
        assert_eq!(guided.len(), 36);
        let want = backward(class, true);
        close(&format!("guided backprop, class {class}"), &guided, &want);
        if plain.iter().zip(&guided).any(|(p, g)| (p - g).abs() > 1e-3) {
            differed += 1;
        }
    }
    assert!(
        differed > 0,
        "guided backprop equals the plain gradient for every class: no negative gradient met a ReLU"
    );
}

/// Guided backprop of one channel at its strongest position reaches only the pixels in
/// that position's receptive field; some of them get a non-zero value.
#[test]
fn guided_backprop_of_a_channel_is_zero_outside_its_receptive_field() {
    // 16x16 -> conv k3 -> 14x14 -> pool 2 -> 7x7 -> conv k3 p1 (conv2_1) -> 7x7
    let net = spec_net(TINY, (1, 16, 16), 3, 5);
    net.eval();
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    let x = image(&dev, 1, 16, 16, 3);
    let mut checked_small_field = false;
    for channel in 0..4 {
        let act = fovea_vis::activation(&net, &fovea_graph::Tensor::new(x.clone()), "conv2_1")
            .unwrap()
            .to_vec()
            .unwrap();
        let plane = &act[channel * 49..(channel + 1) * 49];
        let at = (0..49)
            .max_by(|&a, &b| plane[a].total_cmp(&plane[b]))
            .unwrap();
        let (py, px) = (at / 7, at % 7);
        // conv2 (k3 p1) sees pool rows py-1..=py+1; pool 2 sees conv1 rows 2r..=2r+1;
        // conv1 (k3) sees input rows r..=r+2.
        let span = |p: usize| {
            let (lo, hi) = (p.saturating_sub(1), (p + 1).min(6));
            (2 * lo, 2 * hi + 1 + 2)
        };
        let ((y0, y1), (x0, x1)) = (span(py), span(px));
        let gb = attribution::guided_backprop(
            &net,
            &x,
            &Explain::Channel {
                layer: "conv2_1".into(),
                channel,
            },
        )
        .unwrap();
        assert_eq!(gb.len(), 256);
        let mut inside_nonzero = false;
        for (i, v) in gb.iter().enumerate() {
            let (y, xx) = (i / 16, i % 16);
            let inside = (y0..=y1).contains(&y) && (x0..=x1).contains(&xx);
            if inside {
                inside_nonzero |= *v != 0.0;
            } else {
                assert_eq!(
                    *v, 0.0,
                    "channel {channel} at ({py}, {px}): pixel ({y}, {xx}) is outside rows \
                     {y0}..={y1}, cols {x0}..={x1} but got {v}"
                );
            }
        }
        assert!(
            inside_nonzero,
            "channel {channel}: guided backprop is zero inside the receptive field too"
        );
        checked_small_field |= (y1 - y0 + 1) * (x1 - x0 + 1) < 256;
    }
    assert!(checked_small_field, "no channel's field excluded any pixel");
}

/// Bilinear resize of one `h x w` plane to `oh x ow`, PyTorch's `align_corners=False`.
fn bilinear(v: &[f32], (h, w): (usize, usize), (oh, ow): (usize, usize)) -> Vec<f32> {
    let taps = |o: usize, len: usize, olen: usize| {
        let src = ((o as f32 + 0.5) * len as f32 / olen as f32 - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(len - 1);
        let i1 = (i0 + 1).min(len - 1);
        (i0, i1, src - i0 as f32)
    };
    let mut out = Vec::with_capacity(oh * ow);
    for y in 0..oh {
        let (y0, y1, ly) = taps(y, h, oh);
        for x in 0..ow {
            let (x0, x1, lx) = taps(x, w, ow);
            let at = |yy: usize, xx: usize| v[yy * w + xx];
            out.push(
                (1.0 - ly) * ((1.0 - lx) * at(y0, x0) + lx * at(y0, x1))
                    + ly * ((1.0 - lx) * at(y1, x0) + lx * at(y1, x1)),
            );
        }
    }
    out
}

/// Grad-CAM equals `ReLU(sum_k alpha_k A_k)`, `alpha_k` the mean gradient of the class score
/// over channel `k` of the layer's activation `A`, computed here by hand from the tapped
/// activation and the classifier's weights, resized bilinearly and scaled to a maximum of 1.
#[test]
fn grad_cam_is_the_relu_of_gradient_weighted_activations() {
    let net = spec_net(TINY, (1, 8, 8), 3, 2);
    net.eval();
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    let (_, w1) = param(&net, "classifier.0.weight");
    let (_, b1) = param(&net, "classifier.0.bias");
    let (_, w2) = param(&net, "classifier.2.weight");
    let mut nontrivial = 0;
    for (seed, class) in [(4, 0), (4, 1), (4, 2), (8, 1), (12, 2)] {
        let x = image(&dev, 1, 8, 8, seed);
        // relu2_1: [1, 4, 3, 3], flattened into linear 6, ReLU, linear 3
        let a = fovea_vis::activation(&net, &fovea_graph::Tensor::new(x.clone()), "relu2_1")
            .unwrap()
            .to_vec()
            .unwrap();
        assert_eq!(a.len(), 36);
        let z = affine(&w1, &b1, &a);
        let g_z = relu_back(&z, &w2[class * 6..(class + 1) * 6], false);
        let g_a = affine_back(&w1, &g_z, 36);
        let cam: Vec<f32> = (0..9)
            .map(|p| {
                (0..4)
                    .map(|k| {
                        let alpha = g_a[k * 9..(k + 1) * 9].iter().sum::<f32>() / 9.0;
                        alpha * a[k * 9 + p]
                    })
                    .sum::<f32>()
                    .max(0.0)
            })
            .collect();
        let up = bilinear(&cam, (3, 3), (8, 8));
        let max = up.iter().copied().fold(0.0f32, f32::max);
        let want: Vec<f32> = up
            .iter()
            .map(|v| if max > 0.0 { v / max } else { 0.0 })
            .collect();
        let got = attribution::grad_cam(&net, &x, class, "relu2_1").unwrap();
        assert_eq!(got.len(), 64);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() < 1e-4,
                "image {seed}, class {class}, pixel {i}: Grad-CAM {g}, by hand {w}"
            );
        }
        let zeros = cam.iter().filter(|v| **v == 0.0).count();
        if max > 0.0 && zeros < 9 && want.iter().any(|v| *v < 0.99) {
            nontrivial += 1;
        }
    }
    assert!(
        nontrivial >= 2,
        "too few cases with a non-uniform map to tell Grad-CAM from a constant"
    );
}

/// Adebayo et al. (2018): randomising the weights changes saliency maps a lot (low rank
/// correlation) but guided backprop's much less (it mostly recovers the image).
#[test]
fn sanity_check_saliency_depends_on_the_weights_guided_backprop_less() {
    let trained = trained_small(6000, 1, 1);
    let random = spec_net(SMALL, (1, 28, 28), 10, 99);
    let dev = Device::cpu();
    random.to_device(&dev).unwrap();
    random.eval();
    let (x, y) = fashion(fovea_data::Split::Test, 12);
    let (mut sal, mut gb) = (0.0, 0.0);
    for i in 0..12 {
        let xi = Array::from_slice(&dev, &x[i * 784..(i + 1) * 784], &[1, 1, 28, 28]).unwrap();
        let t = y[i] as usize;
        let s = |m: &dyn Model| attribution::saliency(m, &xi, &[t]).unwrap();
        let g = |m: &dyn Model| {
            let v = attribution::guided_backprop(m, &xi, &Explain::Class(t)).unwrap();
            v.iter().map(|a| a.abs()).collect::<Vec<f32>>()
        };
        sal += spearman(&s(&trained), &s(&random)) / 12.0;
        gb += spearman(&g(&trained), &g(&random)) / 12.0;
    }
    eprintln!(
        "rank correlation trained vs random weights: saliency {sal:.3}, guided backprop {gb:.3}"
    );
    assert!(sal < 0.5, "saliency should change with the weights: {sal}");
    assert!(
        gb > sal,
        "guided backprop ({gb}) is less sensitive than saliency ({sal})"
    );
}
