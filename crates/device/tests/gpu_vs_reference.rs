//! Every primitive op on the GPU (lavapipe in CI) against the CPU reference, on seeded random
//! shapes including awkward ones: size 1, primes, sizes that are not a multiple of the
//! workgroup, batch 1. Default tolerance: rtol 1e-5, atol 1e-5 (matmul scales with K).

mod common;

use common::*;
use fovea_device::MatmulKernel;
use fovea_device::{Array, Device, Error};
use rand::Rng;

const AWKWARD: &[usize] = &[1, 2, 3, 5, 7, 13, 31, 64, 257];

#[test]
fn adapter_is_a_real_gpu_backend() {
    let dev = gpu();
    println!("{}", dev.describe());
    assert!(!dev.is_cpu());
    assert!(dev.engine().is_some());
}

#[test]
fn creation_ops_match() {
    let (g, c) = (gpu(), Device::cpu());
    for shape in [vec![], vec![1], vec![257], vec![3, 5, 7]] {
        for v in [0.0, 1.0, -2.5] {
            assert_close(
                "full",
                &Array::full(&g, &shape, v).unwrap(),
                &Array::full(&c, &shape, v).unwrap(),
                0.0,
                0.0,
            );
        }
        assert_close(
            "zeros",
            &Array::zeros(&g, &shape).unwrap(),
            &Array::zeros(&c, &shape).unwrap(),
            0.0,
            0.0,
        );
        assert_close(
            "ones",
            &Array::ones(&g, &shape).unwrap(),
            &Array::ones(&c, &shape).unwrap(),
            0.0,
            0.0,
        );
    }
    for (s, e, st) in [
        (0.0, 10.0, 1.0),
        (-3.0, 4.5, 0.5),
        (5.0, -5.0, -1.5),
        (0.0, 1000.0, 1.0),
    ] {
        let (a, b) = (
            Array::arange(&g, s, e, st).unwrap(),
            Array::arange(&c, s, e, st).unwrap(),
        );
        assert_close("arange", &a, &b, 1e-6, 0.0);
    }
    let v: Vec<f32> = (0..1000).map(|i| i as f32 * 0.37 - 100.0).collect();
    let a = Array::from_slice(&g, &v, &[10, 100]).unwrap();
    assert_eq!(
        a.to_vec().unwrap(),
        v,
        "upload then download is the identity"
    );
    assert!(Array::from_slice(&g, &v, &[7, 7]).is_err());
    assert!(Array::arange(&g, 0.0, 1.0, 0.0).is_err());
}

#[test]
fn empty_arrays_round_trip() {
    let g = gpu();
    let e = Array::zeros(&g, &[0, 4]).unwrap();
    assert_eq!(e.to_vec().unwrap(), Vec::<f32>::new());
    assert_eq!(e.exp().unwrap().shape(), &[0, 4]);
}

#[test]
fn random_fill_is_identical_on_both_backends() {
    let (g, c) = (gpu(), Device::cpu());
    for (n, seed) in [(1usize, 0u64), (7, 1), (1000, 42), (4099, u64::MAX)] {
        let (a, b) = (
            Array::rand(&g, &[n], seed).unwrap(),
            Array::rand(&c, &[n], seed).unwrap(),
        );
        assert_close("rand", &a, &b, 0.0, 1e-7);
        let (a, b) = (
            Array::randn(&g, &[n], seed).unwrap(),
            Array::randn(&c, &[n], seed).unwrap(),
        );
        assert_close("randn", &a, &b, 1e-4, 1e-4);
        let (a, b) = (
            Array::uniform(&g, &[n], -3.0, 5.0, seed).unwrap(),
            Array::uniform(&c, &[n], -3.0, 5.0, seed).unwrap(),
        );
        assert_close("uniform", &a, &b, 1e-6, 1e-6);
    }
}

fn moments(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var)
}

