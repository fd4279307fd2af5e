//! Shared test helpers: the devices, the course's nets, fixture access and comparisons.
#![allow(dead_code)]

use fovea_device::{Array, Device};
use fovea_nn::checkpoint::NamedTensor;
use fovea_nn::{
    BatchNorm2d, Conv2d, Conv2dConfig, Dropout, Flatten, Linear, MaxPool2d, Module, ModuleExt,
    ReLU, Result, Sequential, Tensor,
};
use std::collections::HashMap;
use std::path::PathBuf;

/// The process-wide GPU (lavapipe here).
pub fn gpu() -> Device {
    Device::gpu().expect("a Vulkan adapter (install mesa-vulkan-drivers)")
}

/// Both devices, GPU first.
pub fn devices() -> Vec<Device> {
    vec![gpu(), Device::cpu()]
}

/// Where the PyTorch net fixtures live: `tests/fixtures` in the repository (or `$FOVEA_NET_FIXTURES`).
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("FOVEA_NET_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures"))
        })
}

/// A fixture file's tensors by name.
pub fn fixture(file: &str) -> HashMap<String, NamedTensor> {
    let path = fixtures_dir().join(file);
    fovea_nn::read_safetensors(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect()
}

/// The course's seed Net: conv1 (1->32, 5x5), ReLU, 2x2 max pool, fc1 (4608 -> 10).
pub struct SeedNet {
    pub conv1: Conv2d,
    pub pool: MaxPool2d,
    pub fc1: Linear,
}

impl SeedNet {
    pub fn new() -> SeedNet {
        SeedNet::with_fc_in(32 * 12 * 12)
    }

    pub fn with_fc_in(fc_in: usize) -> SeedNet {
        let net = SeedNet {
            conv1: Conv2d::new(1, 32, 5),
            pool: MaxPool2d::new(2),
            fc1: Linear::new(fc_in, 10),
        };
        net.name_layers();
        net
    }
}

impl Module for SeedNet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.pool.call(&self.conv1.call(x)?.relu()?)?;
        self.fc1.call(&x.flatten(1, -1)?)
    }
    fn type_name(&self) -> &'static str {
        "Net"
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("conv1".into(), &self.conv1),
            ("pool".into(), &self.pool),
            ("fc1".into(), &self.fc1),
        ]
    }
}

/// The small VGG of the fixture: two blocks of two 3x3 convs with BatchNorm, then
/// Linear(3136, 256), ReLU, Dropout(p), Linear(256, 10).
pub struct SmallVgg {
    pub features: Sequential,
    pub classifier: Sequential,
}

impl SmallVgg {
    pub fn new(dropout: f32) -> SmallVgg {
        let conv = |i, o| {
            Conv2d::with(
                i,
                o,
                3,
                Conv2dConfig {
                    padding: 1,
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let features = Sequential::new()
            .add(conv(1, 32))
            .add(BatchNorm2d::new(32))
            .add(ReLU::new())
            .add(conv(32, 32))
            .add(BatchNorm2d::new(32))
            .add(ReLU::new())
            .add(MaxPool2d::new(2))
            .add(conv(32, 64))
            .add(BatchNorm2d::new(64))
            .add(ReLU::new())
            .add(conv(64, 64))
            .add(BatchNorm2d::new(64))
            .add(ReLU::new())
            .add(MaxPool2d::new(2));
        let classifier = Sequential::new()
            .add(Linear::new(3136, 256))
            .add(ReLU::new())
            .add(Dropout::new(dropout))
            .add(Linear::new(256, 10));
        let net = SmallVgg {
            features,
            classifier,
        };
        net.name_layers();
        net
    }
}

impl Module for SmallVgg {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let f = self.features.call(x)?;
        self.classifier.call(&Flatten::new().call(&f)?)
    }
    fn type_name(&self) -> &'static str {
        "SmallVgg"
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("features".into(), &self.features),
            ("classifier".into(), &self.classifier),
        ]
    }
}

/// `got` against `want` with the fixtures' criterion `max|got - want| <= tol * max(1, max|want|)`.
pub fn assert_close_vec(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let (mut worst, mut at) = (0.0f32, 0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        if d > worst || d.is_nan() {
            worst = d;
            at = i;
        }
    }
    assert!(
        worst <= tol * scale,
        "{what}: max error {worst:e} at {at} (got {}, want {}) exceeds {tol:e} x {scale}",
        got[at],
        want[at]
    );
}

/// An array's values against a fixture tensor.
pub fn assert_matches(what: &str, got: &Array, want: &NamedTensor, tol: f32) {
    assert_eq!(squeeze(got.shape()), squeeze(&want.shape), "{what}: shape");
    assert_close_vec(what, &got.to_vec().unwrap(), &want.data, tol);
}

fn squeeze(s: &[usize]) -> Vec<usize> {
    s.iter().copied().filter(|&d| d != 1).collect()
}
