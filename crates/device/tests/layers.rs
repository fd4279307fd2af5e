//! Layer kernels (pooling, bilinear resize, batch norm, cross-entropy, dropout, optimizer
//! steps, linear): the GPU against the CPU reference on random and awkward shapes, finite
//! differences on the reference, and the errors bad input gets.

mod common;

use common::*;
use fovea_device::{
    AdamStep, Array, Conv2dOptions, CrossEntropyOptions, Device, Pool2dOptions, Reduction, SgdStep,
};
use rand::Rng;

fn cpu() -> Device {
    Device::cpu()
}

/// Pooling cases: input shape, options, and whether it is max (else average) pooling.
fn pool_cases() -> Vec<(Vec<usize>, Pool2dOptions, bool)> {
    let o = Pool2dOptions::new;
    let mut v = vec![
        (vec![2, 3, 8, 8], o(2), true),
        (vec![1, 4, 9, 7], o(3).stride(2).padding(1), true), // batch 1, odd sizes
        (
            vec![2, 2, 11, 10],
            o(3).stride(1).padding(1).dilation(2),
            true,
        ), // dilation 2
        (vec![1, 3, 7, 9], o(2).ceil_mode(true), true),
        (
            vec![1, 3, 8, 10],
            o(3).stride(2).padding(1).ceil_mode(true),
            true,
        ),
        (vec![1, 2, 5, 5], o(1), true),                        // 1x1
        (vec![1, 2, 17, 15], o(7).stride(2).padding(3), true), // 7x7
        (vec![1, 4, 9, 7], o(3).stride(2).padding(1), false),
        (
            vec![2, 3, 9, 7],
            o(3).stride(2).padding(1).count_include_pad(false),
            false,
        ),
        (vec![1, 3, 7, 9], o(2).ceil_mode(true), false),
        (
            vec![1, 3, 8, 10],
            o(3).stride(2)
                .padding(1)
                .ceil_mode(true)
                .count_include_pad(false),
            false,
        ),
        (
            vec![2, 2, 6, 6],
            o(3).stride(1).padding(1).divisor_override(5),
            false,
        ),
        (vec![1, 2, 5, 5], o(1), false),
        (vec![1, 2, 16, 15], o(7).stride(3).padding(3), false),
    ];
    let mut r = rng(60);
    for _ in 0..6 {
        let k = r.random_range(1..5);
        let opts = o(k)
            .stride(r.random_range(1..4))
            .padding(r.random_range(0..=k / 2));
        let max = r.random_bool(0.5);
        let opts = if max {
            opts.dilation(r.random_range(1..3))
        } else {
            opts
        };
        let span = opts.dilation.0 * (k - 1) + 1;
        let x = vec![
            r.random_range(1..3),
            r.random_range(1..4),
            span + r.random_range(0..8),
            span + r.random_range(0..8),
        ];
        v.push((x, opts.ceil_mode(r.random_bool(0.3)), max));
    }
    v
}

#[test]
fn pooling_gpu_matches_reference_forward_and_backward() {
    let mut r = rng(61);
    for (shape, opts, max) in pool_cases() {
        let n: usize = shape.iter().product();
        let what = format!("{} {shape:?} {opts:?}", if max { "max" } else { "avg" });
        let (xg, xc) = pair(&data(&mut r, n, -2.0, 2.0), &shape);
        if max {
            let (yg, ig) = xg.max_pool2d(opts).unwrap();
            let (yc, ic) = xc.max_pool2d(opts).unwrap();
            assert_close(&what, &yg, &yc, 0.0, 0.0);
            assert_eq!(
                ig.to_vec().unwrap(),
                ic.to_vec().unwrap(),
                "{what}: indices"
            );
            let gy = data(&mut r, yc.numel(), -1.0, 1.0);
            let (gyg, gyc) = pair(&gy, yc.shape());
            let gxg = Array::max_pool2d_backward(&gyg, &ig, &shape, opts).unwrap();
            let gxc = Array::max_pool2d_backward(&gyc, &ic, &shape, opts).unwrap();
            assert_close(&what, &gxg, &gxc, 1e-6, 1e-6);
        } else {
            let (yg, yc) = (xg.avg_pool2d(opts).unwrap(), xc.avg_pool2d(opts).unwrap());
            assert_close(&what, &yg, &yc, 1e-5, 1e-6);
            let gy = data(&mut r, yc.numel(), -1.0, 1.0);
            let (gyg, gyc) = pair(&gy, yc.shape());
            let gxg = Array::avg_pool2d_backward(&gyg, &shape, opts).unwrap();
            let gxc = Array::avg_pool2d_backward(&gyc, &shape, opts).unwrap();
            assert_close(&what, &gxg, &gxc, 1e-5, 1e-6);
        }
    }
}

