//! Every op family on the browser's WebGPU against the CPU backend compiled to wasm, in
//! headless Chromium (SwiftShader: correctness, not speed). Run by `make web-test`:
//! `wasm-bindgen-test-runner` drives Chromium through chromedriver with the arguments in
//! `crates/web/webdriver.json` (`--enable-unsafe-webgpu`).
//!
//! Reads go through `to_vec_async`: in a browser nothing may block on the GPU. Shapes are
//! small and awkward (odd sizes, batch 1, sizes off the workgroup multiple).
#![cfg(target_arch = "wasm32")]

use fovea_device::ConvAlgo;
use fovea_device::{
    AdamStep, Array, Conv2dOptions, CrossEntropyOptions, Device, GpuOptions, Pool2dOptions,
    Reduction, SgdStep,
};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The page's WebGPU device: a failure here means the browser offers no WebGPU (Chromium
/// needs `--enable-unsafe-webgpu` on Linux).
async fn gpu() -> Device {
    gpu_with(GpuOptions::default()).await
}

/// A WebGPU device of its own with these options (a convolution algorithm, a binding cap).
async fn gpu_with(options: GpuOptions) -> Device {
    Device::new_gpu(&options)
        .await
        .expect("a WebGPU adapter (run Chromium with --enable-unsafe-webgpu)")
}

/// The same seeded normal values on both devices, drawn on the CPU and uploaded: WebGPU
/// lets `log` and `cos` (Box-Muller) be less exact than the CPU's, so values drawn on the
/// GPU differ in the fourth digit on SwiftShader.
fn randn(g: &Device, shape: &[usize], seed: u64) -> (Array, Array) {
    let c = Array::randn(&Device::cpu(), shape, seed).unwrap();
    (
        Array::from_slice(g, &c.to_vec().unwrap(), shape).unwrap(),
        c,
    )
}

/// `got` (GPU) against `want` (CPU): same shape, `|got - want| <= atol + rtol * |want|`.
async fn close(what: &str, got: &Array, want: &Array, rtol: f32, atol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    assert!(
        !got.device().is_cpu() && want.device().is_cpu(),
        "{what}: GPU vs CPU"
    );
    let (g, w) = (
        got.to_vec_async().await.unwrap(),
        want.to_vec_async().await.unwrap(),
    );
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || (a - b).abs() <= atol + rtol * b.abs();
        assert!(ok, "{what}: element {i}: GPU {a}, CPU {b}");
    }
}

#[wasm_bindgen_test]
async fn the_adapter_is_webgpu_and_round_trips_data() {
    let g = gpu().await;
    assert!(!g.is_cpu());
    let v: Vec<f32> = (0..1000).map(|i| i as f32 * 0.37 - 100.0).collect();
    let a = Array::from_slice(&g, &v, &[10, 100]).unwrap();
    assert_eq!(a.to_vec_async().await.unwrap(), v);
    let e = g.engine().expect("a GPU engine");
    assert!(e.limits().max_storage_buffer_binding_size >= 128 << 20);
}

#[wasm_bindgen_test]
async fn elementwise_ops_match() {
    let g = gpu().await;
    let (a, ca) = randn(&g, &[3, 1, 257], 1);
    let (b, cb) = randn(&g, &[5, 1], 2);
    for (name, got, want) in [
        ("exp", a.exp(), ca.exp()),
        ("tanh", a.tanh(), ca.tanh()),
        ("sigmoid", a.sigmoid(), ca.sigmoid()),
        ("relu", a.relu(), ca.relu()),
        ("abs", a.abs(), ca.abs()),
        ("add", a.add(&b), ca.add(&cb)),
        ("mul", a.mul(&b), ca.mul(&cb)),
        ("div", a.div(&b), ca.div(&cb)),
        ("maximum", a.maximum(&b), ca.maximum(&cb)),
        ("gt", a.gt(&b), ca.gt(&cb)),
    ] {
        close(name, &got.unwrap(), &want.unwrap(), 1e-5, 1e-6).await;
    }
    // NaN propagates through maximum, as in PyTorch (a kernel that builds NaN at run time).
    let nan = Array::from_slice(&g, &[f32::NAN, 1.0], &[2]).unwrap();
    let one = Array::ones(&g, &[2]).unwrap();
    let m = nan.maximum(&one).unwrap().to_vec_async().await.unwrap();
    assert!(m[0].is_nan() && m[1] == 1.0, "{m:?}");
    let cond = a.gt(&b).unwrap();
    let ccond = ca.gt(&cb).unwrap();
    close(
        "where",
        &Array::where_(&cond, &a, &b).unwrap(),
        &Array::where_(&ccond, &ca, &cb).unwrap(),
        0.0,
        0.0,
    )
    .await;
}

