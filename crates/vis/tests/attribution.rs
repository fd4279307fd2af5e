//! Attributions checked by their defining properties: saliency is the input gradient
//! (finite differences), occlusion of everything is `f(x) - f(baseline)`, maps follow the
//! object when it moves, integrated gradients are complete, and Adebayo et al.'s sanity
//! check holds (saliency changes when the weights are randomised; guided backprop much less).

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
fn grad_cam_smoothgrad_and_guided_backprop_give_sane_maps() {
    let net = spec_net(TINY, (1, 8, 8), 3, 2);
    net.eval();
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    let x = image(&dev, 1, 8, 8, 4);
    let cam = attribution::grad_cam(&net, &x, 1, "relu2_1").unwrap();
    assert_eq!(cam.len(), 64);
    assert!(cam.iter().all(|v| (0.0..=1.0).contains(v)));
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
    let gb = attribution::guided_backprop(&net, &x, &Explain::Class(1)).unwrap();
    let ch = attribution::guided_backprop(
        &net,
        &x,
        &Explain::Channel {
            layer: "conv2_1".into(),
            channel: 2,
        },
    )
    .unwrap();
    assert_eq!((gb.len(), ch.len()), (64, 64));
    let err = attribution::grad_cam(&net, &x, 1, "conv9")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no layer `conv9`") && err.contains("relu2_1"),
        "{err}"
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