#[test]
fn random_fill_has_the_right_distribution() {
    let g = gpu();
    let n = 200_000;
    // Standard errors at n = 2e5: mean of U(0,1) ~ 6.5e-4, of N(0,1) ~ 2.2e-3; bounds are ~5 SE.
    let u = Array::rand(&g, &[n], 3).unwrap().to_vec().unwrap();
    let (m, v) = moments(&u);
    assert!((m - 0.5).abs() < 3e-3, "uniform mean {m}");
    assert!((v - 1.0 / 12.0).abs() < 2e-3, "uniform variance {v}");
    assert!(
        u.iter().all(|&x| (0.0..1.0).contains(&x)),
        "uniform values stay in [0, 1)"
    );
    let z = Array::normal(&g, &[n], 2.0, 3.0, 4)
        .unwrap()
        .to_vec()
        .unwrap();
    let (m, v) = moments(&z);
    assert!((m - 2.0).abs() < 0.03, "normal mean {m}");
    assert!((v - 9.0).abs() < 0.15, "normal variance {v}");
    let within_1sd = z.iter().filter(|&&x| (x - 2.0).abs() < 3.0).count() as f64 / n as f64;
    assert!(
        (within_1sd - 0.6827).abs() < 0.01,
        "normal mass within one sd {within_1sd}"
    );
    let other = Array::rand(&g, &[n], 4).unwrap().to_vec().unwrap();
    assert_ne!(u, other, "different seeds give different streams");
    assert_eq!(
        u,
        Array::rand(&g, &[n], 3).unwrap().to_vec().unwrap(),
        "same seed, same stream"
    );
}

#[test]
fn unary_ops_match() {
    let mut r = rng(10);
    type F = fn(&Array) -> fovea_device::Result<Array>;
    let cases: [(&str, F, f32, f32); 8] = [
        ("neg", Array::neg, -5.0, 5.0),
        ("abs", Array::abs, -5.0, 5.0),
        ("exp", Array::exp, -20.0, 20.0),
        ("log", Array::log, 1e-3, 100.0),
        ("sqrt", Array::sqrt, 0.0, 100.0),
        ("tanh", Array::tanh, -30.0, 30.0),
        ("sigmoid", Array::sigmoid, -100.0, 100.0),
        ("relu", Array::relu, -5.0, 5.0),
    ];
    for (name, f, lo, hi) in cases {
        for rank in 0..4 {
            let s = shape(&mut r, rank, AWKWARD);
            let v = data(&mut r, s.iter().product(), lo, hi);
            let (a, b) = pair(&v, &s);
            assert_close(name, &f(&a).unwrap(), &f(&b).unwrap(), 2e-6, 2e-6);
        }
    }
    let v = data(&mut r, 999, -4.0, 4.0);
    let (a, b) = pair(&v, &[999]);
    for p in [2.0, 3.0, 0.5, -1.0, 0.0] {
        let (a, b) = if p == 0.5 {
            (a.abs().unwrap(), b.abs().unwrap())
        } else {
            (a.clone(), b.clone())
        };
        assert_close(
            &format!("powf {p}"),
            &a.powf(p).unwrap(),
            &b.powf(p).unwrap(),
            1e-5,
            1e-5,
        );
    }
    let (g, c) = (
        a.powf(0.5).unwrap().to_vec().unwrap(),
        b.powf(0.5).unwrap().to_vec().unwrap(),
    );
    for (x, (gv, cv)) in v.iter().zip(g.iter().zip(&c)) {
        assert_eq!(
            gv.is_nan(),
            *x < 0.0,
            "powf 0.5 of {x} is NaN exactly when the base is negative"
        );
        assert_eq!(cv.is_nan(), *x < 0.0);
    }
    assert_close(
        "add_scalar",
        &a.add_scalar(1.5).unwrap(),
        &b.add_scalar(1.5).unwrap(),
        0.0,
        0.0,
    );
    assert_close(
        "mul_scalar",
        &a.mul_scalar(-0.25).unwrap(),
        &b.mul_scalar(-0.25).unwrap(),
        0.0,
        0.0,
    );
}

fn broadcast_pairs(r: &mut rand::rngs::StdRng) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut out = vec![
        (vec![3, 1, 5], vec![4, 1]),
        (vec![], vec![7, 3]),
        (vec![1], vec![2, 257]),
        (vec![31, 7], vec![31, 7]),
        (vec![2, 1, 3, 1], vec![1, 5, 1, 13]),
        (vec![1, 1], vec![1]),
    ];
    for _ in 0..4 {
        let s = shape(r, 3, AWKWARD);
        let t: Vec<usize> = s
            .iter()
            .map(|&d| if r.random_bool(0.4) { 1 } else { d })
            .collect();
        out.push((s, t));
    }
    out
}

