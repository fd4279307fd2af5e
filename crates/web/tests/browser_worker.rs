//! The same training step inside a dedicated Web Worker, where the page will run all of
//! its compute (`make web-test`; headless Chromium, WebGPU on SwiftShader).
#![cfg(target_arch = "wasm32")]

mod common;

use fovea_web::{Session, Want};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
async fn a_worker_opens_webgpu_and_trains() {
    let global = js_sys::global();
    let has = |k: &str| js_sys::Reflect::has(&global, &k.into()).unwrap();
    let in_worker = has("importScripts") && !has("document");
    assert!(in_worker, "the test runs in a dedicated worker");
    let s = Session::open(Want::Gpu)
        .await
        .expect("WebGPU in a dedicated worker");
    let losses = common::eight_step_losses(&s.device).await;
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(
        losses[7] < losses[0],
        "the loss falls in the worker: {losses:?}"
    );
}
