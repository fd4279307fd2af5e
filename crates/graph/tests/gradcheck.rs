//! Finite-difference gradient checks through the tape for every differentiable op, on the CPU
//! reference: the analytic gradient of `sum(f(inputs) * w)` (random fixed `w`) w.r.t. every
//! input against central differences. The same analytic gradients computed on the GPU must
//! match the CPU's. Inputs avoid kinks (ReLU and |x| at 0, ties in max).

use fovea_graph::{
    cross_entropy, mse_loss, nll_loss, no_grad, Array, BatchNormArgs, Conv2dOptions,
    CrossEntropyOptions, Device, Pool2dOptions, Reduction, Result, Tensor,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

type Inputs = Vec<(Vec<usize>, Vec<f32>)>;

fn gpu() -> Device {
    Device::gpu().expect("a Vulkan adapter (install mesa-vulkan-drivers)")
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Values in `[lo, hi)` whose magnitude is at least `gap` (away from kinks at 0).
fn vals(r: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|_| loop {
            let v = r.random_range(lo..hi);
            if v.abs() > 0.05 {
                break v;
            }
        })
        .collect()
}

/// `n` distinct values spaced 0.1 apart, shuffled (no ties for max).
fn distinct(r: &mut StdRng, n: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n)
        .map(|i| (i as f32 - n as f32 / 2.0) * 0.1 + 0.05)
        .collect();
    v.shuffle(r);
    v
}

fn input(shape: &[usize], data: Vec<f32>) -> (Vec<usize>, Vec<f32>) {
    (shape.to_vec(), data)
}

fn tensors(dev: &Device, inputs: &Inputs) -> Vec<Tensor> {
    inputs
        .iter()
        .map(|(s, d)| Tensor::param(Array::from_slice(dev, d, s).unwrap()))
        .collect()
}

/// `sum(f(xs) * w)` as an f64 on the host.
fn objective(f: &dyn Fn(&[Tensor]) -> Result<Tensor>, xs: &[Tensor], w: &[f32]) -> f64 {
    let y = f(xs).unwrap().to_vec().unwrap();
    y.iter().zip(w).map(|(a, b)| *a as f64 * *b as f64).sum()
}

fn analytic(
    dev: &Device,
    inputs: &Inputs,
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    w: &[f32],
) -> Vec<Vec<f32>> {
    let xs = tensors(dev, inputs);
    let y = f(&xs).unwrap();
    let wt = Tensor::new(Array::from_slice(dev, w, y.shape()).unwrap());
    y.mul(&wt)
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    xs.iter()
        .map(|x| {
            x.grad()
                .expect("every input gets a gradient")
                .to_vec()
                .unwrap()
        })
        .collect()
}

fn check(name: &str, inputs: Inputs, eps: f32, f: impl Fn(&[Tensor]) -> Result<Tensor>) {
    let cpu = Device::cpu();
    let n_out = f(&tensors(&cpu, &inputs)).unwrap().numel();
    let mut r = rng(n_out as u64);
    let w: Vec<f32> = (0..n_out).map(|_| r.random_range(-1.0..1.0)).collect();
    let grads = analytic(&cpu, &inputs, &f, &w);
    for (i, (shape, data)) in inputs.iter().enumerate() {
        let scale = grads[i].iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for j in 0..data.len() {
            let at = |delta: f32| {
                let mut moved = inputs.clone();
                moved[i].1[j] = data[j] + delta;
                let xs = tensors(&cpu, &moved);
                no_grad(|| objective(&f, &xs, &w))
            };
            let numeric = ((at(eps) - at(-eps)) / (2.0 * eps as f64)) as f32;
            let got = grads[i][j];
            assert!(
                (numeric - got).abs() <= 5e-3 * scale,
                "{name}: input {i} {shape:?} element {j}: tape gives {got}, finite differences {numeric}"
            );
        }
    }
    let on_gpu = analytic(&gpu(), &inputs, &f, &w);
    for (i, (g, c)) in on_gpu.iter().zip(&grads).enumerate() {
        let scale = c.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let worst = g
            .iter()
            .zip(c)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            worst <= 1e-4 * scale,
            "{name}: input {i}: GPU and CPU gradients differ by {worst}"
        );
    }
}