/// ReLU's gradient in one pass equals the two-pass `a * (b > 0)` it replaces, NaN and
/// broadcasting included, on the GPU and on the CPU.
#[test]
fn relu_grad_is_the_gradient_times_the_positive_mask() {
    let mut r = rng(12);
    for (sa, sb) in broadcast_pairs(&mut r) {
        let mut va = data(&mut r, sa.iter().product(), -2.0, 2.0);
        va[0] = f32::NAN;
        let vb = ints(&mut r, sb.iter().product(), -2, 3);
        let (ga, ca) = pair(&va, &sa);
        let (gb, cb) = pair(&vb, &sb);
        let what = format!("relu_grad {sa:?} {sb:?}");
        let zero = Array::scalar(&Device::cpu(), 0.0).unwrap();
        let want = ca.mul(&cb.gt(&zero).unwrap()).unwrap();
        assert_close(&what, &ca.relu_grad(&cb).unwrap(), &want, 0.0, 0.0);
        assert_close(&what, &ga.relu_grad(&gb).unwrap(), &want, 0.0, 0.0);
    }
}

#[test]
fn binary_ops_broadcast_and_match() {
    let mut r = rng(11);
    type F = fn(&Array, &Array) -> fovea_device::Result<Array>;
    let ops: [(&str, F); 12] = [
        ("add", Array::add),
        ("sub", Array::sub),
        ("mul", Array::mul),
        ("div", Array::div),
        ("maximum", Array::maximum),
        ("minimum", Array::minimum),
        ("eq", Array::eq),
        ("ne", Array::ne),
        ("lt", Array::lt),
        ("le", Array::le),
        ("gt", Array::gt),
        ("ge", Array::ge),
    ];
    for (sa, sb) in broadcast_pairs(&mut r) {
        // Small integers make ties, so the comparisons see equal operands too.
        let va = ints(&mut r, sa.iter().product(), -4, 5);
        let vb: Vec<f32> = ints(&mut r, sb.iter().product(), -4, 5)
            .iter()
            .map(|x| if *x == 0.0 { 0.5 } else { *x })
            .collect();
        let (ga, ca) = pair(&va, &sa);
        let (gb, cb) = pair(&vb, &sb);
        for (name, f) in ops {
            let what = format!("{name} {sa:?} {sb:?}");
            assert_close(
                &what,
                &f(&ga, &gb).unwrap(),
                &f(&ca, &cb).unwrap(),
                1e-6,
                0.0,
            );
            assert_close(
                &what,
                &f(&gb, &ga).unwrap(),
                &f(&cb, &ca).unwrap(),
                1e-6,
                0.0,
            );
        }
    }
    let (a, _) = pair(&[f32::NAN, 1.0, 2.0], &[3]);
    let (b, _) = pair(&[0.0, f32::NAN, 1.0], &[3]);
    let m = a.maximum(&b).unwrap().to_vec().unwrap();
    assert!(
        m[0].is_nan() && m[1].is_nan() && m[2] == 2.0,
        "maximum propagates NaN: {m:?}"
    );
}

#[test]
fn binary_shape_errors_name_the_op_and_shapes() {
    let g = gpu();
    let a = Array::zeros(&g, &[2, 3]).unwrap();
    let b = Array::zeros(&g, &[4]).unwrap();
    let e = a.add(&b).unwrap_err().to_string();
    assert!(
        e.contains("add") && e.contains("[2, 3]") && e.contains("[4]"),
        "{e}"
    );
    let c = Array::zeros(&Device::cpu(), &[2, 3]).unwrap();
    assert!(matches!(a.mul(&c), Err(Error::DeviceMismatch { .. })));
}

#[test]
fn where_selects_with_broadcasting() {
    let mut r = rng(12);
    for (sa, sb) in broadcast_pairs(&mut r) {
        let sc = vec![1; sa.len().max(sb.len())];
        let cond = ints(&mut r, sa.iter().product(), 0, 2);
        let (gc, cc) = pair(&cond, &sa);
        let va = data(&mut r, sb.iter().product(), -1.0, 1.0);
        let (ga, ca) = pair(&va, &sb);
        let (gb, cb) = pair(&[7.0], &sc);
        let got = Array::where_(&gc, &ga, &gb).unwrap();
        assert_close(
            "where",
            &got,
            &Array::where_(&cc, &ca, &cb).unwrap(),
            0.0,
            0.0,
        );
    }
}

