//! Optimizers and LR schedules against PyTorch's update rules and schedule formulas.

mod common;

use fovea_device::{Array, Device};
use fovea_nn::{Adam, CosineAnnealingLr, LrScheduler, OneCycleLr, Optimizer, Sgd, StepLr, Tensor};

fn param(values: &[f32], dev: &Device) -> Tensor {
    Tensor::param(Array::from_slice(dev, values, &[values.len()]).unwrap())
}

fn close(got: &[f32], want: &[f32], tol: f32) {
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "got {got:?}, want {want:?}"
        );
    }
}

/// Three steps of `torch.optim.SGD(momentum=0.9, nesterov=True, weight_decay=0.1)`, written
/// out: g += wd * p; buf = g (first) or 0.9 * buf + g; p -= lr * (g + 0.9 * buf).
#[test]
fn sgd_follows_pytorchs_rule_on_both_devices() {
    for dev in common::devices() {
        let p = param(&[1.0, -2.0, 0.5], &dev);
        let mut opt = Sgd::new(vec![p.clone()], 0.1)
            .momentum(0.9)
            .nesterov(true)
            .weight_decay(0.1);
        let (mut want, mut buf) = (vec![1.0f32, -2.0, 0.5], vec![0.0f32; 3]);
        let grads = [[0.3f32, -0.1, 0.2], [0.1, 0.4, -0.3], [-0.2, 0.2, 0.1]];
        for (step, g) in grads.iter().enumerate() {
            p.set_grad(Some(Array::from_slice(&dev, g, &[3]).unwrap()));
            opt.step().unwrap();
            for i in 0..3 {
                let gi = g[i] + 0.1 * want[i];
                buf[i] = if step == 0 { gi } else { 0.9 * buf[i] + gi };
                want[i] -= 0.1 * (gi + 0.9 * buf[i]);
            }
            close(&p.to_vec().unwrap(), &want, 1e-6);
        }
        opt.zero_grad();
        assert!(p.grad().is_none());
        // A parameter without a gradient is left alone.
        opt.step().unwrap();
        close(&p.to_vec().unwrap(), &want, 1e-6);
    }
}

/// Two steps of Adam and of AdamW (decoupled decay 0.01) against the textbook formulas.
#[test]
fn adam_and_adamw_follow_pytorchs_rule() {
    for decoupled in [false, true] {
        let dev = Device::cpu();
        let p = param(&[0.5, -1.0], &dev);
        let mut opt = if decoupled {
            Adam::adamw(vec![p.clone()], 0.01)
        } else {
            Adam::new(vec![p.clone()], 0.01).weight_decay(0.01)
        };
        let (mut w, mut m, mut v) = ([0.5f64, -1.0], [0.0f64; 2], [0.0f64; 2]);
        for (t, g) in [[0.2f64, -0.4], [0.1, 0.3]].iter().enumerate() {
            p.set_grad(Some(
                Array::from_slice(&dev, &[g[0] as f32, g[1] as f32], &[2]).unwrap(),
            ));
            opt.step().unwrap();
            let t = t as i32 + 1;
            for i in 0..2 {
                let mut gi = g[i];
                if decoupled {
                    w[i] *= 1.0 - 0.01 * 0.01;
                } else {
                    gi += 0.01 * w[i];
                }
                m[i] = 0.9 * m[i] + 0.1 * gi;
                v[i] = 0.999 * v[i] + 0.001 * gi * gi;
                let mhat = m[i] / (1.0 - 0.9f64.powi(t));
                let vhat = v[i] / (1.0 - 0.999f64.powi(t));
                w[i] -= 0.01 * mhat / (vhat.sqrt() + 1e-8);
            }
            close(&p.to_vec().unwrap(), &[w[0] as f32, w[1] as f32], 1e-5);
        }
    }
}

#[test]
fn schedules_match_torchs_formulas() {
    let p = param(&[0.0], &Device::cpu());
    let mut opt = Sgd::new(vec![p.clone()], 0.1).momentum(0.9);

    let mut step = StepLr::new(&opt, 2, 0.5).unwrap();
    let mut lrs = vec![];
    for _ in 0..5 {
        step.step(&mut opt);
        lrs.push(opt.lr());
    }
    close(&lrs, &[0.1, 0.05, 0.05, 0.025, 0.025], 1e-6);

    let mut opt = Sgd::new(vec![p.clone()], 0.1);
    let mut cos = CosineAnnealingLr::new(&opt, 4, 0.01).unwrap();
    let mut lrs = vec![];
    for _ in 0..4 {
        cos.step(&mut opt);
        lrs.push(opt.lr());
    }
    // eta_min + (base - eta_min) (1 + cos(pi t / T)) / 2
    close(&lrs, &[0.08681981, 0.055, 0.02318019, 0.01], 1e-5);

    // OneCycleLR(max_lr=0.1, total_steps=10): 0.004 -> 0.1 at step 2 -> 4e-7 at step 9;
    // momentum 0.95 -> 0.85 -> 0.95.
    let mut opt = Sgd::new(vec![p], 0.5).momentum(0.9);
    let mut one = OneCycleLr::new(&mut opt, 0.1, 10).unwrap();
    let (mut lrs, mut moms) = (vec![opt.lr()], vec![Optimizer::momentum(&opt)]);
    for _ in 0..9 {
        one.step(&mut opt);
        lrs.push(opt.lr());
        moms.push(Optimizer::momentum(&opt));
    }
    close(&lrs[..3], &[0.004, 0.052, 0.1], 1e-5);
    assert!((lrs[9] - 4e-7).abs() < 1e-9, "{lrs:?}");
    assert!(lrs[3..].windows(2).all(|w| w[1] < w[0]), "anneals: {lrs:?}");
    close(&[moms[0], moms[2], moms[9]], &[0.95, 0.85, 0.95], 1e-6);
}

