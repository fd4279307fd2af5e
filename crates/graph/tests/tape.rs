//! The tape's behaviour: leaves and inputs get gradients, `no_grad`, `detach`,
//! `backward_with`, the freed graph, shape errors, and the guided-ReLU override with its scope.

use fovea_graph::{
    guided_relu_backward, no_grad, override_backward, Array, Device, Error, Op, Tensor,
};
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
fn gradients_reach_inputs_and_parameters() {
    let x = Tensor::param(Array::from_slice(&cpu(), &[1.0, 2.0], &[1, 2]).unwrap());
    let w = Tensor::param(Array::from_slice(&cpu(), &[3.0, 4.0], &[2, 1]).unwrap());
    let y = x.matmul(&w).unwrap().sum(&[], false).unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), [3.0, 4.0]);
    assert_eq!(w.grad().unwrap().to_vec().unwrap(), [1.0, 2.0]);
    // A second graph accumulates into the same gradients, as in PyTorch.
    x.matmul(&w)
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), [6.0, 8.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn no_grad_and_detach_record_nothing() {
    let x = Tensor::param(random(1, &[3]));
    let y = no_grad(|| x.exp().unwrap());
    assert!(!y.requires_grad() && y.grad_fn().is_none());
    let z = x.exp().unwrap();
    assert_eq!(z.grad_fn(), Some("exp"));
    let d = z.detach();
    assert!(!d.requires_grad() && d.array().shares_storage(&z.array()));
    // Only the recorded path contributes: d(x * detach(x)) / dx = detach(x).
    let f = x.mul(&x.detach()).unwrap().sum(&[], false).unwrap();
    f.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), x.to_vec().unwrap());
    let err = y
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not require grad"), "{err}");
}

#[test]
fn backward_with_a_seed_and_retain_grad() {
    let x = Tensor::param(random(2, &[2, 3]));
    let h = x.mul_scalar(2.0).unwrap();
    h.retain_grad();
    let act = h.tanh().unwrap();
    // DeepDream's seed: the activations themselves (gradient of sum(act^2) / 2).
    act.backward_with(&act.array()).unwrap();
    let a = act.to_vec().unwrap();
    let want_h: Vec<f32> = a.iter().map(|v| v * (1.0 - v * v)).collect();
    let got_h = h.grad().unwrap().to_vec().unwrap();
    let got_x = x.grad().unwrap().to_vec().unwrap();
    for i in 0..6 {
        assert!((got_h[i] - want_h[i]).abs() < 1e-6);
        assert!((got_x[i] - 2.0 * want_h[i]).abs() < 1e-6);
    }
    let bad = act
        .backward_with(&random(3, &[3, 2]))
        .unwrap_err()
        .to_string();
    assert!(bad.contains("[2, 3]") && bad.contains("[3, 2]"), "{bad}");
}

#[test]
fn the_graph_is_freed_after_backward() {
    let x = Tensor::param(random(4, &[4]));
    let y = x.exp().unwrap().sum(&[], false).unwrap();
    y.backward().unwrap();
    let again = y.backward().unwrap_err();
    assert!(matches!(again, Error::Autograd { .. }));
    assert!(again.to_string().contains("already used"), "{again}");
}

#[test]
fn shape_errors_name_the_op_and_both_shapes() {
    let a = Tensor::param(random(5, &[2, 3]));
    let b = Tensor::param(random(6, &[4, 5]));
    let e = a.matmul(&b).unwrap_err().to_string();
    assert!(
        e.contains("matmul") && e.contains("[2, 3]") && e.contains("[4, 5]"),
        "{e}"
    );
    let e = a.add(&b).unwrap_err().to_string();
    assert!(
        e.contains("add") && e.contains("[2, 3]") && e.contains("[4, 5]"),
        "{e}"
    );
    let e = a.backward().unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("backward_with"), "{e}");
}

/// Guided backprop through two ReLU layers, written out by hand.
fn guided_by_hand(x: &Array, w1: &Array, w2: &Array, seed: &Array) -> Vec<f32> {
    let zero = Array::scalar(&cpu(), 0.0).unwrap();
    let gate = |pre: &Array, g: &Array| {
        g.mul(&pre.gt(&zero).unwrap())
            .unwrap()
            .mul(&g.gt(&zero).unwrap())
            .unwrap()
    };
    let p1 = x.matmul(w1).unwrap();
    let h1 = p1.relu().unwrap();
    let p2 = h1.matmul(w2).unwrap();
    let g2 = gate(&p2, seed);
    let gh1 = g2.matmul_t(w2, false, true).unwrap();
    let g1 = gate(&p1, &gh1);
    g1.matmul_t(w1, false, true).unwrap().to_vec().unwrap()
}

