//! conv2d forward, gradient w.r.t. input and w.r.t. weight: GPU against the CPU reference on
//! random geometries, the reference against PyTorch's fixtures, and finite differences.

mod common;

use common::*;
use fovea_device::{Array, Conv2dOptions, Device};
use rand::Rng;

struct Case {
    x: Vec<usize>,
    w: Vec<usize>,
    opts: Conv2dOptions,
}

fn cases() -> Vec<Case> {
    let c = |x: [usize; 4], w: [usize; 4], stride, pad, dil, groups| Case {
        x: x.to_vec(),
        w: w.to_vec(),
        opts: Conv2dOptions::new(stride, pad, dil).groups(groups),
    };
    let mut out = vec![
        c([1, 1, 28, 28], [32, 1, 5, 5], 1, 0, 1, 1), // the course's first layer, batch 1
        c([2, 3, 9, 11], [5, 3, 3, 3], 1, 1, 1, 1),
        c([3, 4, 7, 7], [6, 4, 3, 3], 2, 1, 1, 1), // stride 2
        c([2, 3, 13, 10], [4, 3, 3, 3], 1, 2, 2, 1), // dilation 2
        c([2, 6, 8, 9], [9, 2, 3, 3], 1, 1, 1, 3), // groups 3
        c([1, 8, 5, 5], [8, 1, 3, 3], 1, 1, 1, 8), // depthwise
        c([2, 5, 6, 7], [7, 5, 1, 1], 1, 0, 1, 1), // 1x1
        c([1, 3, 17, 15], [4, 3, 7, 7], 2, 3, 1, 1), // 7x7 stride 2, as a ResNet stem
        c([1, 130, 3, 3], [131, 130, 1, 1], 1, 0, 1, 1), // channels past one tile
        // past the subgroup GEMM core's 256-row tile in every direction (that core runs
        // where the adapter has fixed-size subgroups, as lavapipe does)
        c([1, 257, 4, 4], [258, 257, 3, 3], 1, 1, 1, 1),
    ];
    let mut r = rng(40);
    for _ in 0..6 {
        let groups = [1, 1, 2, 3][r.random_range(0..4)];
        let cin = groups * r.random_range(1..4);
        let cout = groups * r.random_range(1..4);
        let (k, stride, dil) = (
            r.random_range(1..5),
            r.random_range(1..3),
            r.random_range(1..3),
        );
        let pad = r.random_range(0..k);
        let span = dil * (k - 1) + 1;
        let (h, w) = (span + r.random_range(0..9), span + r.random_range(0..9));
        out.push(c(
            [r.random_range(1..4), cin, h, w],
            [cout, cin / groups, k, k],
            stride,
            pad,
            dil,
            groups,
        ));
    }
    out
}

/// The GPU's ways of computing a convolution: im2col + matmul over the whole batch, im2col
/// over chunks of images (forced by a small workspace), and the implicit-GEMM kernels. Each
/// is a device of its own, opened with those options.

#[test]
fn conv2d_gpu_matches_reference_in_all_three_directions() {
    for (variant, dev) in conv_variants() {
        compare_all(&dev, &variant);
    }
}

fn compare_all(dev: &Device, variant: &str) {
    let mut r = rng(41);
    for case in cases() {
        let geom = case.opts.geometry(&case.x, &case.w).unwrap();
        let y_shape = [geom.n, geom.c_out, geom.oh, geom.ow];
        let (gx, cx) = pair_on(
            dev,
            &data(&mut r, case.x.iter().product(), -1.0, 1.0),
            &case.x,
        );
        let (gw, cw) = pair_on(
            dev,
            &data(&mut r, case.w.iter().product(), -1.0, 1.0),
            &case.w,
        );
        let (gb, cb) = pair_on(dev, &data(&mut r, case.w[0], -1.0, 1.0), &[case.w[0]]);
        let (gdy, cdy) = pair_on(
            dev,
            &data(&mut r, y_shape.iter().product(), -1.0, 1.0),
            &y_shape,
        );
        let what = format!("{variant}: x {:?} w {:?} {:?}", case.x, case.w, case.opts);
        let taps = (geom.c_in / geom.groups * geom.kh * geom.kw) as f32;
        let tol = 2e-6 * taps + 1e-5;
        let y = gx.conv2d(&gw, Some(&gb), case.opts).unwrap();
        assert_close(
            &format!("forward {what}"),
            &y,
            &cx.conv2d(&cw, Some(&cb), case.opts).unwrap(),
            1e-5,
            tol,
        );
        let y0 = gx.conv2d(&gw, None, case.opts).unwrap();
        assert_close(
            &format!("forward, no bias, {what}"),
            &y0,
            &cx.conv2d(&cw, None, case.opts).unwrap(),
            1e-5,
            tol,
        );
        let dx = Array::conv2d_backward_data(&gdy, &gw, &case.x, case.opts).unwrap();
        let want = Array::conv2d_backward_data(&cdy, &cw, &case.x, case.opts).unwrap();
        assert_close(&format!("backward data {what}"), &dx, &want, 1e-5, tol);
        let dw = Array::conv2d_backward_weight(&gx, &gdy, &case.w, case.opts).unwrap();
        let want = Array::conv2d_backward_weight(&cx, &cdy, &case.w, case.opts).unwrap();
        let tol = 2e-6 * (geom.n * geom.oh * geom.ow) as f32 + 1e-5;
        assert_close(&format!("backward weight {what}"), &dw, &want, 1e-5, tol);
    }
}