#[test]
fn pooling_output_sizes_follow_pytorch() {
    let x = Array::zeros(&cpu(), &[1, 1, 7, 9]).unwrap();
    let size = |o: Pool2dOptions| x.max_pool2d(o).unwrap().0.shape().to_vec();
    assert_eq!(size(Pool2dOptions::new(2)), [1, 1, 3, 4]);
    assert_eq!(size(Pool2dOptions::new(2).ceil_mode(true)), [1, 1, 4, 5]);
    // ceil mode never starts a window in the right padding: (7 + 2 - 3) / 2 + 1 = 4 rows,
    // ceil gives 4 + 1 = 5 only if the fifth window starts inside; it does not for rows.
    assert_eq!(
        size(Pool2dOptions::new(3).stride(2).padding(1).ceil_mode(true)),
        [1, 1, 4, 5]
    );
    assert_eq!(
        size(Pool2dOptions::new(3).stride(1).padding(1).dilation(2)),
        [1, 1, 5, 7]
    );
}

#[test]
fn adaptive_and_global_pooling_match_reference() {
    let mut r = rng(62);
    let cases = [
        (vec![2, 3, 14, 14], (7, 7)),
        (vec![1, 2, 10, 9], (7, 7)), // windows overlap
        (vec![2, 2, 5, 3], (7, 7)),  // output larger than input
        (vec![1, 5, 6, 6], (1, 1)),
        (vec![3, 2, 13, 11], (4, 3)),
    ];
    for (shape, out) in cases {
        let n: usize = shape.iter().product();
        let (xg, xc) = pair(&data(&mut r, n, -2.0, 2.0), &shape);
        let (yg, yc) = (
            xg.adaptive_avg_pool2d(out).unwrap(),
            xc.adaptive_avg_pool2d(out).unwrap(),
        );
        assert_close(&format!("adaptive {shape:?}"), &yg, &yc, 1e-5, 1e-6);
        let gy = data(&mut r, yc.numel(), -1.0, 1.0);
        let (gyg, gyc) = pair(&gy, yc.shape());
        let gxg = Array::adaptive_avg_pool2d_backward(&gyg, &shape).unwrap();
        let gxc = Array::adaptive_avg_pool2d_backward(&gyc, &shape).unwrap();
        assert_close(
            &format!("adaptive backward {shape:?}"),
            &gxg,
            &gxc,
            1e-5,
            1e-6,
        );
    }
    // global average pooling is the plane mean
    let (xg, xc) = pair(&data(&mut r, 2 * 3 * 5 * 4, -1.0, 1.0), &[2, 3, 5, 4]);
    let want = xc.mean(&[2, 3], true).unwrap();
    assert_close(
        "global",
        &xg.global_avg_pool2d().unwrap(),
        &want,
        1e-5,
        1e-6,
    );
    assert_close(
        "global cpu",
        &xc.global_avg_pool2d().unwrap(),
        &want,
        1e-5,
        1e-6,
    );
}

