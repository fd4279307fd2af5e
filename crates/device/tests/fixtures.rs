//! Ops against PyTorch's conformance cases in `../shared/fixtures/ops` (format: that folder's
//! README), on the GPU and on the CPU reference. Agreement per tensor, as the README states:
//! `max|got - want| <= 1e-4 * max(1, max|want|)`.

mod common;

use fovea_device::{Array, Conv2dOptions, Device};
use safetensors::SafeTensors;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    std::env::var_os("FOVEA_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/fixtures/ops"
            ))
        })
}

struct Case {
    name: String,
    attrs: serde_json::Value,
    tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
}

impl Case {
    fn load(path: &std::path::Path) -> Case {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let attrs = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("attrs"))
            .expect("an attrs entry");
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let tensors = st
            .tensors()
            .into_iter()
            .map(|(n, t)| {
                let v = t
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                (n, t.shape().to_vec(), v)
            })
            .collect();
        Case {
            name: path.display().to_string(),
            attrs: serde_json::from_str(attrs).unwrap(),
            tensors,
        }
    }

    fn get(&self, dev: &Device, name: &str) -> Array {
        let (_, s, v) = self
            .tensors
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("{}: no `{name}`", self.name));
        Array::from_slice(dev, v, s).unwrap()
    }

    fn check(&self, dev: &Device, name: &str, got: &Array) {
        let (_, s, want) = self.tensors.iter().find(|(n, _, _)| n == name).unwrap();
        assert_eq!(got.shape(), &s[..], "{} {name}: shape", self.name);
        let g = got.to_vec().unwrap();
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let err = g
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            err <= 1e-4 * scale,
            "{} {name} on {dev}: max error {err} over {scale}",
            self.name
        );
    }

    fn attr(&self, key: &str) -> usize {
        self.attrs[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: attribute {key}", self.name)) as usize
    }
}

fn cases(op: &str) -> Vec<Case> {
    let dir = fixture_dir();
    let mut out: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixtures at {}: {e} (set FOVEA_FIXTURES)", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .map(|p| Case::load(&p))
        .filter(|c| c.attrs["op"] == op)
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[test]
fn conv2d_matches_pytorch() {
    let found = cases("conv2d");
    assert!(
        !found.is_empty(),
        "no conv2d cases in {}",
        fixture_dir().display()
    );
    for case in found {
        let opts = Conv2dOptions::new(
            case.attr("stride"),
            case.attr("padding"),
            case.attr("dilation"),
        )
        .groups(case.attr("groups"));
        for dev in [common::gpu(), Device::cpu()] {
            let (x, w, b, gy) = (
                case.get(&dev, "x"),
                case.get(&dev, "weight"),
                case.get(&dev, "bias"),
                case.get(&dev, "grad_y"),
            );
            case.check(&dev, "y", &x.conv2d(&w, Some(&b), opts).unwrap());
            case.check(
                &dev,
                "grad_x",
                &Array::conv2d_backward_data(&gy, &w, x.shape(), opts).unwrap(),
            );
            case.check(
                &dev,
                "grad_weight",
                &Array::conv2d_backward_weight(&x, &gy, w.shape(), opts).unwrap(),
            );
            case.check(&dev, "grad_bias", &gy.sum(&[0, 2, 3], false).unwrap());
        }
    }
}