#[test]
fn reductions_match_over_any_axes() {
    let mut r = rng(13);
    for trial in 0..24 {
        let rank = 1 + trial % 4;
        let s = shape(&mut r, rank, AWKWARD);
        let n: usize = s.iter().product();
        if n > 300_000 {
            continue;
        }
        let v = ints(&mut r, n, -50, 50)
            .iter()
            .map(|x| x * 0.25)
            .collect::<Vec<_>>();
        let (g, c) = pair(&v, &s);
        let mut axes: Vec<isize> = (0..rank as isize).filter(|_| r.random_bool(0.5)).collect();
        if trial % 5 == 0 {
            axes.clear(); // all axes
        }
        if trial % 3 == 0 && !axes.is_empty() {
            axes[0] -= rank as isize; // negative spelling
        }
        let keep = trial % 2 == 0;
        let what = |op: &str| format!("{op} over {axes:?} of {s:?}, keepdim {keep}");
        let len: usize = if axes.is_empty() {
            n
        } else {
            axes.iter()
                .map(|&a| s[a.rem_euclid(rank as isize) as usize])
                .product()
        };
        let tol = 1e-6 * len as f32;
        assert_close(
            &what("sum"),
            &g.sum(&axes, keep).unwrap(),
            &c.sum(&axes, keep).unwrap(),
            tol,
            tol,
        );
        assert_close(
            &what("mean"),
            &g.mean(&axes, keep).unwrap(),
            &c.mean(&axes, keep).unwrap(),
            1e-5,
            1e-5,
        );
        assert_close(
            &what("max"),
            &g.max(&axes, keep).unwrap(),
            &c.max(&axes, keep).unwrap(),
            0.0,
            0.0,
        );
        assert_close(
            &what("min"),
            &g.min(&axes, keep).unwrap(),
            &c.min(&axes, keep).unwrap(),
            0.0,
            0.0,
        );
        let ax = r.random_range(0..rank) as isize;
        let what = |op: &str| format!("{op} along {ax} of {s:?}");
        assert_close(
            &what("argmax"),
            &g.argmax(ax, keep).unwrap(),
            &c.argmax(ax, keep).unwrap(),
            0.0,
            0.0,
        );
        assert_close(
            &what("argmin"),
            &g.argmin(ax, keep).unwrap(),
            &c.argmin(ax, keep).unwrap(),
            0.0,
            0.0,
        );
    }
}

#[test]
fn long_reductions_use_the_workgroup_path() {
    let mut r = rng(14);
    for s in [
        vec![3, 4099],
        vec![1, 100_003],
        vec![5000, 3],
        vec![2, 1000, 7],
    ] {
        let v = data(&mut r, s.iter().product(), -1.0, 1.0);
        let (g, c) = pair(&v, &s);
        for ax in 0..s.len() as isize {
            let tol = 2e-6 * s[ax as usize] as f32;
            assert_close(
                "long sum",
                &g.sum(&[ax], false).unwrap(),
                &c.sum(&[ax], false).unwrap(),
                tol,
                tol,
            );
            assert_close(
                "long max",
                &g.max(&[ax], false).unwrap(),
                &c.max(&[ax], false).unwrap(),
                0.0,
                0.0,
            );
            assert_close(
                "long argmax",
                &g.argmax(ax, false).unwrap(),
                &c.argmax(ax, false).unwrap(),
                0.0,
                0.0,
            );
        }
    }
}

#[test]
fn argmax_returns_the_first_of_ties() {
    let (g, _) = pair(&[1.0, 3.0, 3.0, 0.0, 3.0], &[5]);
    assert_eq!(g.argmax(0, false).unwrap().to_vec().unwrap(), vec![1.0]);
    let v: Vec<f32> = (0..1000)
        .map(|i| if i % 300 == 299 { 9.0 } else { 0.0 })
        .collect();
    let (g, c) = pair(&v, &[1000]);
    assert_eq!(g.argmax(0, false).unwrap().to_vec().unwrap(), vec![299.0]);
    assert_eq!(c.argmax(0, false).unwrap().to_vec().unwrap(), vec![299.0]);
}

#[test]
fn empty_reductions_are_refused() {
    let g = gpu();
    let a = Array::zeros(&g, &[3, 0]).unwrap();
    for res in [
        a.sum(&[1], false),
        a.max(&[1], false),
        a.argmax(1, false),
        a.mean(&[], false),
    ] {
        let e = res.unwrap_err().to_string();
        assert!(e.contains("empty axis") && e.contains("[3, 0]"), "{e}");
    }
    assert!(
        Array::zeros(&g, &[2, 2]).unwrap().sum(&[2], false).is_err(),
        "axis out of range"
    );
}

