//! A layer and its ReLU fused (`conv2d_relu`, `linear_relu`): the two ops' results, forward
//! and backward, on both backends. A file of its own: the tape tests measure the GPU pool,
//! which this test's buffers would disturb.

use fovea_graph::{guided_relu_backward, override_backward, Array, Device, Op, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn cpu() -> Device {
    Device::cpu()
}

fn random(seed: u64, shape: &[usize]) -> Array {
    let mut r = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
    Array::from_slice(&cpu(), &v, shape).unwrap()
}

#[test]
fn fused_layer_and_relu_record_the_two_ops() {
    // conv2d_relu and linear_relu give what the layer then relu give, forward and backward,
    // on both backends (the GPU's epilogue writes both outputs), and the ReLU node they
    // record is the one guided backpropagation overrides.
    let opts = fovea_graph::Conv2dOptions {
        padding: (1, 1),
        ..Default::default()
    };
    let gpu = Device::gpu().expect("a GPU adapter (install mesa-vulkan-drivers for lavapipe)");
    for dev in [cpu(), gpu] {
        let on = |a: Array| Array::from_slice(&dev, &a.to_vec().unwrap(), a.shape()).unwrap();
        let x = on(random(10, &[2, 3, 6, 5]));
        let (w, b) = (on(random(11, &[4, 3, 3, 3])), on(random(12, &[4])));
        let (w2, b2) = (on(random(13, &[7, 120])), on(random(14, &[7])));
        let run = |fused: bool| {
            let (xt, wt, bt) = (
                Tensor::param(x.clone()),
                Tensor::param(w.clone()),
                Tensor::param(b.clone()),
            );
            let (w2t, b2t) = (Tensor::param(w2.clone()), Tensor::param(b2.clone()));
            let (y, z) = if fused {
                xt.conv2d_relu(&wt, Some(&bt), opts).unwrap()
            } else {
                let y = xt.conv2d(&wt, Some(&bt), opts).unwrap();
                let z = y.relu().unwrap();
                (y, z)
            };
            assert_eq!((y.grad_fn(), z.grad_fn()), (Some("conv2d"), Some("relu")));
            let flat = z.flatten(1, -1).unwrap();
            let (_, h) = if fused {
                flat.linear_relu(&w2t, Some(&b2t)).unwrap()
            } else {
                let h = flat.linear(&w2t, Some(&b2t)).unwrap();
                (h.clone(), h.relu().unwrap())
            };
            h.sum(&[], false).unwrap().backward().unwrap();
            let mut out = vec![y.to_vec().unwrap(), h.to_vec().unwrap()];
            for t in [&xt, &wt, &bt, &w2t, &b2t] {
                out.push(t.grad().unwrap().to_vec().unwrap());
            }
            out
        };
        let close = |what: &str, got: &[Vec<f32>], want: &[Vec<f32>]| {
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                for (a, b) in g.iter().zip(w) {
                    assert!(
                        (a - b).abs() <= 1e-5 + 1e-5 * b.abs(),
                        "{what} {i}: {a} vs {b}"
                    );
                }
            }
        };
        let name = dev.name();
        close(&format!("{name} fused"), &run(true), &run(false));
        let guided = |fused| {
            let _guard = override_backward(Op::Relu, guided_relu_backward);
            run(fused)
        };
        let (g_fused, g_plain) = (guided(true), guided(false));
        close(&format!("{name} guided"), &g_fused, &g_plain);
        assert_ne!(
            g_fused[2],
            run(true)[2],
            "{name}: the override reached the fused ReLU"
        );
    }
}

#[test]
fn fused_batch_norm_relu_records_the_two_ops() {
    let gpu = Device::gpu().expect("a GPU adapter (install mesa-vulkan-drivers for lavapipe)");
    for dev in [cpu(), gpu] {
        let on = |a: Array| Array::from_slice(&dev, &a.to_vec().unwrap(), a.shape()).unwrap();
        let x = on(random(20, &[3, 2, 4, 5]));
        let (g, b) = (on(random(21, &[2])), on(random(22, &[2])));
        let seed = on(random(23, &[3, 2, 4, 5]));
        let run = |fused: bool| {
            let (xt, gt, bt) = (
                Tensor::param(x.clone()),
                Tensor::param(g.clone()),
                Tensor::param(b.clone()),
            );
            let args = fovea_graph::BatchNormArgs {
                weight: Some(&gt),
                bias: Some(&bt),
                running_mean: None,
                running_var: None,
                training: true,
                momentum: 0.1,
                eps: 1e-5,
            };
            let (y, z) = if fused {
                xt.batch_norm2d_relu(args).unwrap()
            } else {
                let y = xt.batch_norm2d(args).unwrap();
                (y.clone(), y.relu().unwrap())
            };
            assert_eq!(
                (y.grad_fn(), z.grad_fn()),
                (Some("batch_norm2d"), Some("relu"))
            );
            let loss = z
                .mul(&Tensor::new(seed.clone()))
                .unwrap()
                .sum(&[], false)
                .unwrap();
            loss.backward().unwrap();
            let mut out = vec![y.to_vec().unwrap(), z.to_vec().unwrap()];
            for t in [&xt, &gt, &bt] {
                out.push(t.grad().unwrap().to_vec().unwrap());
            }
            out
        };
        let (got, want) = (run(true), run(false));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            for (a, b) in g.iter().zip(w) {
                assert!(
                    (a - b).abs() <= 1e-5 + 1e-5 * b.abs(),
                    "{} {i}: {a} vs {b}",
                    dev.name()
                );
            }
        }
    }
}