#[wasm_bindgen_test]
async fn reductions_and_softmax_match() {
    let g = gpu().await;
    let (a, ca) = randn(&g, &[7, 13, 31], 3);
    for axes in [vec![], vec![0], vec![1], vec![2], vec![0, 2]] {
        close(
            "sum",
            &a.sum(&axes, false).unwrap(),
            &ca.sum(&axes, false).unwrap(),
            1e-4,
            1e-4,
        )
        .await;
        close(
            "mean",
            &a.mean(&axes, true).unwrap(),
            &ca.mean(&axes, true).unwrap(),
            1e-5,
            1e-5,
        )
        .await;
        close(
            "max",
            &a.max(&axes, false).unwrap(),
            &ca.max(&axes, false).unwrap(),
            0.0,
            0.0,
        )
        .await;
    }
    close(
        "argmax",
        &a.argmax(1, false).unwrap(),
        &ca.argmax(1, false).unwrap(),
        0.0,
        0.0,
    )
    .await;
    close(
        "softmax",
        &a.softmax(-1).unwrap(),
        &ca.softmax(-1).unwrap(),
        1e-5,
        1e-6,
    )
    .await;
    close(
        "log_softmax",
        &a.log_softmax(1).unwrap(),
        &ca.log_softmax(1).unwrap(),
        1e-5,
        1e-5,
    )
    .await;
}

#[wasm_bindgen_test]
async fn matmul_matches_plain_transposed_batched_and_split() {
    let g = gpu().await;
    let (a, ca) = randn(&g, &[2, 33, 17], 4);
    let (b, cb) = randn(&g, &[2, 17, 9], 5);
    close(
        "matmul",
        &a.matmul(&b).unwrap(),
        &ca.matmul(&cb).unwrap(),
        1e-4,
        1e-4,
    )
    .await;
    let (bt, cbt) = randn(&g, &[2, 9, 17], 6);
    close(
        "matmul_t",
        &a.matmul_t(&bt, false, true).unwrap(),
        &ca.matmul_t(&cbt, false, true).unwrap(),
        1e-4,
        1e-4,
    )
    .await;
    // A weight larger than one (capped) storage binding is split, as VGG-16's fc6 is.
    let g = gpu_with(GpuOptions {
        binding_cap: Some(4096),
        ..GpuOptions::default()
    })
    .await;
    let (x, cx) = randn(&g, &[3, 300], 7);
    let (w, cw) = randn(&g, &[40, 300], 8);
    close(
        "split linear",
        &x.linear(&w, None).unwrap(),
        &cx.linear(&cw, None).unwrap(),
        1e-4,
        1e-4,
    )
    .await;
}

#[wasm_bindgen_test]
async fn convolution_forward_and_both_backwards_match_with_each_algorithm() {
    for algo in [ConvAlgo::Im2col, ConvAlgo::ImplicitGemm] {
        let g = gpu_with(GpuOptions {
            conv: Some(algo),
            ..GpuOptions::default()
        })
        .await;
        let (x, cx) = randn(&g, &[2, 4, 9, 11], 9);
        for (opts, w_shape) in [
            (Conv2dOptions::new(1, 1, 1), [5, 4, 3, 3]),
            (Conv2dOptions::new(2, 0, 1), [3, 4, 2, 3]),
            (Conv2dOptions::new(1, 2, 2).groups(2), [6, 2, 3, 3]),
        ] {
            let (w, cw) = randn(&g, &w_shape, 10);
            let (b, cb) = randn(&g, &[w_shape[0]], 11);
            let y = x.conv2d(&w, Some(&b), opts).unwrap();
            let cy = cx.conv2d(&cw, Some(&cb), opts).unwrap();
            close("conv2d", &y, &cy, 1e-4, 1e-4).await;
            let (gy, cgy) = randn(&g, y.shape(), 12);
            close(
                "conv2d_backward_data",
                &Array::conv2d_backward_data(&gy, &w, x.shape(), opts).unwrap(),
                &Array::conv2d_backward_data(&cgy, &cw, cx.shape(), opts).unwrap(),
                1e-4,
                1e-4,
            )
            .await;
            close(
                "conv2d_backward_weight",
                &Array::conv2d_backward_weight(&x, &gy, &w_shape, opts).unwrap(),
                &Array::conv2d_backward_weight(&cx, &cgy, &w_shape, opts).unwrap(),
                1e-4,
                1e-4,
            )
            .await;
        }
    }
}

