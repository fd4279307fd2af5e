//! # fovea-data
//!
//! Datasets for the course: MNIST-format IDX files (gzipped or not) with strict checks,
//! Fashion-MNIST and MNIST found on disk (`$FOVEA_DATA`, `./data`, Debian's
//! `dataset-fashion-mnist`), normalisation, and a seeded, prefetching [`DataLoader`].

mod dataset;
mod error;
pub mod idx;
mod loader;
mod transform;

pub use dataset::{ImageDataset, MnistKind, Split, FASHION_CLASSES, FILES};
pub use error::{Error, Result};
pub use idx::{read_idx, Idx};
pub use loader::{Batch, DataLoader};
pub use transform::{Normalize, FASHION_MEAN, FASHION_STD};
