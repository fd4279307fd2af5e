//! Figures, not assertions: how long opening WebGPU and building the Net take in headless
//! Chromium, the first training step's latency, and the Net's training images/s on the
//! browser's WebGPU and on the CPU backend built for wasm. Run by `make web-bench` (release
//! build; not part of `make test`). For the native CPU backend, `fovea train --device cpu`
//! prints images/s per epoch.
#![cfg(target_arch = "wasm32")]

mod common;

use fovea_device::Device;
use fovea_web::{Session, TrainSettings, Trainer, Want};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn now() -> f64 {
    js_sys::Date::now()
}

#[wasm_bindgen_test]
async fn net_training_speed_on_webgpu_and_the_wasm_cpu_backend() {
    let t0 = now();
    let data = common::fashion_test().slice(0, 64 * 12);
    console_log!("decode the Fashion-MNIST test split: {:.0} ms", now() - t0);
    let t0 = now();
    let s = Session::open(Want::Gpu).await.expect("WebGPU");
    console_log!("open WebGPU ({}): {:.0} ms", s.report.adapter, now() - t0);
    for dev in [s.device.clone(), Device::cpu()] {
        let t0 = now();
        let mut t = Trainer::new(&dev, &TrainSettings::default(), &data)
            .await
            .unwrap();
        let built = now() - t0;
        let t0 = now();
        t.step().await.unwrap();
        let first = now() - t0;
        let t0 = now();
        let steps = 10;
        for _ in 0..steps {
            t.step().await.unwrap();
        }
        let ms = now() - t0;
        console_log!(
            "Net on {dev}: build {built:.0} ms, first step {first:.0} ms, then {:.0} ms a step, {:.0} images/s (batch 64)",
            ms / steps as f64,
            (steps * 64) as f64 * 1000.0 / ms
        );
    }
}
