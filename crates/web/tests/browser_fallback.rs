//! The CPU fallback: Chromium started without `--enable-unsafe-webgpu`
//! (`crates/web/webdriver-no-webgpu.json`), so no WebGPU adapter opens. `Want::Best`
//! falls back to the CPU backend built for wasm and says why; the same training step runs
//! there. Run by `make web-test` with that webdriver file.
#![cfg(target_arch = "wasm32")]

mod common;

use fovea_web::{Session, Want};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn without_webgpu_training_falls_back_to_the_cpu_backend_and_says_why() {
    let e = Session::open(Want::Gpu)
        .await
        .expect_err("no WebGPU adapter: this suite runs Chromium without --enable-unsafe-webgpu");
    assert!(e.contains("WebGPU"), "{e}");
    let s = Session::open(Want::Best).await.unwrap();
    assert!(s.device.is_cpu());
    assert_eq!(s.report.backend, "cpu");
    let why = s.report.fallback_reason.clone().expect("a reason");
    assert!(why.contains("WebGPU"), "{why}");

    let losses = common::eight_step_losses(&s.device).await;
    assert!(
        losses[7] < losses[0],
        "the loss falls on the fallback: {losses:?}"
    );
}