#[test]
fn bad_hyperparameters_are_refused() {
    let p = param(&[1.0], &Device::cpu());
    p.set_grad(Some(
        Array::from_slice(&Device::cpu(), &[1.0], &[1]).unwrap(),
    ));
    let msg = Sgd::new(vec![p.clone()], -0.1)
        .step()
        .unwrap_err()
        .to_string();
    assert!(msg.contains("lr = -0.1"), "{msg}");
    let msg = Sgd::new(vec![p.clone()], 0.1)
        .nesterov(true)
        .step()
        .unwrap_err()
        .to_string();
    assert!(msg.contains("Nesterov"), "{msg}");
    let msg = Adam::new(vec![p], 0.1)
        .betas(1.0, 0.999)
        .step()
        .unwrap_err()
        .to_string();
    assert!(msg.contains("beta1"), "{msg}");
}

/// Saving an optimizer's buffers after two steps and loading them into a fresh optimizer
/// makes its third step identical to the original's (what `fovea train --resume` relies on).
#[test]
fn optimizer_state_round_trips_for_resuming() {
    let dev = Device::cpu();
    let grads = [[0.3f32, -0.1, 0.2], [0.1, 0.4, -0.3], [-0.2, 0.2, 0.1]];
    type Make = fn(Tensor) -> Box<dyn Optimizer>;
    let makers: [(&str, Make); 3] = [
        ("sgd", |p| {
            Box::new(Sgd::new(vec![p], 0.1).momentum(0.9).weight_decay(0.01))
        }),
        ("adam", |p| Box::new(Adam::new(vec![p], 0.01))),
        ("amsgrad", |p| {
            Box::new(Adam::adamw(vec![p], 0.01).amsgrad(true))
        }),
    ];
    for (name, make) in makers {
        let p = param(&[1.0, -2.0, 0.5], &dev);
        let mut opt = make(p.clone());
        for g in &grads[..2] {
            p.set_grad(Some(Array::from_slice(&dev, g, &[3]).unwrap()));
            opt.step().unwrap();
        }
        let state = opt.state_dict().unwrap();
        assert!(!state.is_empty(), "{name}");
        let q = param(&p.to_vec().unwrap(), &dev);
        let mut fresh = make(q.clone());
        fresh.load_state_dict(&state).unwrap();
        for (t, g) in [(&p, &mut opt), (&q, &mut fresh)] {
            t.set_grad(Some(Array::from_slice(&dev, &grads[2], &[3]).unwrap()));
            g.step().unwrap();
        }
        assert_eq!(p.to_vec().unwrap(), q.to_vec().unwrap(), "{name}");

        // State for another parameter list is refused and leaves the optimizer as it was.
        let mut other = make(param(&[1.0, 2.0], &dev));
        let err = other.load_state_dict(&state).unwrap_err().to_string();
        assert!(err.contains("shape"), "{name}: {err}");
        assert!(other.state_dict().unwrap().is_empty(), "{name}");
    }
}

/// PyTorch refuses `backward()` through values an optimizer step changed after the forward
/// pass ("modified by an inplace operation"); so does Fovea, naming the op and parameter.
#[test]
fn backward_after_a_step_through_stale_activations_fails_naming_the_parameter() {
    use fovea_nn::{Linear, ModuleExt};
    let dev = Device::cpu();
    let net = Linear::new(4, 3);
    net.to_device(&dev).unwrap();
    let mut opt = Sgd::new(net.parameters(), 0.1);
    let x = Tensor::new(Array::randn(&dev, &[2, 4], 5).unwrap());
    let first = net.call(&x).unwrap().sum(&[], false).unwrap();
    let second = net.call(&x).unwrap().sum(&[], false).unwrap();
    first.backward().unwrap();
    opt.step().unwrap(); // updates `weight` in place; `second` saved the old value
    let err = second.backward().unwrap_err().to_string();
    assert!(
        err.contains("modified by an inplace operation")
            && err.contains("`linear`")
            && err.contains("`weight`"),
        "{err}"
    );
    // Recomputing the forward pass after the step is the fix.
    opt.zero_grad();
    let third = net.call(&x).unwrap().sum(&[], false).unwrap();
    third.backward().unwrap();
}