#[test]
fn unary_ops() {
    let mut r = rng(1);
    let x = vals(&mut r, 12, -2.0, 2.0);
    let pos: Vec<f32> = vals(&mut r, 12, 0.3, 3.0);
    let s = [3, 4];
    check("neg", vec![input(&s, x.clone())], 1e-2, |t| t[0].neg());
    check("abs", vec![input(&s, x.clone())], 1e-2, |t| t[0].abs());
    check("exp", vec![input(&s, x.clone())], 1e-3, |t| t[0].exp());
    check("log", vec![input(&s, pos.clone())], 1e-3, |t| t[0].log());
    check("sqrt", vec![input(&s, pos.clone())], 1e-3, |t| t[0].sqrt());
    check("tanh", vec![input(&s, x.clone())], 1e-2, |t| t[0].tanh());
    check("sigmoid", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].sigmoid()
    });
    check("relu", vec![input(&s, x.clone())], 1e-2, |t| t[0].relu());
    check("powf", vec![input(&s, pos.clone())], 1e-3, |t| {
        t[0].powf(2.5)
    });
    check("add_scalar", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].add_scalar(0.7)
    });
    check("mul_scalar", vec![input(&s, x)], 1e-2, |t| {
        t[0].mul_scalar(-1.5)
    });
}

#[test]
fn binary_ops_with_broadcasting() {
    let mut r = rng(2);
    let a = vals(&mut r, 24, -2.0, 2.0);
    let b = vals(&mut r, 4, 0.5, 2.0);
    let (sa, sb) = ([2, 3, 4], [1, 4]);
    check(
        "add",
        vec![input(&sa, a.clone()), input(&sb, b.clone())],
        1e-2,
        |t| t[0].add(&t[1]),
    );
    check(
        "sub",
        vec![input(&sa, a.clone()), input(&sb, b.clone())],
        1e-2,
        |t| t[0].sub(&t[1]),
    );
    check(
        "mul",
        vec![input(&sa, a.clone()), input(&sb, b.clone())],
        1e-2,
        |t| t[0].mul(&t[1]),
    );
    check(
        "div",
        vec![input(&sa, a.clone()), input(&sb, b.clone())],
        1e-3,
        |t| t[0].div(&t[1]),
    );
    let c: Vec<f32> = a
        .iter()
        .map(|v| v + if v.abs() < 1.0 { 0.5 } else { -0.5 })
        .collect();
    check(
        "maximum",
        vec![input(&sa, a.clone()), input(&sa, c.clone())],
        1e-2,
        |t| t[0].maximum(&t[1]),
    );
    check(
        "minimum",
        vec![input(&sa, a.clone()), input(&sa, c)],
        1e-2,
        |t| t[0].minimum(&t[1]),
    );
    let cond: Vec<f32> = (0..24).map(|i| (i % 3 == 0) as u8 as f32).collect();
    check(
        "where",
        vec![input(&sa, a), input(&sb, b)],
        1e-2,
        move |t| {
            let c = Tensor::new(Array::from_slice(&t[0].device(), &cond, &[2, 3, 4])?);
            Tensor::where_(&c, &t[0], &t[1])
        },
    );
}

#[test]
fn reductions_and_softmax() {
    let mut r = rng(3);
    let x = distinct(&mut r, 24);
    let s = [2, 3, 4];
    check("sum", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].sum(&[1], false)
    });
    check("sum all", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].sum(&[], true)
    });
    check("mean", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].mean(&[0, 2], true)
    });
    check("max", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].max(&[2], false)
    });
    check("min", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].min(&[0, 1], false)
    });
    check("softmax", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].softmax(-1)
    });
    check("log_softmax", vec![input(&s, x)], 1e-2, |t| {
        t[0].log_softmax(1)
    });
}

