//! What the browser suites share: Fashion-MNIST's test split compiled in from Debian's
//! `dataset-fashion-mnist` (installed by `make setup`; a missing file fails the build).
#![allow(dead_code)]

use fovea_device::Device;
use fovea_web::{Dataset, TrainSettings, Trainer};

const TEST_IMAGES: &[u8] =
    include_bytes!("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] =
    include_bytes!("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");

/// Fashion-MNIST's 10,000 test images, decoded from the gzipped IDX bytes.
pub fn fashion_test() -> Dataset {
    Dataset::from_idx("fashion-mnist", TEST_IMAGES, TEST_LABELS).unwrap()
}

/// The raw IDX bytes (images, labels), for the JS API.
pub fn fashion_test_bytes() -> (&'static [u8], &'static [u8]) {
    (TEST_IMAGES, TEST_LABELS)
}

/// The losses of 8 training steps of the Net (batch 32) on 256 Fashion-MNIST images.
pub async fn eight_step_losses(device: &Device) -> Vec<f32> {
    let data = fashion_test().slice(0, 256);
    let settings = TrainSettings {
        batch_size: 32,
        ..TrainSettings::default()
    };
    let mut t = Trainer::new(device, &settings, &data).await.unwrap();
    let mut losses = Vec::new();
    for _ in 0..8 {
        losses.push(t.step().await.unwrap().loss);
    }
    losses
}
