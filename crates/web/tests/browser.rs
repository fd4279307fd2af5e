//! fovea-web in headless Chromium (`make web-test`): the PyTorch seed-Net case and a short
//! Fashion-MNIST training run on the browser's WebGPU (SwiftShader here) and on the CPU
//! backend compiled to wasm, every read through the async path.
//!
//! The data are the real files: Fashion-MNIST's test split from Debian's
//! `dataset-fashion-mnist` (installed by `make setup`) and PyTorch's seed-Net fixture,
//! compiled into the test.
#![cfg(target_arch = "wasm32")]

mod common;

use fovea_device::{Array, CrossEntropyOptions, Device};
use fovea_graph::{cross_entropy, Tensor};
use fovea_nn::checkpoint::{load_state, NamedTensor};
use fovea_nn::{ModuleExt, Optimizer, Sgd};
use fovea_web::{Classifier, Session, TrainSettings, Trainer, Want};
use std::collections::HashMap;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const SEED_NET: &[u8] = include_bytes!("../../../tests/fixtures/seed_net_torch.safetensors");

async fn webgpu() -> Session {
    let s = Session::open(Want::Gpu)
        .await
        .expect("WebGPU (Chromium needs --enable-unsafe-webgpu, see webdriver.json)");
    assert!(!s.device.is_cpu());
    s
}

async fn devices() -> Vec<Device> {
    vec![webgpu().await.device, Device::cpu()]
}

async fn close(what: &str, got: &Array, want: &NamedTensor, tol: f32) {
    let g = got.to_vec_async().await.unwrap();
    assert_eq!(g.len(), want.data.len(), "{what}: size");
    let scale = want.data.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in g.iter().zip(&want.data).enumerate() {
        assert!(
            (a - b).abs() <= tol * scale,
            "{what}: element {i}: {a} vs PyTorch {b}"
        );
    }
}

#[wasm_bindgen_test]
async fn webgpu_opens_with_the_adapters_limits_and_names_it() {
    let s = webgpu().await;
    let r = &s.report;
    assert_eq!(r.backend, "webgpu");
    assert!(!r.adapter.is_empty(), "{r:?}");
    assert!(r.fallback_reason.is_none());
    assert!(
        r.limits["maxStorageBufferBindingSize"] >= 128 << 20,
        "{r:?}"
    );
    assert!(
        r.limits["maxComputeInvocationsPerWorkgroup"] >= 256,
        "{r:?}"
    );
}

#[wasm_bindgen_test]
async fn the_seed_net_matches_pytorch_on_webgpu_and_the_wasm_cpu_backend() {
    let fx: HashMap<String, NamedTensor> = fovea_nn::parse_safetensors(SEED_NET, "seed net")
        .unwrap()
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    let init: Vec<NamedTensor> = fx
        .values()
        .filter_map(|t| {
            let name = t.name.strip_prefix("init.")?.to_string();
            Some(NamedTensor { name, ..t.clone() })
        })
        .collect();
    for dev in devices().await {
        let net = fovea_models::build("net", None, (1, 28, 28), 10).unwrap();
        load_state(net.as_ref(), &init, true, "seed net").unwrap();
        net.to_device(&dev).unwrap();
        net.train();
        let input = &fx["input"];
        let x = Tensor::new(Array::from_slice(&dev, &input.data, &input.shape).unwrap());
        let n = fx["labels"].data.len();
        let y = Array::from_slice(&dev, &fx["labels"].data, &[n]).unwrap();
        let logits = net.forward(&x).unwrap();
        let loss = cross_entropy(&logits, &y, CrossEntropyOptions::default()).unwrap();
        let mut opt = Sgd::new(net.parameters(), 0.1).momentum(0.9);
        opt.zero_grad();
        loss.backward().unwrap();
        let tag = |w: &str| format!("seed net on {dev}: {w}");
        close(&tag("logits"), &logits.array(), &fx["logits"], 1e-4).await;
        close(&tag("loss"), &loss.array(), &fx["loss"], 1e-4).await;
        for (name, p) in net.named_parameters() {
            let g = p.grad().expect("a gradient");
            close(
                &tag(&format!("grad.{name}")),
                &g,
                &fx[&format!("grad.{name}")],
                1e-4,
            )
            .await;
        }
        opt.step().unwrap();
        for (name, t) in net.state_dict() {
            let want = &fx[&format!("step1.{name}")];
            close(&tag(&format!("step1.{name}")), &t.array(), want, 1e-4).await;
        }
    }
}

