//! Arrays past the adapter's largest storage binding: VGG-16's first classifier Linear
//! (weight 4096 x 25088, 411 MB) forward and backward on the GPU against the reference, with
//! the binding capped at 64 MiB so the weight is split on every adapter, and the
//! range-by-range paths on random shapes with the binding size capped small.

mod common;

use common::*;
use fovea_device::{AdamStep, Array, Device, GpuOptions, SgdStep};
use rand::Rng;

/// A GPU device of its own whose storage bindings hold at most `len` elements.
fn capped(len: usize) -> Device {
    gpu_with(GpuOptions {
        binding_cap: Some(len),
        ..GpuOptions::default()
    })
}

#[test]
fn vgg16_sized_linear_runs_forward_and_backward_on_the_gpu() {
    // Whatever the adapter allows, bind at most 64 MiB so the weight goes range by range.
    let g = capped(16 << 20);
    let (n, inp, out) = (2, 25088, 4096);
    let bytes = (inp * out * 4) as u64;
    let engine = g.engine().unwrap();
    let limit = engine.limits().max_storage_buffer_binding_size;
    println!(
        "weight {} MiB, largest binding {} MiB, capped to {} MiB",
        bytes >> 20,
        limit >> 20,
        (engine.max_binding_len() * 4) >> 20
    );
    assert!(
        inp * out > engine.max_binding_len(),
        "the weight must exceed the binding cap to exercise the split path"
    );
    let mut r = rng(70);
    let x = data(&mut r, n * inp, -1.0, 1.0);
    let gy = data(&mut r, n * out, -1.0, 1.0);
    let b = data(&mut r, out, -1.0, 1.0);
    // the weight comes from the counter-based generator on each device: same values
    let scale = 1.0 / (inp as f32).sqrt();
    let run = |d: &Device| {
        let w = Array::uniform(d, &[out, inp], -scale, scale, 71).unwrap();
        let xa = Array::from_slice(d, &x, &[n, inp]).unwrap();
        let ba = Array::from_slice(d, &b, &[out]).unwrap();
        let y = xa.linear(&w, Some(&ba)).unwrap();
        let grads = Array::linear_backward(&xa, &w, &Array::from_slice(d, &gy, &[n, out]).unwrap())
            .unwrap();
        // an SGD step on the big weight runs range by range too
        let step = SgdStep::plain(0.1);
        w.sgd_step_(&grads.weight, None, &step).unwrap();
        let w_row = w.slice(0, out - 1, out, 1).unwrap();
        (y, grads.x, grads.weight, w_row)
    };
    let (yg, gxg, gwg, wg) = run(&g);
    let (yc, gxc, gwc, wc) = run(&Device::cpu());
    assert_close("y", &yg, &yc, 1e-4, 1e-4);
    assert_close("grad_x", &gxg, &gxc, 1e-4, 1e-4);
    assert_close("grad_weight", &gwg, &gwc, 1e-4, 1e-5);
    assert_close("weight after SGD, last row", &wg, &wc, 1e-5, 1e-6);
}

#[test]
fn split_matmul_and_ranged_ops_match_reference_under_a_small_binding_cap() {
    let g = capped(3000);
    let mut r = rng(72);
    for case in 0..12 {
        let (batch, m, k, n) = (
            r.random_range(1..3),
            r.random_range(1..90),
            r.random_range(1..120),
            r.random_range(1..90),
        );
        let (ta, tb) = (r.random_bool(0.5), r.random_bool(0.5));
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
        let (ag, ac) = pair_on(&g, &data(&mut r, batch * m * k, -1.0, 1.0), &a_shape);
        let (bg, bc) = pair_on(&g, &data(&mut r, batch * k * n, -1.0, 1.0), &b_shape);
        let what = format!("case {case}: [{batch}] {m}x{k}x{n} trans {ta} {tb}");
        assert_close(
            &what,
            &ag.matmul_t(&bg, ta, tb).unwrap(),
            &ac.matmul_t(&bc, ta, tb).unwrap(),
            1e-4,
            1e-5,
        );
    }
    // elementwise, random and optimizer kernels range by range
    let len = 10_000;
    let (xg, xc) = pair_on(&g, &data(&mut r, len, -1.0, 1.0), &[len]);
    let (yg, yc) = pair_on(&g, &data(&mut r, len, -1.0, 1.0), &[len]);
    assert_close("exp", &xg.exp().unwrap(), &xc.exp().unwrap(), 1e-6, 1e-6);
    assert_close(
        "mul",
        &xg.mul(&yg).unwrap(),
        &yc.mul(&xc).unwrap(),
        1e-6,
        1e-6,
    );
    assert_close(
        "arange",
        &Array::arange(&g, 0.0, 9000.0, 1.0).unwrap(),
        &Array::arange(&Device::cpu(), 0.0, 9000.0, 1.0).unwrap(),
        0.0,
        0.0,
    );
    assert_close(
        "randn",
        &Array::randn(&g, &[len], 3).unwrap(),
        &Array::randn(&Device::cpu(), &[len], 3).unwrap(),
        1e-5,
        1e-5,
    );
    let step = AdamStep::new(1e-2, 1);
    let (mg, vg) = (
        Array::zeros(&g, &[len]).unwrap(),
        Array::zeros(&g, &[len]).unwrap(),
    );
    let (mc, vc) = (
        Array::zeros(&Device::cpu(), &[len]).unwrap(),
        Array::zeros(&Device::cpu(), &[len]).unwrap(),
    );
    xg.adam_step_(&yg, &mg, &vg, None, &step).unwrap();
    xc.adam_step_(&yc, &mc, &vc, None, &step).unwrap();
    assert_close("adam", &xg, &xc, 1e-6, 1e-6);
    assert_close("adam v", &vg, &vc, 1e-6, 1e-7);
}

#[test]
fn kernels_that_cannot_split_refuse_oversized_arrays_clearly() {
    let g = gpu();
    let limits = g.engine().unwrap().limits();
    let max = (limits.max_storage_buffer_binding_size / 4) as usize;
    if (max as u64 + 1) * 4 > limits.max_buffer_size {
        // This adapter's buffers are no larger than its bindings: an array one element past
        // the binding is refused where it is made, as clearly.
        println!("largest buffer <= largest binding: checking the refusal at allocation");
        let e = Array::zeros(&g, &[1, 1, 1, max + 1])
            .expect_err("an array past the adapter's largest buffer must be refused")
            .to_string();
        assert!(e.contains("largest buffer") && e.contains("MiB"), "{e}");
        assert!(g.sync().is_ok(), "the refusal left no GPU error behind");
        return;
    }
    let x = Array::zeros(&g, &[1, 1, 1, max + 1]).unwrap();
    let e = x.softmax(-1).unwrap_err().to_string();
    assert!(
        e.contains("largest storage binding") && e.contains("MiB"),
        "{e}"
    );
    assert!(g.sync().is_ok(), "the refusal left no GPU error behind");
}