#[test]
fn pooling_gradients_match_finite_differences() {
    let mut r = rng(63);
    for (shape, opts, max) in pool_cases().into_iter().take(14) {
        let n: usize = shape.iter().product();
        let x = distinct(&mut r, n, 0.05);
        let xa = Array::from_slice(&cpu(), &x, &shape).unwrap();
        let what = format!("{} {shape:?} {opts:?}", if max { "max" } else { "avg" });
        if max {
            let (y, idx) = xa.max_pool2d(opts).unwrap();
            let gy = data(&mut r, y.numel(), -1.0, 1.0);
            let g = Array::from_slice(&cpu(), &gy, y.shape()).unwrap();
            let gx = Array::max_pool2d_backward(&g, &idx, &shape, opts).unwrap();
            fd_check(&what, &x, &shape, &gy, &gx.to_vec().unwrap(), 0.01, |a| {
                a.max_pool2d(opts).unwrap().0
            });
        } else {
            let y = xa.avg_pool2d(opts).unwrap();
            let gy = data(&mut r, y.numel(), -1.0, 1.0);
            let g = Array::from_slice(&cpu(), &gy, y.shape()).unwrap();
            let gx = Array::avg_pool2d_backward(&g, &shape, opts).unwrap();
            fd_check(&what, &x, &shape, &gy, &gx.to_vec().unwrap(), 0.01, |a| {
                a.avg_pool2d(opts).unwrap()
            });
        }
    }
    for (shape, out) in [(vec![1, 2, 10, 9], (7, 7)), (vec![1, 1, 3, 5], (4, 2))] {
        let n: usize = shape.iter().product();
        let x = data(&mut r, n, -1.0, 1.0);
        let gy = data(&mut r, shape[0] * shape[1] * out.0 * out.1, -1.0, 1.0);
        let g = Array::from_slice(&cpu(), &gy, &[shape[0], shape[1], out.0, out.1]).unwrap();
        let gx = Array::adaptive_avg_pool2d_backward(&g, &shape).unwrap();
        fd_check(
            "adaptive",
            &x,
            &shape,
            &gy,
            &gx.to_vec().unwrap(),
            0.01,
            |a| a.adaptive_avg_pool2d(out).unwrap(),
        );
    }
}

#[test]
fn pooling_refuses_bad_input_clearly() {
    let x = Array::zeros(&cpu(), &[1, 1, 4, 4]).unwrap();
    let e = x
        .max_pool2d(Pool2dOptions::new(3).padding(2))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("max_pool2d") && e.contains("half the kernel"),
        "{e}"
    );
    let e = x.max_pool2d(Pool2dOptions::new(5)).unwrap_err().to_string();
    assert!(
        e.contains("[1, 1, 4, 4]") && e.contains("does not fit"),
        "{e}"
    );
    let flat = Array::zeros(&cpu(), &[4, 4]).unwrap();
    let e = flat
        .avg_pool2d(Pool2dOptions::new(2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("[N, C, H, W]"), "{e}");
}

#[test]
fn bilinear_resize_matches_reference_and_finite_differences() {
    let mut r = rng(64);
    let cases = [
        (vec![2, 3, 5, 7], (9, 4)),
        (vec![1, 2, 16, 16], (5, 7)), // downsample
        (vec![1, 1, 4, 3], (13, 10)), // upsample
        (vec![1, 2, 6, 5], (1, 1)),
        (vec![2, 1, 1, 1], (3, 4)),
        (vec![1, 3, 7, 7], (7, 7)),
    ];
    for (shape, size) in cases {
        for align in [false, true] {
            let what = format!("resize {shape:?} -> {size:?} align {align}");
            let n: usize = shape.iter().product();
            let x = data(&mut r, n, -1.0, 1.0);
            let (xg, xc) = pair(&x, &shape);
            let yc = xc.resize_bilinear(size, align).unwrap();
            assert_close(
                &what,
                &xg.resize_bilinear(size, align).unwrap(),
                &yc,
                1e-5,
                1e-6,
            );
            let gy = data(&mut r, yc.numel(), -1.0, 1.0);
            let (gyg, gyc) = pair(&gy, yc.shape());
            let gxc = Array::resize_bilinear_backward(&gyc, &shape, align).unwrap();
            let gxg = Array::resize_bilinear_backward(&gyg, &shape, align).unwrap();
            assert_close(&what, &gxg, &gxc, 1e-5, 1e-5);
            fd_check(&what, &x, &shape, &gy, &gxc.to_vec().unwrap(), 0.01, |a| {
                a.resize_bilinear(size, align).unwrap()
            });
        }
    }
    // the identity size reproduces the input
    let x = data(&mut r, 30, -1.0, 1.0);
    let (xg, _) = pair(&x, &[1, 1, 5, 6]);
    assert_close(
        "identity",
        &xg.resize_bilinear((5, 6), false).unwrap(),
        &xg,
        0.0,
        1e-6,
    );
}

