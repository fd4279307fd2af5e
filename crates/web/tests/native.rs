//! fovea-web's core run natively against the `fovea` command: the page's training loop on
//! real Fashion-MNIST bytes, and checkpoints crossing between `fovea train` and the page
//! both ways. (The same core runs in headless Chromium in `tests/browser.rs`.)
#![cfg(not(target_arch = "wasm32"))]

use fovea_cli::predict::predict;
use fovea_cli::run::{load_run, Which};
use fovea_cli::train::{train, TrainConfig};
use fovea_data::{MnistKind, FILES};
use fovea_device::Device;
use fovea_web::{Classifier, Dataset, TrainSettings, Trainer};
use std::path::PathBuf;

/// Fashion-MNIST's IDX files as bytes (`make setup` installs Debian's copy).
fn idx(file: usize) -> Vec<u8> {
    let dir = MnistKind::Fashion
        .find()
        .expect("Fashion-MNIST (make setup installs dataset-fashion-mnist)");
    let gz = dir.join(format!("{}.gz", FILES[file]));
    std::fs::read(if gz.exists() {
        gz
    } else {
        dir.join(FILES[file])
    })
    .unwrap()
}

fn test_set() -> Dataset {
    Dataset::from_idx("fashion-mnist", &idx(2), &idx(3)).unwrap()
}

/// Test images as PNG files, raw bytes as `fovea predict` reads them.
fn pngs(data: &Dataset, n: usize, dir: &std::path::Path) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("img{i}.png"));
            image::GrayImage::from_raw(28, 28, data.images.image(i).to_vec())
                .unwrap()
                .save(&p)
                .unwrap();
            p
        })
        .collect()
}

fn top(p: &[f32]) -> usize {
    (0..p.len()).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap()
}

#[test]
fn the_page_loop_learns_fashion_mnist_and_its_checkpoint_loads_in_fovea() {
    let all = test_set();
    let (train_set, test) = (all.slice(0, 2000), all.slice(9000, 9400));
    let dev = Device::cpu();
    let settings = TrainSettings {
        epochs: 1,
        ..TrainSettings::default()
    };
    let mut t = fovea_device::block_on(Trainer::new(&dev, &settings, &train_set)).unwrap();
    let mut losses = Vec::new();
    let (row, eval) = fovea_device::block_on(t.epoch(&test, &mut |r| losses.push(r.loss))).unwrap();
    assert_eq!(losses.len(), 32, "2000 images in batches of 64");
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    assert!(
        mean(&losses[24..]) < 0.7 * mean(&losses[..4]),
        "the loss falls: {losses:?}"
    );
    assert!(
        eval.acc > 0.6,
        "test accuracy {} after 2000 images",
        eval.acc
    );
    assert_eq!(row.test_acc, eval.acc);
    let counted: u64 = eval.confusion.iter().flatten().sum();
    assert_eq!(counted, 400);

    // The page's checkpoint is a run folder `fovea` reads.
    let (bytes, json) = fovea_device::block_on(t.classifier.checkpoint()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("best.safetensors"), &bytes).unwrap();
    std::fs::write(dir.path().join("run.json"), &json).unwrap();
    let (info, _) = load_run(dir.path(), Which::Best, &dev).expect("fovea reads the page's run");
    assert_eq!(info.classes, all.images.classes);
    let images = pngs(&test, 12, dir.path());
    let cli = predict(dir.path(), &images, 1, Which::Best, "cpu", false).unwrap();
    for (i, p) in cli.iter().enumerate() {
        let page = fovea_device::block_on(t.classifier.predict_pixels(test.images.image(i), false))
            .unwrap();
        assert_eq!(p.top[0].0, all.images.classes[top(&page[0])], "image {i}");
        assert!((p.top[0].1 - page[0][top(&page[0])]).abs() < 1e-5);
    }
}

#[test]
fn a_fovea_train_run_loads_in_the_page_and_predicts_what_fovea_predict_does() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let cfg = TrainConfig {
        epochs: Some(1),
        device: "cpu".into(),
        out: run.clone(),
        train_limit: Some(1000),
        test_limit: Some(200),
        ..TrainConfig::default()
    };
    train(&cfg).expect("Fashion-MNIST (make setup installs it)");
    let bytes = std::fs::read(run.join("best.safetensors")).unwrap();
    let json = std::fs::read_to_string(run.join("run.json")).unwrap();
    let c = Classifier::load(&Device::cpu(), &bytes, &json).unwrap();
    let test = test_set();
    let images = pngs(&test, 16, dir.path());
    let cli = predict(&run, &images, 3, Which::Best, "cpu", false).unwrap();
    for (i, (p, path)) in cli.iter().zip(&images).enumerate() {
        let png = std::fs::read(path).unwrap();
        let page = fovea_device::block_on(c.predict_image(&png, false)).unwrap();
        assert_eq!(p.top[0].0, test.images.classes[top(&page)], "image {i}");
    }
    // Another architecture's checkpoint is refused, naming what differs.
    let wrong = json.replace("\"model\": \"net\"", "\"model\": \"vgg-small\"");
    let e = Classifier::load(&Device::cpu(), &bytes, &wrong)
        .err()
        .unwrap();
    assert!(e.contains("checkpoint"), "{e}");
}