#[test]
fn guided_relu_override_applies_only_inside_its_scope() {
    let (xa, w1a, w2a) = (random(7, &[3, 6]), random(8, &[6, 8]), random(9, &[8, 5]));
    let seed = random(10, &[3, 5]);
    let (w1, w2) = (Tensor::new(w1a.clone()), Tensor::new(w2a.clone()));
    let input_grad = || {
        let x = Tensor::param(xa.clone());
        let y = x
            .matmul(&w1)
            .unwrap()
            .relu()
            .unwrap()
            .matmul(&w2)
            .unwrap()
            .relu()
            .unwrap();
        y.backward_with(&seed).unwrap();
        x.grad().unwrap().to_vec().unwrap()
    };
    let plain_before = input_grad();
    let guided = {
        let _guard = override_backward(Op::Relu, guided_relu_backward);
        input_grad()
    };
    let plain_after = input_grad();

    let want = guided_by_hand(&xa, &w1a, &w2a, &seed);
    for (g, w) in guided.iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "guided {g} vs by hand {w}");
    }
    assert_eq!(
        plain_before, plain_after,
        "the override leaked out of its scope"
    );
    let changed = guided
        .iter()
        .zip(&plain_before)
        .filter(|(a, b)| (*a - *b).abs() > 1e-6)
        .count();
    assert!(
        changed > 0,
        "guided and plain gradients should differ on this net"
    );

    // A graph recorded inside the scope but run after it uses the built-in rule again.
    let x = Tensor::param(xa.clone());
    let y = {
        let _guard = override_backward(Op::Relu, guided_relu_backward);
        x.matmul(&w1)
            .unwrap()
            .relu()
            .unwrap()
            .matmul(&w2)
            .unwrap()
            .relu()
            .unwrap()
    };
    y.backward_with(&seed).unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), plain_before);
}

#[test]
fn gradients_cross_devices() {
    let gpu = Device::gpu().expect("a Vulkan adapter (install mesa-vulkan-drivers)");
    let x = Tensor::param(random(11, &[2, 2]));
    let on_gpu = x.to_device(&gpu).unwrap();
    assert_eq!(on_gpu.device(), gpu);
    let y = on_gpu.mul(&on_gpu).unwrap().sum(&[], false).unwrap();
    y.backward().unwrap();
    let g = x.grad().unwrap();
    assert_eq!(g.device(), &cpu());
    let want: Vec<f32> = x.to_vec().unwrap().iter().map(|v| 2.0 * v).collect();
    assert_eq!(g.to_vec().unwrap(), want);
}

/// One plain SGD step on `t`'s storage, in place, as an optimizer makes it.
fn step_in_place(t: &Tensor) {
    let ones = Array::ones(&cpu(), t.shape()).unwrap();
    let step = fovea_device::SgdStep::plain(0.1);
    t.array().sgd_step_(&ones, None, &step).unwrap();
}

#[test]
fn backward_refuses_a_saved_value_updated_in_place() {
    let w = Tensor::param(random(1, &[3, 4]));
    w.set_name("fc.weight");
    let before = w.array().version();
    let x = Tensor::new(random(2, &[2, 4]));
    let y = x.linear(&w, None).unwrap().sum(&[], false).unwrap();
    step_in_place(&w);
    assert_eq!(
        w.array().version(),
        before + 1,
        "an in-place step bumps the version"
    );
    let err = y.backward().unwrap_err().to_string();
    for want in [
        "modified by an inplace operation",
        "`linear`",
        "`fc.weight`",
        "[3, 4]",
        "version 0",
        "version 1",
    ] {
        assert!(err.contains(want), "missing {want:?} in: {err}");
    }
}

#[test]
fn an_in_place_update_no_backward_rule_reads_is_allowed() {
    // `add` needs no input values for its gradient, so PyTorch allows this too.
    let b = Tensor::param(random(3, &[4]));
    let x = Tensor::param(random(4, &[2, 4]));
    let y = x.add(&b).unwrap().sum(&[], false).unwrap();
    step_in_place(&b);
    y.backward().unwrap();
    assert_eq!(b.grad().unwrap().to_vec().unwrap(), [2.0; 4]);
}

/// The tape keeps an intermediate value only if a backward rule reads it: ReLU keeps its
/// output, so the pre-activation it was given is freed as soon as the caller drops it (it
/// used to live until backward, held by the ReLU's node).
#[test]
fn the_tape_keeps_no_intermediate_that_no_rule_reads() {
    let gpu = Device::gpu().expect("a Vulkan adapter (install mesa-vulkan-drivers)");
    let engine = gpu.engine().unwrap();
    let n = 1 << 20;
    let x =
        Tensor::param(Array::from_slice(&gpu, &random(21, &[n]).to_vec().unwrap(), &[n]).unwrap());
    let h = x.mul_scalar(2.0).unwrap();
    let y = h.relu().unwrap();
    gpu.sync().unwrap();
    let held = engine.pool_stats().in_use_bytes;
    drop(h);
    gpu.sync().unwrap();
    let freed = held - engine.pool_stats().in_use_bytes;
    assert!(
        freed >= (n * 4) as u64,
        "dropping the pre-activation freed {freed} bytes, not its {} bytes",
        n * 4
    );
    y.sum(&[], false).unwrap().backward().unwrap();
    let (xs, gs) = (x.to_vec().unwrap(), x.grad().unwrap().to_vec().unwrap());
    for (v, g) in xs.iter().zip(&gs) {
        assert_eq!(*g, if *v > 0.0 { 2.0 } else { 0.0 }, "x = {v}");
    }
}