#[test]
fn softmax_is_stable_and_matches() {
    let mut r = rng(15);
    for (s, scale) in [
        (vec![4, 10], 1.0),
        (vec![3, 7, 5], 100.0),
        (vec![1, 1000], 30.0),
        (vec![2, 3], 1000.0),
    ] {
        let v = data(&mut r, s.iter().product(), -scale, scale);
        let (g, c) = pair(&v, &s);
        for ax in -(s.len() as isize)..0 {
            let sm = g.softmax(ax).unwrap();
            assert_close("softmax", &sm, &c.softmax(ax).unwrap(), 1e-5, 1e-6);
            assert_close(
                "log_softmax",
                &g.log_softmax(ax).unwrap(),
                &c.log_softmax(ax).unwrap(),
                1e-5,
                1e-4,
            );
            let total = sm.sum(&[ax], false).unwrap().to_vec().unwrap();
            assert!(
                total.iter().all(|t| (t - 1.0).abs() < 1e-5),
                "softmax sums to 1: {total:?}"
            );
            assert!(
                sm.to_vec().unwrap().iter().all(|x| x.is_finite()),
                "no overflow at scale {scale}"
            );
        }
    }
}

/// A device per GEMM core variant: the plain one, and the subgroup one where the adapter
/// has it.
fn matmul_devices() -> Vec<(MatmulKernel, Device)> {
    let mut kernels = vec![MatmulKernel::Tiled];
    kernels.extend(gpu().engine().unwrap().subgroup_matmul());
    kernels
        .into_iter()
        .map(|k| {
            let options = fovea_device::GpuOptions {
                matmul: Some(k),
                ..Default::default()
            };
            (k, gpu_with(options))
        })
        .collect()
}

#[test]
fn matmul_matches_on_awkward_shapes() {
    for (kernel, dev) in matmul_devices() {
        matmul_awkward(&dev, kernel);
    }
}

fn matmul_awkward(dev: &Device, kernel: MatmulKernel) {
    let mut r = rng(16);
    // Several workgroups along both axes of C, with partial tiles at every edge.
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let (m, k, n) = (263, 41, 290);
        let a_shape = if ta { [2, k, m] } else { [2, m, k] };
        let b_shape = if tb { [2, n, k] } else { [2, k, n] };
        let (ga, ca) = pair_on(dev, &data(&mut r, 2 * m * k, -1.0, 1.0), &a_shape);
        let (gb, cb) = pair_on(dev, &data(&mut r, 2 * k * n, -1.0, 1.0), &b_shape);
        let what = format!("{kernel:?} matmul {m}x{k}x{n} trans ({ta}, {tb})");
        assert_close(
            &what,
            &ga.matmul_t(&gb, ta, tb).unwrap(),
            &ca.matmul_t(&cb, ta, tb).unwrap(),
            1e-5,
            1e-4,
        );
    }
    let sizes = [1, 2, 3, 7, 16, 17, 63, 64, 65, 129];
    for trial in 0..30 {
        let (m, k, n) = (
            sizes[r.random_range(0..10)],
            sizes[r.random_range(0..10)],
            sizes[r.random_range(0..10)],
        );
        let (ta, tb) = (trial % 2 == 1, trial % 4 >= 2);
        let batch = [1, 1, 2, 3][trial % 4];
        let a_shape = if ta {
            vec![batch, k, m]
        } else {
            vec![batch, m, k]
        };
        let b_shape = if tb {
            vec![batch, n, k]
        } else {
            vec![batch, k, n]
        };
        let (ga, ca) = pair_on(
            dev,
            &data(&mut r, a_shape.iter().product(), -1.0, 1.0),
            &a_shape,
        );
        let (gb, cb) = pair_on(
            dev,
            &data(&mut r, b_shape.iter().product(), -1.0, 1.0),
            &b_shape,
        );
        let what = format!("{kernel:?} matmul {m}x{k}x{n} batch {batch} trans ({ta}, {tb})");
        let tol = 1e-6 * k as f32 + 1e-6;
        assert_close(
            &what,
            &ga.matmul_t(&gb, ta, tb).unwrap(),
            &ca.matmul_t(&cb, ta, tb).unwrap(),
            1e-5,
            tol,
        );
    }
}