#[test]
fn batch_norm_matches_reference_and_finite_differences() {
    let mut r = rng(65);
    for shape in [
        vec![4, 3, 5, 5],
        vec![1, 3, 1, 2],
        vec![2, 5, 3, 7],
        vec![6, 4],
    ] {
        let n: usize = shape.iter().product();
        let c = shape[1];
        let x = data(&mut r, n, -3.0, 5.0);
        let (gamma, beta) = (data(&mut r, c, 0.5, 1.5), data(&mut r, c, -1.0, 1.0));
        let (rm, rv) = (data(&mut r, c, -0.5, 0.5), data(&mut r, c, 0.5, 2.0));
        let gy = data(&mut r, n, -1.0, 1.0);
        let run = |d: &Device| {
            let a = |v: &[f32], s: &[usize]| Array::from_slice(d, v, s).unwrap();
            let (xa, g, b) = (a(&x, &shape), a(&gamma, &[c]), a(&beta, &[c]));
            let (y, st) = xa.batch_norm2d_train(Some(&g), Some(&b), 1e-5).unwrap();
            let (m, v) =
                Array::batch_norm2d_running(&a(&rm, &[c]), &a(&rv, &[c]), &st, 0.1).unwrap();
            let gr = Array::batch_norm2d_backward(&xa, &a(&gy, &shape), Some(&g), &st).unwrap();
            let eval = xa
                .batch_norm2d_eval(Some(&g), Some(&b), &a(&rm, &[c]), &a(&rv, &[c]), 1e-5)
                .unwrap();
            [y, m, v, gr.x, gr.gamma, gr.beta, eval]
        };
        let (got, want) = (run(&gpu()), run(&cpu()));
        let names = [
            "y",
            "running_mean",
            "running_var",
            "grad_x",
            "grad_gamma",
            "grad_beta",
            "eval",
        ];
        for ((g, w), name) in got.iter().zip(&want).zip(names) {
            assert_close(&format!("batch norm {shape:?} {name}"), g, w, 1e-4, 1e-5);
        }
        // finite differences w.r.t. x, gamma and beta on the reference
        let what = format!("batch norm {shape:?}");
        let cpu = cpu();
        let arr = |v: &[f32], s: &[usize]| Array::from_slice(&cpu, v, s).unwrap();
        let (g, b) = (arr(&gamma, &[c]), arr(&beta, &[c]));
        let eps = 1e-2;
        fd_check(
            &format!("{what} x"),
            &x,
            &shape,
            &gy,
            &want[3].to_vec().unwrap(),
            eps,
            |a| a.batch_norm2d_train(Some(&g), Some(&b), 1e-5).unwrap().0,
        );
        let xa = arr(&x, &shape);
        fd_check(
            &format!("{what} gamma"),
            &gamma,
            &[c],
            &gy,
            &want[4].to_vec().unwrap(),
            eps,
            |ga| xa.batch_norm2d_train(Some(ga), Some(&b), 1e-5).unwrap().0,
        );
        fd_check(
            &format!("{what} beta"),
            &beta,
            &[c],
            &gy,
            &want[5].to_vec().unwrap(),
            eps,
            |be| xa.batch_norm2d_train(Some(&g), Some(be), 1e-5).unwrap().0,
        );
    }
    let one = Array::zeros(&cpu(), &[1, 3, 1, 1]).unwrap();
    let e = one
        .batch_norm2d_train(None, None, 1e-5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than one value per channel"), "{e}");
}

#[test]
fn cross_entropy_matches_reference_is_stable_and_has_exact_gradients() {
    let mut r = rng(66);
    for (rows, classes, scale) in [(5, 10, 3.0), (1, 3, 1.0), (33, 7, 100.0), (8, 1000, 5.0)] {
        let z = data(&mut r, rows * classes, -scale, scale);
        let labels: Vec<f32> = (0..rows)
            .map(|_| r.random_range(0..classes) as f32)
            .collect();
        for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            for smoothing in [0.0, 0.1] {
                let o = CrossEntropyOptions {
                    reduction,
                    label_smoothing: smoothing,
                    ..Default::default()
                };
                let what = format!("ce {rows}x{classes} x{scale} {reduction:?} {smoothing}");
                let (zg, zc) = pair(&z, &[rows, classes]);
                let (lg, lc) = pair(&labels, &[rows]);
                let (lossg, gradg) = zg.cross_entropy(&lg, o).unwrap();
                let (lossc, gradc) = zc.cross_entropy(&lc, o).unwrap();
                assert!(
                    lossc.to_vec().unwrap().iter().all(|v| v.is_finite()),
                    "{what}"
                );
                assert_close(&what, &lossg, &lossc, 1e-5, 1e-5);
                assert_close(&what, &gradg, &gradc, 1e-5, 1e-6);
                if rows * classes <= 80 && reduction == Reduction::Mean {
                    let gy = vec![1.0];
                    fd_check(
                        &what,
                        &z,
                        &[rows, classes],
                        &gy,
                        &gradc.to_vec().unwrap(),
                        1e-2,
                        |a| a.cross_entropy(&lc, o).unwrap().0.reshape(&[1]).unwrap(),
                    );
                }
            }
        }
    }
    // ignored rows count for nothing; a label past the classes is NaN, not a silent answer
    let z = data(&mut r, 12, -1.0, 1.0);
    for dev in [gpu(), cpu()] {
        let za = Array::from_slice(&dev, &z, &[3, 4]).unwrap();
        let l = Array::from_slice(&dev, &[1.0, -100.0, 3.0], &[3]).unwrap();
        let (loss, grad) = za.cross_entropy(&l, Default::default()).unwrap();
        let two = Array::from_slice(&dev, &[1.0, 3.0], &[2]).unwrap();
        let kept = Array::concat(
            &[
                &za.slice(0, 0, 1, 1).unwrap(),
                &za.slice(0, 2, 3, 1).unwrap(),
            ],
            0,
        )
        .unwrap();
        let (want, _) = kept.cross_entropy(&two, Default::default()).unwrap();
        assert_close("ignore_index", &loss, &want, 1e-6, 1e-6);
        assert!(grad.to_vec().unwrap()[4..8].iter().all(|&g| g == 0.0));
        let bad = Array::from_slice(&dev, &[1.0, 4.0, 3.0], &[3]).unwrap();
        assert!(za
            .cross_entropy(&bad, Default::default())
            .unwrap()
            .0
            .to_vec()
            .unwrap()[0]
            .is_nan());
    }
}