#[wasm_bindgen_test]
async fn training_on_fashion_mnist_lowers_the_loss_and_checkpoints_round_trip() {
    let all = common::fashion_test();
    let (train, test) = (all.slice(0, 30 * 32), all.slice(9800, 10000));
    let settings = TrainSettings {
        batch_size: 32,
        epochs: 1,
        ..TrainSettings::default()
    };
    for dev in devices().await {
        let mut t = Trainer::new(&dev, &settings, &train).await.unwrap();
        let mut losses = Vec::new();
        let (row, eval) = t.epoch(&test, &mut |r| losses.push(r.loss)).await.unwrap();
        assert_eq!(losses.len(), 30);
        let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
        assert!(
            mean(&losses[24..]) < 0.75 * mean(&losses[..3]),
            "the loss falls on {dev}: {losses:?}"
        );
        assert!(eval.acc > 0.5, "test accuracy {} on {dev}", eval.acc);
        assert!(row.images_per_s > 0.0);
        assert_eq!(eval.confusion.iter().flatten().sum::<u64>(), 200);

        // The checkpoint loads back (on the CPU backend) and predicts the same classes.
        let (bytes, json) = t.classifier.checkpoint().await.unwrap();
        let back = Classifier::load(&Device::cpu(), &bytes, &json).unwrap();
        let pixels = &test.images.pixels[..8 * 784];
        let a = t.classifier.predict_pixels(pixels, false).await.unwrap();
        let b = back.predict_pixels(pixels, false).await.unwrap();
        for (i, (p, q)) in a.iter().zip(&b).enumerate() {
            for (u, v) in p.iter().zip(q) {
                assert!((u - v).abs() < 1e-4, "image {i} on {dev}: {p:?} vs {q:?}");
            }
        }
    }
}

/// Whether a picture has at least two different pixels (something was drawn).
fn drawn(p: &fovea_web::explain::Picture) -> bool {
    assert_eq!(p.rgba.len(), (p.width * p.height * 4) as usize);
    p.rgba.chunks(4).any(|px| px != &p.rgba[..4])
}

#[wasm_bindgen_test]
async fn every_visualization_technique_runs_on_webgpu() {
    use fovea_web::explain::{self, AttributionOptions};
    let all = common::fashion_test();
    let (train, test) = (all.slice(0, 20 * 32), all.slice(9000, 9120));
    let settings = TrainSettings {
        batch_size: 32,
        ..TrainSettings::default()
    };
    let mut t = Trainer::new(&webgpu().await.device, &settings, &train)
        .await
        .unwrap();
    for _ in 0..20 {
        t.step().await.unwrap();
    }
    let c = &t.classifier;
    let image = test.normalized(0);
    let f = explain::filters(c, None).await.unwrap();
    assert_eq!(f.shape, vec![32, 1, 5, 5]);
    assert!(drawn(&f.picture), "filters");
    let m = explain::feature_maps(c, &image, "relu1").await.unwrap();
    assert_eq!(m.shape, vec![32, 24, 24]);
    assert!(drawn(&m.picture), "feature maps");
    for method in [
        "saliency",
        "smoothgrad",
        "guided-backprop",
        "grad-cam",
        "integrated-gradients",
        "occlusion",
    ] {
        let opts = AttributionOptions {
            method: method.into(),
            target: test.images.labels[0] as usize,
            samples: 8,
            ..AttributionOptions::default()
        };
        let a = explain::attribution(c, &image, &opts).await.unwrap();
        assert!(a.values.iter().all(|v| v.is_finite()), "{method}");
        assert!(a.values.iter().any(|v| *v != 0.0), "{method} is all zero");
        assert!(drawn(&a.picture), "{method}");
    }
    let (found, pic) = explain::top_patches(c, &test, 120, "relu1", &[0, 1, 2], 4)
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    assert!(found.iter().all(|row| row.len() == 4));
    assert!(drawn(&pic), "patches");
    for by_pixels in [false, true] {
        let nn = explain::neighbours(c, &test, 120, 5, 4, by_pixels)
            .await
            .unwrap();
        assert_eq!(nn.len(), 4);
        assert!(nn.iter().all(|(i, _)| *i != 5 && *i < 120));
        assert!(
            nn.windows(2).all(|w| w[0].1 <= w[1].1),
            "sorted by distance"
        );
    }
    let (xy, ratio) = explain::pca(c, &test, 120).await.unwrap();
    assert_eq!(xy.len(), 240);
    assert!(ratio[0] >= ratio[1] && ratio[0] > 0.0);
    let mut run = explain::tsne_start(c, &test, 120, 10.0, 60).await.unwrap();
    let mut seen = 0;
    while run.step() {
        seen += 1;
    }
    assert_eq!((seen, run.iteration()), (60, 60), "one call per iteration");
    assert!(run.positions().iter().all(|v| v.is_finite()));
    let d = explain::deep_dream(c, &image, None, 3).await.unwrap();
    assert!(drawn(&d.picture), "deep dream");
    assert!(
        d.values.iter().zip(&image).any(|(a, b)| a != b),
        "the dream changed the image"
    );
}

