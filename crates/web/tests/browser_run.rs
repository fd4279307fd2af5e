//! A `fovea train` run folder in the browser: its `best.safetensors` and `run.json` load
//! through fovea-web, on WebGPU and on the wasm CPU backend, and predict the same top
//! class as `fovea predict` on the same PNG files. The run, the images and `fovea
//! predict`'s answers come from `examples/run_fixture.rs`, which `make web-test` runs
//! first and points `FOVEA_WEB_RUN` at.
#![cfg(target_arch = "wasm32")]

use fovea_device::Device;
use fovea_web::{Classifier, Session, Want};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const CHECKPOINT: &[u8] = include_bytes!(concat!(env!("FOVEA_WEB_RUN"), "/run/best.safetensors"));
const RUN_JSON: &str = include_str!(concat!(env!("FOVEA_WEB_RUN"), "/run/run.json"));
const EXPECTED: &str = include_str!(concat!(env!("FOVEA_WEB_RUN"), "/expected.txt"));

macro_rules! pngs {
    ($($i:literal),*) => {
        [$(include_bytes!(concat!(env!("FOVEA_WEB_RUN"), "/images/", $i, ".png")).as_slice()),*]
    };
}

#[wasm_bindgen_test]
async fn a_fovea_train_run_predicts_in_the_browser_what_fovea_predict_does() {
    let images = pngs!("0", "1", "2", "3", "4", "5", "6", "7");
    let expected: Vec<&str> = EXPECTED.lines().collect();
    assert_eq!(expected.len(), images.len());
    let gpu = Session::open(Want::Gpu).await.expect("WebGPU").device;
    for dev in [gpu, Device::cpu()] {
        let c = Classifier::load(&dev, CHECKPOINT, RUN_JSON).unwrap();
        for (i, (png, want)) in images.iter().zip(&expected).enumerate() {
            let p = c.predict_image(png, false).await.unwrap();
            let top = (0..p.len()).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap();
            assert_eq!(c.run.classes[top], *want, "image {i} on {dev}");
        }
    }
}