#[test]
fn dropout_masks_agree_across_devices_and_p_0_and_1_are_exact() {
    let n = 10_007;
    let mg = Array::dropout_mask(&gpu(), &[n], 0.3, 9)
        .unwrap()
        .to_vec()
        .unwrap();
    let mc = Array::dropout_mask(&cpu(), &[n], 0.3, 9)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(
        mg, mc,
        "the same seed drops the same elements on both devices"
    );
    let kept = mc.iter().filter(|&&v| v != 0.0).count() as f32 / n as f32;
    assert!((kept - 0.7).abs() < 0.02, "kept {kept}");
    assert!(mc.iter().all(|&v| v == 0.0 || v == 1.0 / 0.7));
    for dev in [gpu(), cpu()] {
        let x = Array::randn(&dev, &[3, 5, 7], 4).unwrap();
        let (y0, m0) = x.dropout(0.0, 1).unwrap();
        assert_eq!(
            y0.to_vec().unwrap(),
            x.to_vec().unwrap(),
            "p = 0 is the identity"
        );
        assert!(m0.to_vec().unwrap().iter().all(|&v| v == 1.0));
        let (y1, _) = x.dropout(1.0, 1).unwrap();
        assert!(
            y1.to_vec().unwrap().iter().all(|&v| v == 0.0),
            "p = 1 drops all"
        );
        // backward reuses the mask: the gradient of sum(y * g) is g * mask
        let (y, m) = x.dropout(0.5, 2).unwrap();
        let g = Array::randn(&dev, &[3, 5, 7], 5).unwrap();
        let gx = g.mul(&m).unwrap();
        let xs = x.to_vec().unwrap();
        fd_check(
            "dropout",
            &xs,
            &[3, 5, 7],
            &g.to_vec().unwrap(),
            &gx.to_vec().unwrap(),
            1e-2,
            |a| {
                let mc = Array::from_slice(&cpu(), &m.to_vec().unwrap(), m.shape()).unwrap();
                a.mul(&mc).unwrap()
            },
        );
        assert_eq!(y.to_vec().unwrap(), x.mul(&m).unwrap().to_vec().unwrap());
    }
    assert!(Array::dropout_mask(&cpu(), &[3], 1.5, 0).is_err());
}