#[test]
fn shape_ops() {
    let mut r = rng(4);
    let x = vals(&mut r, 24, -2.0, 2.0);
    let y = vals(&mut r, 12, -2.0, 2.0);
    let s = [2, 3, 4];
    check("reshape", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].reshape(&[4, 6])
    });
    check("flatten", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].flatten(1, -1)
    });
    check("permute", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].permute(&[2, 0, 1])
    });
    check("transpose", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].transpose(0, 2)
    });
    check("slice", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].slice(2, 1, 4, 2)
    });
    check("pad", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].pad(&[(0, 0), (1, 2), (2, 0)], 0.5)
    });
    check(
        "concat",
        vec![input(&s, x), input(&[2, 3, 2], y)],
        1e-2,
        |t| Tensor::concat(&[&t[0], &t[1]], 2),
    );
}

#[test]
fn matmul_shapes() {
    let mut r = rng(5);
    let mut m = |n| vals(&mut r, n, -1.5, 1.5);
    check(
        "matmul 2-D",
        vec![input(&[3, 4], m(12)), input(&[4, 5], m(20))],
        1e-2,
        |t| t[0].matmul(&t[1]),
    );
    check(
        "matmul batched x shared",
        vec![input(&[2, 3, 4], m(24)), input(&[4, 2], m(8))],
        1e-2,
        |t| t[0].matmul(&t[1]),
    );
    check(
        "matmul shared x batched",
        vec![input(&[3, 4], m(12)), input(&[2, 4, 2], m(16))],
        1e-2,
        |t| t[0].matmul(&t[1]),
    );
    check(
        "matmul vector",
        vec![input(&[4], m(4)), input(&[4, 3], m(12))],
        1e-2,
        |t| t[0].matmul(&t[1]),
    );
    check(
        "matmul matrix x vector",
        vec![input(&[3, 4], m(12)), input(&[4], m(4))],
        1e-2,
        |t| t[0].matmul(&t[1]),
    );
}

#[test]
fn convolution_and_linear() {
    let mut r = rng(6);
    let mut m = |n| vals(&mut r, n, -1.0, 1.0);
    let opts = Conv2dOptions::new(2, 1, 1);
    check(
        "conv2d stride 2 pad 1 with bias",
        vec![
            input(&[2, 2, 5, 5], m(100)),
            input(&[3, 2, 3, 3], m(54)),
            input(&[3], m(3)),
        ],
        1e-2,
        move |t| t[0].conv2d(&t[1], Some(&t[2]), opts),
    );
    let grouped = Conv2dOptions::new(1, 0, 2).groups(2);
    check(
        "conv2d groups 2 dilation 2",
        vec![input(&[1, 4, 6, 6], m(144)), input(&[2, 2, 2, 2], m(16))],
        1e-2,
        move |t| t[0].conv2d(&t[1], None, grouped),
    );
    check(
        "linear",
        vec![
            input(&[2, 3, 4], m(24)),
            input(&[5, 4], m(20)),
            input(&[5], m(5)),
        ],
        1e-2,
        |t| t[0].linear(&t[1], Some(&t[2])),
    );
}

#[test]
fn pooling_resize_dropout() {
    let mut r = rng(7);
    let x = distinct(&mut r, 2 * 2 * 6 * 6);
    let s = [2, 2, 6, 6];
    let maxp = Pool2dOptions::new(3).stride(2).padding(1);
    check("max_pool2d", vec![input(&s, x.clone())], 1e-2, move |t| {
        t[0].max_pool2d(maxp)
    });
    let avgp = Pool2dOptions::new(2)
        .ceil_mode(true)
        .stride(2)
        .padding(1)
        .count_include_pad(false);
    check("avg_pool2d", vec![input(&s, x.clone())], 1e-2, move |t| {
        t[0].avg_pool2d(avgp)
    });
    check(
        "adaptive_avg_pool2d",
        vec![input(&s, x.clone())],
        1e-2,
        |t| t[0].adaptive_avg_pool2d((4, 3)),
    );
    check("resize_bilinear", vec![input(&s, x.clone())], 1e-2, |t| {
        t[0].resize_bilinear((9, 4), false)
    });
    check(
        "resize_bilinear aligned",
        vec![input(&s, x.clone())],
        1e-2,
        |t| t[0].resize_bilinear((4, 7), true),
    );
    check("dropout", vec![input(&s, x)], 1e-2, |t| {
        t[0].dropout(0.3, 42)
    });
}

