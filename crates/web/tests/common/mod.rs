//! What the browser suites share: Fashion-MNIST's test split compiled in from Debian's
//! `dataset-fashion-mnist` (installed by `make setup`; a missing file fails the build).
#![allow(dead_code)]

use fovea_web::Dataset;

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