#[test]
fn optimizer_steps_match_reference_in_every_mode() {
    let mut r = rng(67);
    let n = 1031;
    let p0 = data(&mut r, n, -1.0, 1.0);
    let grads: Vec<Vec<f32>> = (0..3).map(|_| data(&mut r, n, -1.0, 1.0)).collect();
    let sgd = |momentum, dampening, nesterov, weight_decay, maximize| SgdStep {
        lr: 0.05,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
        first: true,
    };
    let sgds = [
        sgd(0.0, 0.0, false, 0.0, false),
        sgd(0.9, 0.0, false, 1e-4, false),
        sgd(0.9, 0.1, false, 0.0, true),
        sgd(0.8, 0.0, true, 1e-2, false),
    ];
    for s in sgds {
        let run = |d: &Device| {
            let p = Array::from_slice(d, &p0, &[n]).unwrap();
            let buf = (s.momentum != 0.0).then(|| Array::zeros(d, &[n]).unwrap());
            for (t, g) in grads.iter().enumerate() {
                let g = Array::from_slice(d, g, &[n]).unwrap();
                p.sgd_step_(&g, buf.as_ref(), &SgdStep { first: t == 0, ..s })
                    .unwrap();
            }
            p
        };
        assert_close(&format!("{s:?}"), &run(&gpu()), &run(&cpu()), 1e-5, 1e-6);
    }
    let base = AdamStep::new(1e-2, 1);
    let adams = [
        base,
        AdamStep {
            weight_decay: 1e-2,
            ..base
        },
        AdamStep {
            weight_decay: 1e-2,
            decoupled: true,
            ..base
        },
        AdamStep {
            amsgrad: true,
            maximize: true,
            beta1: 0.8,
            ..base
        },
    ];
    for s in adams {
        let run = |d: &Device| {
            let p = Array::from_slice(d, &p0, &[n]).unwrap();
            let (m, v) = (
                Array::zeros(d, &[n]).unwrap(),
                Array::zeros(d, &[n]).unwrap(),
            );
            let vmax = s.amsgrad.then(|| Array::zeros(d, &[n]).unwrap());
            for (t, g) in grads.iter().enumerate() {
                let g = Array::from_slice(d, g, &[n]).unwrap();
                p.adam_step_(&g, &m, &v, vmax.as_ref(), &s.at_step(t as u64 + 1))
                    .unwrap();
            }
            p
        };
        assert_close(&format!("{s:?}"), &run(&gpu()), &run(&cpu()), 1e-5, 1e-6);
    }
    // a parameter cannot be its own gradient; momentum needs its buffer
    let p = Array::zeros(&cpu(), &[4]).unwrap();
    let e = p
        .sgd_step_(&p.clone(), None, &sgds[0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("shares the parameter's memory"), "{e}");
    let g = Array::zeros(&cpu(), &[4]).unwrap();
    assert!(p
        .sgd_step_(&g, None, &sgds[1])
        .unwrap_err()
        .to_string()
        .contains("momentum buffer"));
}

#[test]
fn linear_matches_reference_and_finite_differences() {
    let mut r = rng(68);
    for (x_shape, out) in [
        (vec![4, 7], 3),
        (vec![1, 1], 1),
        (vec![2, 3, 17], 9),
        (vec![65, 130], 33),
        // a classifier over a long flattened input: K is split, the bias added once
        (vec![64, 1200], 10),
    ] {
        let inp = *x_shape.last().unwrap();
        let n: usize = x_shape.iter().product();
        let rows = n / inp;
        let (x, w, b) = (
            data(&mut r, n, -1.0, 1.0),
            data(&mut r, out * inp, -1.0, 1.0),
            data(&mut r, out, -1.0, 1.0),
        );
        let mut y_shape = x_shape.clone();
        *y_shape.last_mut().unwrap() = out;
        let gy = data(&mut r, rows * out, -1.0, 1.0);
        let run = |d: &Device| {
            let a = |v: &[f32], s: &[usize]| Array::from_slice(d, v, s).unwrap();
            let (xa, wa, ba) = (a(&x, &x_shape), a(&w, &[out, inp]), a(&b, &[out]));
            let y = xa.linear(&wa, Some(&ba)).unwrap();
            let g = Array::linear_backward(&xa, &wa, &a(&gy, &y_shape)).unwrap();
            [y, g.x, g.weight, g.bias]
        };
        let (got, want) = (run(&gpu()), run(&cpu()));
        for (g, w) in got.iter().zip(&want) {
            assert_close(&format!("linear {x_shape:?} -> {out}"), g, w, 1e-4, 1e-5);
        }
        if n <= 60 {
            let cpu = cpu();
            let arr = |v: &[f32], s: &[usize]| Array::from_slice(&cpu, v, s).unwrap();
            let (wa, ba, xa) = (arr(&w, &[out, inp]), arr(&b, &[out]), arr(&x, &x_shape));
            fd_check(
                "linear x",
                &x,
                &x_shape,
                &gy,
                &want[1].to_vec().unwrap(),
                1e-2,
                |a| a.linear(&wa, Some(&ba)).unwrap(),
            );
            fd_check(
                "linear w",
                &w,
                &[out, inp],
                &gy,
                &want[2].to_vec().unwrap(),
                1e-2,
                |a| xa.linear(a, Some(&ba)).unwrap(),
            );
            fd_check(
                "linear b",
                &b,
                &[out],
                &gy,
                &want[3].to_vec().unwrap(),
                1e-2,
                |a| xa.linear(&wa, Some(a)).unwrap(),
            );
        }
    }
    // the course's Net with the wrong in_features
    let x = Array::zeros(&cpu(), &[64, 4608]).unwrap();
    let w = Array::zeros(&cpu(), &[10, 128]).unwrap();
    let e = x.linear(&w, None).unwrap_err().to_string();
    assert!(
        e.contains("expects 128 input features but got 4608") && e.contains("[64, 4608]"),
        "{e}"
    );
}

#[test]
fn fused_relu_outputs_match_the_two_ops() {
    // (y, relu(y)) from one pass equal the layer, then ReLU, on every path: the fused
    // epilogue (im2col or a whole product, with a bias), and the fallbacks (no bias, a
    // chunked batch, the implicit GEMM, split K).
    let mut r = rng(69);
    let check = |what: &str, (y, z): (Array, Array), want: &Array| {
        assert_close(&format!("{what}: y"), &y, want, 1e-4, 1e-5);
        assert_close(
            &format!("{what}: relu(y)"),
            &z,
            &want.relu().unwrap(),
            1e-4,
            1e-5,
        );
        let (y, z) = (y.to_vec().unwrap(), z.to_vec().unwrap());
        assert!(
            y.iter().any(|&v| v < 0.0),
            "{what}: the test needs negative outputs"
        );
        for (a, b) in y.iter().zip(&z) {
            assert_eq!(*b, a.max(0.0), "{what}: relu(y) is exactly max(y, 0)");
        }
    };
    let (x, w, b) = (
        data(&mut r, 3 * 2 * 9 * 8, -1.0, 1.0),
        data(&mut r, 5 * 2 * 9, -1.0, 1.0),
        data(&mut r, 5, -1.0, 1.0),
    );
    let opts = Conv2dOptions {
        padding: (1, 1),
        ..Conv2dOptions::default()
    };
    let conv = |d: &Device, bias: bool| {
        let a = |v: &[f32], s: &[usize]| Array::from_slice(d, v, s).unwrap();
        let (xa, wa, ba) = (a(&x, &[3, 2, 9, 8]), a(&w, &[5, 2, 3, 3]), a(&b, &[5]));
        let bias = bias.then_some(&ba);
        (
            xa.conv2d_relu(&wa, bias, opts).unwrap(),
            xa.conv2d(&wa, bias, opts).unwrap(),
        )
    };
    let mut devices = conv_variants();
    devices.push(("cpu".to_string(), cpu()));
    for (name, d) in &devices {
        for bias in [true, false] {
            let (fused, _) = conv(d, bias);
            let (_, want) = conv(&cpu(), bias);
            check(&format!("conv2d_relu {name} bias {bias}"), fused, &want);
        }
    }
    for (rows, inp, out) in [(7, 13, 9), (64, 1200, 10), (65, 130, 33)] {
        let (x, w, b) = (
            data(&mut r, rows * inp, -1.0, 1.0),
            data(&mut r, out * inp, -1.0, 1.0),
            data(&mut r, out, -1.0, 1.0),
        );
        for bias in [true, false] {
            let run = |d: &Device| {
                let a = |v: &[f32], s: &[usize]| Array::from_slice(d, v, s).unwrap();
                let (xa, wa, ba) = (a(&x, &[rows, inp]), a(&w, &[out, inp]), a(&b, &[out]));
                let bias = bias.then_some(&ba);
                (
                    xa.linear_relu(&wa, bias).unwrap(),
                    xa.linear(&wa, bias).unwrap(),
                )
            };
            let (fused, _) = run(&gpu());
            let (cpu_fused, want) = run(&cpu());
            let what = format!("linear_relu {rows}x{inp} -> {out} bias {bias}");
            check(&format!("{what} gpu"), fused, &want);
            check(&format!("{what} cpu"), cpu_fused, &want);
        }
    }
}

#[test]
fn fused_batch_norm_relu_matches_the_two_ops() {
    let mut r = rng(70);
    let shape = [3, 4, 5, 6];
    let x = data(&mut r, 3 * 4 * 5 * 6, -2.0, 2.0);
    let (gamma, beta) = (data(&mut r, 4, 0.5, 1.5), data(&mut r, 4, -0.5, 0.5));
    let (rm, rv) = (data(&mut r, 4, -0.5, 0.5), data(&mut r, 4, 0.5, 2.0));
    for d in [gpu(), cpu()] {
        let a = |v: &[f32], s: &[usize]| Array::from_slice(&d, v, s).unwrap();
        let (xa, g, b) = (a(&x, &shape), a(&gamma, &[4]), a(&beta, &[4]));
        let (m, v) = (a(&rm, &[4]), a(&rv, &[4]));
        let (y, z, _) = xa
            .batch_norm2d_train_relu(Some(&g), Some(&b), 1e-5)
            .unwrap();
        let (want, _) = xa.batch_norm2d_train(Some(&g), Some(&b), 1e-5).unwrap();
        let (ye, ze) = xa
            .batch_norm2d_eval_relu(Some(&g), Some(&b), &m, &v, 1e-5)
            .unwrap();
        let want_e = xa
            .batch_norm2d_eval(Some(&g), Some(&b), &m, &v, 1e-5)
            .unwrap();
        for (what, y, z, want) in [("train", y, z, want), ("eval", ye, ze, want_e)] {
            let what = format!("{} batch_norm2d_relu {what}", d.name());
            assert_close(&format!("{what}: y"), &y, &want, 1e-5, 1e-5);
            assert_close(
                &format!("{what}: relu"),
                &z,
                &want.relu().unwrap(),
                1e-5,
                1e-5,
            );
            assert!(y.to_vec().unwrap().iter().any(|&v| v < 0.0), "{what}");
        }
    }
}