#[test]
fn batch_norm_train_and_eval() {
    let mut r = rng(8);
    let x = vals(&mut r, 2 * 3 * 3 * 3, -2.0, 2.0);
    let gamma = vals(&mut r, 3, 0.5, 1.5);
    let beta = vals(&mut r, 3, -0.5, 0.5);
    let s = [2, 3, 3, 3];
    for training in [true, false] {
        check(
            if training {
                "batch_norm2d train"
            } else {
                "batch_norm2d eval"
            },
            vec![
                input(&s, x.clone()),
                input(&[3], gamma.clone()),
                input(&[3], beta.clone()),
            ],
            1e-2,
            move |t| {
                let dev = t[0].device();
                let rm = Tensor::new(Array::from_slice(&dev, &[0.1, -0.2, 0.3], &[3])?);
                let rv = Tensor::new(Array::from_slice(&dev, &[0.5, 1.5, 2.0], &[3])?);
                t[0].batch_norm2d(BatchNormArgs {
                    weight: Some(&t[1]),
                    bias: Some(&t[2]),
                    running_mean: Some(&rm),
                    running_var: Some(&rv),
                    training,
                    momentum: 0.1,
                    eps: 1e-5,
                })
            },
        );
    }
}

#[test]
fn losses() {
    let mut r = rng(9);
    let logits = vals(&mut r, 4 * 5, -2.0, 2.0);
    let labels = [3.0, 0.0, 4.0, 1.0];
    let lab = move |t: &Tensor| Array::from_slice(&t.device(), &labels, &[4]);
    let s = [4, 5];
    for (name, opts) in [
        ("cross_entropy mean", CrossEntropyOptions::default()),
        (
            "cross_entropy smoothed sum",
            CrossEntropyOptions {
                reduction: Reduction::Sum,
                label_smoothing: 0.2,
                ..Default::default()
            },
        ),
        (
            "cross_entropy none",
            CrossEntropyOptions {
                reduction: Reduction::None,
                ..Default::default()
            },
        ),
    ] {
        check(name, vec![input(&s, logits.clone())], 1e-2, move |t| {
            cross_entropy(&t[0], &lab(&t[0])?, opts)
        });
    }
    check(
        "nll_loss",
        vec![input(&s, logits.clone())],
        1e-2,
        move |t| nll_loss(&t[0].log_softmax(1)?, &lab(&t[0])?, Reduction::Mean, -100),
    );
    let ignored = [3.0, -100.0, 4.0, 1.0];
    check(
        "nll_loss ignore_index",
        vec![input(&s, logits.clone())],
        1e-2,
        move |t| {
            nll_loss(
                &t[0],
                &Array::from_slice(&t[0].device(), &ignored, &[4])?,
                Reduction::Mean,
                -100,
            )
        },
    );
    let target = vals(&mut r, 20, -1.0, 1.0);
    check(
        "mse_loss",
        vec![input(&s, logits), input(&s, target)],
        1e-2,
        |t| mse_loss(&t[0], &t[1], Reduction::Mean),
    );
}

#[test]
fn reused_tensor_accumulates_both_paths() {
    let mut r = rng(10);
    let x = vals(&mut r, 6, 0.3, 2.0);
    // x is used four times: as both matmul operands' source, in a product and in a log.
    check("reuse", vec![input(&[2, 3], x)], 1e-3, |t| {
        let x = &t[0];
        let xt = x.transpose(0, 1)?;
        let gram = x.matmul(&xt)?; // [2, 2]
        let y = x.mul(x)?.add(&x.log()?)?.sum(&[1], true)?; // [2, 1]
        gram.add(&y)
    });
}