#[test]
fn matmul_broadcasts_one_matrix_and_vectors() {
    let mut r = rng(17);
    let (ga, ca) = pair(&data(&mut r, 4 * 5 * 6, -1.0, 1.0), &[4, 5, 6]);
    let (gw, cw) = pair(&data(&mut r, 6 * 3, -1.0, 1.0), &[6, 3]);
    let got = ga.matmul(&gw).unwrap();
    assert_eq!(got.shape(), &[4, 5, 3]);
    assert_close(
        "batched x matrix",
        &got,
        &ca.matmul(&cw).unwrap(),
        1e-5,
        1e-5,
    );
    let (gv, cv) = pair(&data(&mut r, 6, -1.0, 1.0), &[6]);
    let got = ga.matmul(&gv).unwrap();
    assert_eq!(got.shape(), &[4, 5]);
    assert_close(
        "batched x vector",
        &got,
        &ca.matmul(&cv).unwrap(),
        1e-5,
        1e-5,
    );
    let (gu, cu) = pair(&data(&mut r, 5, -1.0, 1.0), &[5]);
    let got = gu.matmul(&ga).unwrap();
    assert_eq!(got.shape(), &[4, 6]);
    assert_close(
        "vector x batched",
        &got,
        &cu.matmul(&ca).unwrap(),
        1e-5,
        1e-5,
    );
    let e = ga
        .matmul(&gv.reshape(&[2, 3]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("matmul") && e.contains("[4, 5, 6]") && e.contains("[2, 3]"),
        "{e}"
    );
}

#[test]
fn permute_and_transpose_match() {
    let mut r = rng(18);
    for rank in 1..=5 {
        let s = shape(&mut r, rank, &[1, 2, 3, 5, 7]);
        let (g, c) = pair(&data(&mut r, s.iter().product(), -1.0, 1.0), &s);
        let mut perm: Vec<usize> = (0..rank).collect();
        for i in (1..rank).rev() {
            perm.swap(i, r.random_range(0..=i));
        }
        assert_close(
            "permute",
            &g.permute(&perm).unwrap(),
            &c.permute(&perm).unwrap(),
            0.0,
            0.0,
        );
        assert_close(
            "transpose",
            &g.transpose(0, -1).unwrap(),
            &c.transpose(0, -1).unwrap(),
            0.0,
            0.0,
        );
    }
    let (g, _) = pair(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert_eq!(
        g.transpose(0, 1).unwrap().to_vec().unwrap(),
        vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    );
    assert!(g.permute(&[0, 0]).is_err());
}

#[test]
fn slice_concat_pad_match() {
    let mut r = rng(19);
    for rank in 1..=4 {
        let s = shape(&mut r, rank, &[1, 3, 5, 8, 13]);
        let (g, c) = pair(&data(&mut r, s.iter().product(), -1.0, 1.0), &s);
        let ax = r.random_range(0..rank);
        let len = s[ax];
        let start = r.random_range(0..len);
        let end = r.random_range(start..=len);
        let step = r.random_range(1..4);
        let what = format!("slice {s:?} axis {ax} {start}..{end} step {step}");
        assert_close(
            &what,
            &g.slice(ax as isize, start, end, step).unwrap(),
            &c.slice(ax as isize, start, end, step).unwrap(),
            0.0,
            0.0,
        );

        let mut s2 = s.clone();
        s2[ax] = 1 + r.random_range(0..4);
        let (g2, c2) = pair(&data(&mut r, s2.iter().product(), -1.0, 1.0), &s2);
        let cat_g = Array::concat(&[&g, &g2, &g], ax as isize).unwrap();
        assert_close(
            "concat",
            &cat_g,
            &Array::concat(&[&c, &c2, &c], ax as isize).unwrap(),
            0.0,
            0.0,
        );
        assert_eq!(cat_g.shape()[ax], 2 * s[ax] + s2[ax]);

        let pads: Vec<(usize, usize)> = (0..rank)
            .map(|_| (r.random_range(0..3), r.random_range(0..3)))
            .collect();
        assert_close(
            "pad",
            &g.pad(&pads, -9.0).unwrap(),
            &c.pad(&pads, -9.0).unwrap(),
            0.0,
            0.0,
        );
    }
    let (g, _) = pair(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5]);
    assert_eq!(
        g.slice(0, 1, 5, 2).unwrap().to_vec().unwrap(),
        vec![2.0, 4.0]
    );
    assert_eq!(
        g.pad(&[(1, 2)], 0.0).unwrap().to_vec().unwrap(),
        vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0]
    );
    assert!(g
        .slice(0, 2, 9, 1)
        .unwrap_err()
        .to_string()
        .contains("does not fit"));
    let other = Array::zeros(&gpu(), &[2, 2]).unwrap();
    assert!(Array::concat(&[&g, &other], 0).is_err());
}