/// An exported Rust object back from the JS value a Promise resolved to.
trait PipeInto {
    fn pipe_into<T: wasm_bindgen::convert::TryFromJsValue>(self) -> T;
}

impl PipeInto for wasm_bindgen::JsValue {
    fn pipe_into<T: wasm_bindgen::convert::TryFromJsValue>(self) -> T {
        T::try_from_js_value(self).unwrap_or_else(|v| panic!("not the expected object: {v:?}"))
    }
}

/// Awaits a Promise from the JS API.
async fn resolve(p: js_sys::Promise) -> wasm_bindgen::JsValue {
    wasm_bindgen_futures::JsFuture::from(p)
        .await
        .unwrap_or_else(|e| panic!("the Promise was rejected: {e:?}"))
}

fn field(v: &wasm_bindgen::JsValue, k: &str) -> wasm_bindgen::JsValue {
    js_sys::Reflect::get(v, &k.into()).unwrap()
}

#[wasm_bindgen_test]
async fn the_javascript_api_trains_predicts_explains_and_refuses_a_second_call() {
    use fovea_web::bindings::{JsDataset, JsSession, JsTrainer};
    let session: JsSession = resolve(JsSession::open("best".into())).await.pipe_into();
    let report = session.report().unwrap();
    assert_eq!(field(&report, "backend").as_string().unwrap(), "webgpu");
    let (images, labels) = common::fashion_test_bytes();
    let data = JsDataset::from_idx("fashion-mnist", images, labels).unwrap();
    let train = data.slice(0, 64);
    let settings =
        js_sys::JSON::parse(r#"{"batch_size": 32, "optimizer": "adam", "lr": 0.001}"#).unwrap();
    let t: JsTrainer = resolve(JsTrainer::create(&session, settings, &train))
        .await
        .pipe_into();
    let first = t.step();
    let second = wasm_bindgen_futures::JsFuture::from(t.step()).await;
    let e = second.expect_err("a second call while the first runs is refused");
    assert!(format!("{e:?}").contains("busy"), "{e:?}");
    let r = resolve(first).await;
    assert!(field(&r, "loss").as_f64().unwrap().is_finite());
    let probs = resolve(t.predict_pixels(data.image(0), false)).await;
    let p: Vec<f64> = js_sys::Array::from(&js_sys::Array::from(&probs).get(0))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(p.len(), 10);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4);
    let ck = resolve(t.checkpoint()).await;
    let bytes = js_sys::Uint8Array::new(&field(&ck, "safetensors")).to_vec();
    let json = field(&ck, "runJson").as_string().unwrap();
    assert!(Classifier::load(&Device::cpu(), &bytes, &json).is_ok());
    let sal = resolve(t.attribution(
        data.normalized(0),
        js_sys::JSON::parse(r#"{"method": "saliency"}"#).unwrap(),
    ))
    .await;
    assert_eq!(field(&sal, "width").as_f64().unwrap(), 112.0);
    let e = wasm_bindgen_futures::JsFuture::from(JsTrainer::create(
        &session,
        js_sys::JSON::parse(r#"{"model": "resnet"}"#).unwrap(),
        &train,
    ))
    .await
    .expect_err("an unknown model is refused");
    assert!(format!("{e:?}").contains("resnet"), "{e:?}");
}

#[wasm_bindgen_test]
async fn vgg16s_classifier_runs_on_webgpu_with_fc6_split_across_bindings() {
    use fovea_nn::{Linear, Module};
    // fc6's weight is 25088 x 4096 floats (411 MB). SwiftShader binds up to 1 GiB, so cap
    // bindings at 64 Mi floats (256 MiB, what many real adapters allow) to make it split
    // as it must there.
    let g = Device::new_gpu(&fovea_device::GpuOptions {
        binding_cap: Some(64 << 20),
        ..Default::default()
    })
    .await
    .expect("WebGPU (Chromium needs --enable-unsafe-webgpu, see webdriver.json)");
    fovea_nn::manual_seed(0);
    let layers = [
        Linear::new(25088, 4096),
        Linear::new(4096, 4096),
        Linear::new(4096, 1000),
    ];
    let x = Array::randn(&Device::cpu(), &[2, 25088], 1).unwrap();
    let run = |x: Tensor| -> Tensor {
        let mut h = x;
        for (i, l) in layers.iter().enumerate() {
            h = l.forward(&h).unwrap();
            if i < 2 {
                h = h.relu().unwrap();
            }
        }
        h
    };
    let want = run(Tensor::new(x.clone())).to_vec_async().await.unwrap();
    for l in &layers {
        l.to_device(&g).unwrap();
    }
    let got = run(Tensor::new(x.to_device(&g).unwrap()))
        .to_vec_async()
        .await
        .unwrap();
    assert_eq!(got.len(), 2000);
    let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-3 * scale,
            "logit {i}: WebGPU {a}, CPU {b}"
        );
    }
}
