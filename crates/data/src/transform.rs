//! Per-image transforms from bytes to normalised f32 (`ToTensor` + `Normalize`).

use crate::error::{Error, Result};

/// `ToTensor()` then `Normalize(mean, std)`: `(byte / 255 - mean) / std`, per channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalize {
    /// per-channel mean (one value applies to all channels)
    pub mean: Vec<f32>,
    /// per-channel standard deviation
    pub std: Vec<f32>,
}

/// Fashion-MNIST's training-set statistics (the course's normalisation).
pub const FASHION_MEAN: f32 = 0.286;
/// Fashion-MNIST's training-set standard deviation.
pub const FASHION_STD: f32 = 0.353;

impl Normalize {
    /// One mean and std for every channel.
    pub fn new(mean: f32, std: f32) -> Result<Normalize> {
        Self::per_channel(vec![mean], vec![std])
    }

    /// A mean and std per channel.
    pub fn per_channel(mean: Vec<f32>, std: Vec<f32>) -> Result<Normalize> {
        if mean.is_empty() || mean.len() != std.len() || std.iter().any(|s| s.is_nan() || *s <= 0.0)
        {
            return Err(Error::Config {
                what: "Normalize",
                msg: format!("mean {mean:?} and std {std:?} need the same length and std > 0"),
            });
        }
        Ok(Normalize { mean, std })
    }

    /// Per-channel mean and std of a dataset's pixels scaled to 0..1 (std at least 1e-3),
    /// the normalisation an image-folder dataset trains with.
    pub fn of_dataset(d: &crate::ImageDataset) -> Result<Normalize> {
        let (c, h, w) = d.image_shape;
        let plane = h * w;
        let (mut sum, mut sq) = (vec![0f64; c], vec![0f64; c]);
        for i in 0..d.len() {
            for (k, &b) in d.image(i).iter().enumerate() {
                let v = b as f64 / 255.0;
                sum[k / plane] += v;
                sq[k / plane] += v * v;
            }
        }
        let n = (d.len() * plane).max(1) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| ((q / n - (*m as f64).powi(2)).max(1e-12).sqrt() as f32).max(1e-3))
            .collect();
        Normalize::per_channel(mean, std)
    }

    /// Only `byte / 255`.
    pub fn identity() -> Normalize {
        Normalize {
            mean: vec![0.0],
            std: vec![1.0],
        }
    }

    /// Normalises values already scaled to 0..1 (`C * plane` of them), in place.
    pub fn apply_f32(&self, values: &mut [f32], channels: usize) {
        let plane = values.len() / channels.max(1);
        for (i, v) in values.iter_mut().enumerate() {
            let c = (i / plane.max(1)).min(self.mean.len() - 1);
            *v = (*v - self.mean[c]) / self.std[c];
        }
    }

    /// Writes the normalised image (`C * plane` bytes) into `out`.
    pub fn apply(&self, bytes: &[u8], channels: usize, out: &mut [f32]) {
        let plane = bytes.len() / channels.max(1);
        for (i, (b, o)) in bytes.iter().zip(out.iter_mut()).enumerate() {
            let c = (i / plane.max(1)).min(self.mean.len() - 1);
            *o = (*b as f32 / 255.0 - self.mean[c]) / self.std[c];
        }
    }
}