#[test]
fn pool_reuses_freed_buffers_and_batches_dispatches() {
    let g = gpu();
    let engine = g.engine().unwrap();
    let x = Array::rand(&g, &[1000], 1).unwrap();
    // A chain of ops is only recorded; the read at the end submits it.
    let mut y = x.clone();
    for _ in 0..200 {
        y = y.mul_scalar(1.001).unwrap().add_scalar(-0.0005).unwrap();
    }
    let before = engine.pool_stats();
    let mut z = x.clone();
    for _ in 0..50 {
        z = z.add_scalar(1.0).unwrap();
    }
    let after = engine.pool_stats();
    assert!(
        after.reused >= before.reused + 45,
        "freed buffers are reused: {before:?} -> {after:?}"
    );
    let (yv, zv, xv) = (
        y.to_vec().unwrap(),
        z.to_vec().unwrap(),
        x.to_vec().unwrap(),
    );
    let mut want = xv.clone();
    for _ in 0..200 {
        want.iter_mut().for_each(|v| *v = *v * 1.001 - 0.0005);
    }
    for i in 0..1000 {
        assert!(
            (yv[i] - want[i]).abs() < 1e-4,
            "chained op {i}: {} vs {}",
            yv[i],
            want[i]
        );
        assert!((zv[i] - (xv[i] + 50.0)).abs() < 1e-4);
    }
}

#[test]
fn async_readback_works_through_pollster() {
    let g = gpu();
    let a = Array::arange(&g, 0.0, 10.0, 1.0).unwrap();
    let v = pollster::block_on(a.to_vec_async()).unwrap();
    assert_eq!(v, (0..10).map(|i| i as f32).collect::<Vec<_>>());
}

/// Regression: llvmpipe (lavapipe) ends a shader's loops once they have run 65535
/// iterations in all, silently, so a narrow workgroup walking a long K summed it short
/// (2 x 8192 x 64 and 2 x 25088 x 1337 came out short). K is now split into ranges each
/// workgroup can walk; the batched case has enough tiles that only that limit splits it.
#[test]
fn thin_matmuls_with_a_long_k_match_reference() {
    let mut r = rng(90);
    for (m, k, n) in [
        (2, 8192, 64),
        (1, 9000, 5),
        (2, 4096, 64),
        (3, 4096, 17),
        (2, 25088, 300),
        (1, 70_000, 3),
    ] {
        let (ag, ac) = pair(&data(&mut r, m * k, 0.0, 1.0), &[m, k]);
        let (bg, bc) = pair(&data(&mut r, k * n, 0.0, 1.0), &[k, n]);
        let what = format!("{m}x{k}x{n}");
        assert_close(
            &what,
            &ag.matmul(&bg).unwrap(),
            &ac.matmul(&bc).unwrap(),
            1e-4,
            1e-3,
        );
    }
    let (ag, ac) = pair(&data(&mut r, 16 * 2 * 8192, 0.0, 1.0), &[16, 2, 8192]);
    let (bg, bc) = pair(&data(&mut r, 16 * 8192 * 64, 0.0, 1.0), &[16, 8192, 64]);
    assert_close(
        "16 x (2x8192x64)",
        &ag.matmul(&bg).unwrap(),
        &ac.matmul(&bc).unwrap(),
        1e-4,
        1e-3,
    );
}

/// Zeros are a buffer clear, not a kernel: they must still zero a recycled buffer that held
/// other values, over the whole length.
#[test]
fn zeros_clear_a_recycled_buffer() {
    let g = gpu();
    for len in [1, 3, 1000, 4097] {
        drop(Array::full(&g, &[len], 7.5).unwrap().to_vec().unwrap());
        let z = Array::zeros(&g, &[len]).unwrap().to_vec().unwrap();
        assert!(z.iter().all(|&v| v.to_bits() == 0), "zeros of {len}: {z:?}");
    }
}