#[test]
fn bad_input_gets_one_clear_error() {
    let e = Dataset::from_idx("fashion-mnist", &idx(2)[..1000], &idx(3)).unwrap_err();
    assert!(e.contains("images IDX file"), "{e}");
    let e = Dataset::from_idx("cifar", &idx(2), &idx(3)).unwrap_err();
    assert!(e.contains("fashion-mnist or mnist"), "{e}");
    let e = Dataset::from_idx("fashion-mnist", &idx(2), &idx(1)).unwrap_err();
    assert!(e.contains("labels"), "{e}");
    let data = test_set().slice(0, 64);
    for (settings, want) in [
        (
            TrainSettings {
                model: "resnet".into(),
                ..TrainSettings::default()
            },
            "resnet",
        ),
        (
            TrainSettings {
                arch: Some("conv 8 k3, relu, bogus 3, linear".into()),
                ..TrainSettings::default()
            },
            "bogus",
        ),
        (
            TrainSettings {
                optimizer: "rmsprop".into(),
                ..TrainSettings::default()
            },
            "sgd, adam, adamw",
        ),
        (
            TrainSettings {
                schedule: "warm".into(),
                ..TrainSettings::default()
            },
            "onecycle",
        ),
    ] {
        let e = fovea_device::block_on(Trainer::new(&Device::cpu(), &settings, &data))
            .err()
            .unwrap();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn images_from_bytes_become_a_dataset_with_sorted_classes() {
    let png = |v: u8| {
        let mut out = std::io::Cursor::new(Vec::new());
        image::GrayImage::from_pixel(7, 5, image::Luma([v]))
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    };
    let files = vec![
        ("shirt".to_string(), png(200)),
        ("boot".to_string(), png(10)),
        ("shirt".to_string(), png(100)),
    ];
    let d = Dataset::from_images(&files, 1, (4, 4), None).unwrap();
    assert_eq!(d.images.classes, ["boot", "shirt"]);
    assert_eq!(d.images.labels, [1, 0, 1]);
    assert_eq!(d.images.image_shape, (1, 4, 4));
    assert_eq!(d.images.image(1), [10u8; 16]);
    let mean = (200.0 + 10.0 + 100.0) / 3.0 / 255.0;
    assert!((d.norm.mean[0] - mean).abs() < 1e-5, "{:?}", d.norm);
    let test = Dataset::from_images(&files[..1], 1, (4, 4), Some(d.norm.clone())).unwrap();
    assert_eq!(
        test.norm, d.norm,
        "a test split keeps the training split's normalisation"
    );
    let bad = vec![("boot".to_string(), b"not a png".to_vec())];
    let e = Dataset::from_images(&bad, 1, (4, 4), None).unwrap_err();
    assert!(
        e.contains("image 0 (class boot)") && e.contains("PNG"),
        "{e}"
    );
}

#[test]
fn grad_cam_and_deep_dream_pick_image_layers_of_any_model_by_default() {
    use fovea_web::explain::{attribution, deep_dream, AttributionOptions};
    let data = test_set().slice(0, 64);
    for model in ["net", "vgg-small", "vgg-small-bn"] {
        let settings = TrainSettings {
            model: model.into(),
            ..TrainSettings::default()
        };
        let t = fovea_device::block_on(Trainer::new(&Device::cpu(), &settings, &data)).unwrap();
        let image = data.normalized(0);
        let opts = AttributionOptions {
            method: "grad-cam".into(),
            ..AttributionOptions::default()
        };
        let cam = fovea_device::block_on(attribution(&t.classifier, &image, &opts))
            .unwrap_or_else(|e| panic!("Grad-CAM on {model}: {e}"));
        assert_eq!(cam.shape, vec![28, 28], "{model}");
        fovea_device::block_on(deep_dream(&t.classifier, &image, None, 1))
            .unwrap_or_else(|e| panic!("DeepDream on {model}: {e}"));
    }
}