#[wasm_bindgen_test]
async fn pooling_forward_and_backward_match() {
    let g = gpu().await;
    let (x, cx) = randn(&g, &[1, 3, 9, 7], 13);
    let opts = Pool2dOptions::new(3).stride(2).padding(1);
    let ((y, idx), (cy, cidx)) = (x.max_pool2d(opts).unwrap(), cx.max_pool2d(opts).unwrap());
    close("max_pool2d", &y, &cy, 0.0, 0.0).await;
    let (gy, cgy) = randn(&g, y.shape(), 14);
    close(
        "max_pool2d_backward",
        &Array::max_pool2d_backward(&gy, &idx, x.shape(), opts).unwrap(),
        &Array::max_pool2d_backward(&cgy, &cidx, cx.shape(), opts).unwrap(),
        1e-6,
        1e-6,
    )
    .await;
    let avg = opts.count_include_pad(false);
    close(
        "avg_pool2d",
        &x.avg_pool2d(avg).unwrap(),
        &cx.avg_pool2d(avg).unwrap(),
        1e-5,
        1e-6,
    )
    .await;
    close(
        "avg_pool2d_backward",
        &Array::avg_pool2d_backward(&gy, x.shape(), avg).unwrap(),
        &Array::avg_pool2d_backward(&cgy, cx.shape(), avg).unwrap(),
        1e-5,
        1e-6,
    )
    .await;
    close(
        "adaptive_avg_pool2d",
        &x.adaptive_avg_pool2d((4, 3)).unwrap(),
        &cx.adaptive_avg_pool2d((4, 3)).unwrap(),
        1e-5,
        1e-6,
    )
    .await;
}

#[wasm_bindgen_test]
async fn batch_norm_cross_entropy_and_dropout_match() {
    let g = gpu().await;
    let (x, cx) = randn(&g, &[3, 5, 4, 7], 15);
    let (gamma, cgamma) = randn(&g, &[5], 16);
    let (beta, cbeta) = randn(&g, &[5], 17);
    let (y, stats) = x
        .batch_norm2d_train(Some(&gamma), Some(&beta), 1e-5)
        .unwrap();
    let (cy, cstats) = cx
        .batch_norm2d_train(Some(&cgamma), Some(&cbeta), 1e-5)
        .unwrap();
    close("batch_norm2d_train", &y, &cy, 1e-4, 1e-4).await;
    let (gy, cgy) = randn(&g, y.shape(), 18);
    let grads = Array::batch_norm2d_backward(&x, &gy, Some(&gamma), &stats).unwrap();
    let cgrads = Array::batch_norm2d_backward(&cx, &cgy, Some(&cgamma), &cstats).unwrap();
    close("batch_norm2d_backward x", &grads.x, &cgrads.x, 1e-4, 1e-4).await;
    close(
        "batch_norm2d_backward gamma",
        &grads.gamma,
        &cgrads.gamma,
        1e-4,
        1e-4,
    )
    .await;

    let (logits, clogits) = randn(&g, &[6, 10], 19);
    let labels = [3.0, 0.0, 9.0, 1.0, 1.0, 7.0];
    let l = Array::from_slice(&g, &labels, &[6]).unwrap();
    let cl = Array::from_slice(&Device::cpu(), &labels, &[6]).unwrap();
    for reduction in [Reduction::Mean, Reduction::None] {
        let opts = CrossEntropyOptions {
            reduction,
            label_smoothing: 0.1,
            ..Default::default()
        };
        let (loss, grad) = logits.cross_entropy(&l, opts).unwrap();
        let (closs, cgrad) = clogits.cross_entropy(&cl, opts).unwrap();
        close("cross_entropy loss", &loss, &closs, 1e-5, 1e-6).await;
        close("cross_entropy grad", &grad, &cgrad, 1e-5, 1e-6).await;
    }

    let mask = Array::dropout_mask(&g, &[4, 257], 0.3, 42).unwrap();
    let cmask = Array::dropout_mask(&Device::cpu(), &[4, 257], 0.3, 42).unwrap();
    close("dropout_mask", &mask, &cmask, 0.0, 0.0).await;
}

#[wasm_bindgen_test]
async fn optimizer_steps_match() {
    let g = gpu().await;
    let (p, cp) = randn(&g, &[300], 20);
    let (grad, cgrad) = randn(&g, &[300], 21);
    let (buf, cbuf) = (
        Array::zeros(&g, &[300]).unwrap(),
        Array::zeros(&Device::cpu(), &[300]).unwrap(),
    );
    let sgd = SgdStep {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0.0,
        weight_decay: 1e-2,
        nesterov: true,
        maximize: false,
        first: true,
    };
    p.sgd_step_(&grad, Some(&buf), &sgd).unwrap();
    cp.sgd_step_(&cgrad, Some(&cbuf), &sgd).unwrap();
    close("sgd_step_ param", &p, &cp, 1e-6, 1e-6).await;
    close("sgd_step_ momentum", &buf, &cbuf, 1e-6, 1e-6).await;

    let z = |d: &Device| Array::zeros(d, &[300]).unwrap();
    let (m, v, cm, cv) = (z(&g), z(&g), z(&Device::cpu()), z(&Device::cpu()));
    let adam = AdamStep {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 1e-2,
        decoupled: true,
        amsgrad: false,
        maximize: false,
        bias_correction1: 0.1,
        bias_correction2_sqrt: 0.001f32.sqrt(),
    };
    p.adam_step_(&grad, &m, &v, None, &adam).unwrap();
    cp.adam_step_(&cgrad, &cm, &cv, None, &adam).unwrap();
    close("adam_step_ param", &p, &cp, 1e-5, 1e-6).await;
    close("adam_step_ exp_avg_sq", &v, &cv, 1e-5, 1e-7).await;
}
