//! Training the course's Net on 2,000 real Fashion-MNIST images on the GPU: the loss falls,
//! accuracy beats chance (10%) by a wide margin, and the run folder holds what it promises.

use fovea_cli::train::{train, TrainConfig};
use std::path::PathBuf;

#[test]
fn net_learns_on_a_fashion_mnist_subset_on_the_gpu() {
    let tmp = tempfile::Builder::new()
        .prefix("fovea-train-")
        .tempdir()
        .unwrap();
    let out = tmp.path().join("run");
    let cfg = TrainConfig {
        epochs: Some(2),
        seed: 1,
        device: "gpu".into(),
        out: out.clone(),
        overwrite: true,
        train_limit: Some(2000),
        test_limit: Some(1000),
        ..TrainConfig::default()
    };
    assert_eq!(
        (cfg.model.as_str(), cfg.lr, cfg.batch_size),
        ("net", 0.01, 64)
    );
    let rows = train(&cfg).expect("Fashion-MNIST must be installed (make setup installs it)");
    assert_eq!(rows.len(), 2);
    assert!(rows[1].train_loss < rows[0].train_loss, "{rows:?}");
    assert!(
        rows[0].train_loss < 2.0,
        "below ln(10) = 2.30 within an epoch: {rows:?}"
    );
    assert!(rows[1].test_acc > 0.6, "chance is 0.1: {rows:?}");
    for f in [
        "metrics.csv",
        "loss.svg",
        "accuracy.svg",
        "confusion.svg",
        "last.safetensors",
        "best.safetensors",
        "last.optim.safetensors",
        "run.json",
    ] {
        assert!(PathBuf::from(&out).join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
    let eval = fovea_cli::train::eval_run(&out, "gpu", None).unwrap();
    assert!(
        eval.acc > 0.6,
        "the best checkpoint on the full test set: {}",
        eval.acc
    );
}