/// Central differences of `f(x, w, b) = sum(conv2d(x, w, b) * r)` on the reference backend.
#[test]
fn conv2d_gradients_match_finite_differences() {
    let cpu = Device::cpu();
    let mut r = rng(42);
    for case in [&cases()[2], &cases()[3], &cases()[4]] {
        let geom = case.opts.geometry(&case.x, &case.w).unwrap();
        let y_shape = [geom.n, geom.c_out, geom.oh, geom.ow];
        let xv = data(&mut r, case.x.iter().product(), -1.0, 1.0);
        let wv = data(&mut r, case.w.iter().product(), -1.0, 1.0);
        let rv = data(&mut r, y_shape.iter().product(), -1.0, 1.0);
        let arr = |v: &[f32], s: &[usize]| Array::from_slice(&cpu, v, s).unwrap();
        let f = |xv: &[f32], wv: &[f32]| -> f64 {
            let y = arr(xv, &case.x)
                .conv2d(&arr(wv, &case.w), None, case.opts)
                .unwrap()
                .to_vec()
                .unwrap();
            y.iter().zip(&rv).map(|(a, b)| *a as f64 * *b as f64).sum()
        };
        let dy = arr(&rv, &y_shape);
        let gx = Array::conv2d_backward_data(&dy, &arr(&wv, &case.w), &case.x, case.opts)
            .unwrap()
            .to_vec()
            .unwrap();
        let gw = Array::conv2d_backward_weight(&arr(&xv, &case.x), &dy, &case.w, case.opts)
            .unwrap()
            .to_vec()
            .unwrap();
        let eps = 1e-2f32;
        for i in (0..xv.len()).step_by(7) {
            let (mut p, mut m) = (xv.clone(), xv.clone());
            p[i] += eps;
            m[i] -= eps;
            let num = (f(&p, &wv) - f(&m, &wv)) / (2.0 * eps as f64);
            assert!(
                (num - gx[i] as f64).abs() < 2e-3,
                "d/dx[{i}]: numeric {num} analytic {}",
                gx[i]
            );
        }
        for i in (0..wv.len()).step_by(3) {
            let (mut p, mut m) = (wv.clone(), wv.clone());
            p[i] += eps;
            m[i] -= eps;
            let num = (f(&xv, &p) - f(&xv, &m)) / (2.0 * eps as f64);
            assert!(
                (num - gw[i] as f64).abs() < 2e-3,
                "d/dw[{i}]: numeric {num} analytic {}",
                gw[i]
            );
        }
    }
}

#[test]
fn conv2d_shape_errors_say_what_to_fix() {
    let g = gpu();
    let x = Array::zeros(&g, &[1, 3, 4, 4]).unwrap();
    let e = x
        .conv2d(
            &Array::zeros(&g, &[8, 2, 3, 3]).unwrap(),
            None,
            Conv2dOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv2d") && e.contains("[1, 3, 4, 4]") && e.contains("[8, 2, 3, 3]"),
        "{e}"
    );
    let e = x
        .conv2d(
            &Array::zeros(&g, &[8, 3, 5, 5]).unwrap(),
            None,
            Conv2dOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not fit"), "{e}");
    let w = Array::zeros(&g, &[8, 3, 3, 3]).unwrap();
    let e = x
        .conv2d(
            &w,
            Some(&Array::zeros(&g, &[7]).unwrap()),
            Conv2dOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("bias") && e.contains("[8]"), "{e}");
}
