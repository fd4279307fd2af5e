//! # fovea-data
//!
//! Datasets for the course: MNIST-format IDX files (gzipped or not) with strict checks,
//! Fashion-MNIST and MNIST found on disk (`$FOVEA_DATA`, `./data`, Debian's
//! `dataset-fashion-mnist`), normalisation, augmentation (random crop, flip, resize), torchvision-style image folders,
//! downloads with SHA-256 checks ([`fetch`]), and a seeded, prefetching [`DataLoader`].

mod augment;
mod dataset;
mod error;
#[cfg(not(target_arch = "wasm32"))]
pub mod fetch;
mod folder;
pub mod idx;
mod loader;
mod transform;

pub use augment::{resize_bilinear, Augment, Image};
pub use dataset::{ImageDataset, MnistKind, Split, FASHION_CLASSES, FILES};
pub use error::{Error, Result};
pub use folder::{decode_image, has_image_extension, read_image, ImageFolder, IMAGE_EXTENSIONS};
pub use idx::{decode_idx, read_idx, Idx};
pub use loader::{Batch, DataLoader};
pub use transform::{Normalize, FASHION_MEAN, FASHION_STD};
