//! What `fovea train` tells a person and leaves behind: the device it chose and why, plain
//! progress lines when stderr is not a terminal, the per-step loss log and its curve, and
//! GPU memory that stays flat from one epoch to the next.

use fovea_cli::train::{read_steps, train, TrainConfig};
use fovea_device::Device;
use std::process::Command;

#[test]
fn default_device_is_the_fastest_and_progress_and_steps_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args([
            "train",
            "--epochs",
            "1",
            "--train-limit",
            "256",
            "--test-limit",
            "100",
        ])
        .args([
            "--log-every",
            "2",
            "--seed",
            "2",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("FOVEA_PROGRESS_SECS", "0")
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");

    // One line names the device and the reason.
    let device_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("device: ")).collect();
    assert_eq!(device_lines.len(), 1, "{err}");
    let adapters = Device::adapters().unwrap();
    if adapters.iter().all(|a| a.is_software()) {
        assert!(
            device_lines[0].starts_with("device: CPU backend"),
            "with only software adapters ({adapters:?}) training runs on the CPU backend: {err}"
        );
        if !adapters.is_empty() {
            assert!(device_lines[0].contains("software renderer"), "{err}");
            assert!(device_lines[0].contains(&adapters[0].name), "{err}");
        }
    } else {
        assert!(device_lines[0].contains("a hardware GPU"), "{err}");
    }

    // Plain progress lines, since stderr is a pipe here (one per step with the interval at 0).
    let progress = err.lines().filter(|l| l.starts_with("epoch 1/1: ")).count();
    assert!(progress >= 4, "a line per step expected: {err}");
    assert!(err.contains("ETA"), "{err}");

    // The per-step log: 4 steps of 64 images, a row every 2 steps.
    let steps = read_steps(&out, usize::MAX).unwrap();
    assert_eq!(
        steps.iter().map(|r| r.step).collect::<Vec<_>>(),
        [2, 4],
        "{steps:?}"
    );
    assert!((steps[1].epoch - 1.0).abs() < 1e-9);
    assert!(steps
        .iter()
        .all(|r| r.loss > 0.0 && (0.0..=1.0).contains(&r.acc)));
    for chart in ["loss.svg", "accuracy.svg"] {
        let svg = std::fs::read_to_string(out.join(chart)).unwrap();
        assert!(svg.contains("train (per step, smoothed)"), "{chart}");
        assert!(svg.contains("test (per epoch)"), "{chart}");
        // raw, smoothed and test lines
        assert!(svg.matches("<polyline").count() >= 3, "{chart}");
    }
}

#[test]
fn gpu_pool_bytes_do_not_grow_after_the_first_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        epochs: Some(4),
        device: "gpu".into(),
        out: dir.path().join("run"),
        train_limit: Some(320),
        test_limit: Some(200),
        ..TrainConfig::default()
    };
    let rows = train(&cfg).expect("Fashion-MNIST and a Vulkan adapter (make setup installs both)");
    assert_eq!(rows.len(), 4);
    let total = |k: usize| rows[k].pool_in_use_mib + rows[k].pool_cached_mib;
    assert!(total(0) > 0.0, "the GPU pool is in use: {rows:?}");
    for k in 1..rows.len() {
        assert!(
            total(k) <= total(0),
            "epoch {} holds {:.2} MiB, epoch 1 {:.2} MiB: {rows:?}",
            k + 1,
            total(k),
            total(0)
        );
    }
    let csv = std::fs::read_to_string(cfg.out.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("epoch,") && csv.lines().next().unwrap().ends_with(",rss_mib"));
}
