//! The conformance runner on PyTorch's cases in the repository's `tests/fixtures/ops` (or
//! `$FOVEA_FIXTURES`), on the GPU and the CPU reference; and proof that it fails loudly on a
//! perturbed case, a malformed file and an unknown op.

#[path = "../../device/tests/common/mod.rs"]
mod common;

use fovea_conformance as conformance;
use fovea_device::Device;
use safetensors::tensor::{serialize, TensorView};
use safetensors::Dtype;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    std::env::var_os("FOVEA_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/fixtures/ops"
            ))
        })
}

fn run(dir: &Path, dev: &Device) -> Vec<conformance::Report> {
    let reports = conformance::run_dir(dir, dev).unwrap();
    for r in &reports {
        println!("{}", r.line());
    }
    reports
}

fn all_pass(dev: &Device) {
    let reports = run(&fixture_dir(), dev);
    assert!(
        reports.len() >= 13,
        "expected the 13 cases of tests/fixtures/ops"
    );
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.line())
        .collect();
    assert!(failed.is_empty(), "failed on {dev}:\n{}", failed.join("\n"));
}

#[test]
fn every_shared_case_passes_on_the_gpu() {
    all_pass(&common::gpu());
}

#[test]
fn every_shared_case_passes_on_the_cpu_reference() {
    all_pass(&Device::cpu());
}

/// Rewrites a case with one tensor changed by `f`, and the metadata replaced if given.
fn rewrite(src: &Path, dst: &Path, tensor: &str, f: impl Fn(&mut [f32]), attrs: Option<&str>) {
    let case = conformance::Case::load(src).unwrap();
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = case
        .tensors
        .iter()
        .map(|(n, s, v)| {
            let mut v = v.clone();
            if n == tensor {
                f(&mut v);
            }
            let b = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            (n.clone(), s.clone(), b)
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let attrs = attrs.map_or_else(|| case.attrs.to_string(), str::to_string);
    let meta = HashMap::from([("attrs".to_string(), attrs)]);
    std::fs::write(dst, serialize(views, Some(meta)).unwrap()).unwrap();
}

#[test]
fn perturbed_malformed_and_unknown_cases_fail_loudly() {
    let tmp = tempfile::Builder::new()
        .prefix("fovea-conformance-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_path_buf();
    let src = fixture_dir();
    // the expected output off by 1% of its largest value in one element
    rewrite(
        &src.join("conv2d_0.safetensors"),
        &dir.join("a_perturbed.safetensors"),
        "y",
        |v| {
            let m = v.iter().fold(1.0f32, |m, x| m.max(x.abs()));
            v[3] += 0.01 * m;
        },
        None,
    );
    rewrite(
        &src.join("linear_0.safetensors"),
        &dir.join("b_unknown.safetensors"),
        "y",
        |_| {},
        Some(r#"{"op": "linear_but_not_really"}"#),
    );
    std::fs::write(dir.join("c_truncated.safetensors"), b"\x10\x00\x00").unwrap();
    rewrite(
        &src.join("linear_0.safetensors"),
        &dir.join("d_intact.safetensors"),
        "y",
        |_| {},
        None,
    );
    let dev = Device::cpu();
    let reports = run(&dir, &dev);
    let verdicts: Vec<bool> = reports.iter().map(|r| r.passed()).collect();
    assert_eq!(verdicts, [false, false, false, true]);
    assert!(reports[0].line().contains("y ") && reports[0].line().contains("(over)"));
    assert!(reports[1]
        .line()
        .contains("unknown op `linear_but_not_really`"));
    let bad = reports[2].line();
    assert!(
        bad.contains("malformed") && bad.contains("c_truncated.safetensors"),
        "{bad}"
    );
}

/// The `conformance` example binary, which `cargo test` builds beside the test binaries.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let bin = dir.join(format!("conformance{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not built (cargo test builds examples)",
        bin.display()
    );
    bin
}

#[test]
fn the_example_prints_the_summary_and_sets_the_exit_status() {
    let ok = std::process::Command::new(example())
        .args([fixture_dir().to_str().unwrap(), "--device", "cpu"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{text}");
    let last = text.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");

    let tmp = tempfile::Builder::new()
        .prefix("fovea-conformance-ex-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_path_buf();
    rewrite(
        &fixture_dir().join("maxpool2d_1.safetensors"),
        &dir.join("perturbed.safetensors"),
        "grad_x",
        |v| v[0] += 0.5,
        None,
    );
    let bad = std::process::Command::new(example())
        .args([dir.to_str().unwrap(), "--device", "cpu"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(!bad.status.success(), "a perturbed case must fail: {text}");
    assert!(text.contains("FAIL perturbed.safetensors"), "{text}");
    assert_eq!(text.lines().last(), Some("0 passed, 1 failed"));
}
