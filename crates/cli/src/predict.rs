//! `fovea predict RUN_DIR IMAGE...`: the top-k classes of each image with probabilities.

use crate::run::{load_run, RunFolder, Which};
use crate::Res;
use fovea_data::read_image;
use fovea_device::{Array, Device};
use fovea_graph::{NoGradGuard, Tensor};
use fovea_nn::ModuleExt;
use std::path::{Path, PathBuf};

/// One image's most likely classes, most likely first.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// the image file
    pub path: PathBuf,
    /// `(class name, probability)`
    pub top: Vec<(String, f32)>,
}

/// Probabilities from logits (softmax, computed stably).
fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// Classifies `images` with the run's `which` checkpoint. Each image is decoded to the
/// run's channels, resized to its input size, optionally inverted (for dark objects on a
/// light background, the opposite of Fashion-MNIST) and normalised as in training. Every
/// image is read before anything runs, so a bad file fails the whole call up front.
pub fn predict(
    dir: &Path,
    images: &[PathBuf],
    k: usize,
    which: Which,
    device: &str,
    invert: bool,
) -> Res<Vec<Prediction>> {
    if images.is_empty() {
        return Err("give at least one image file to classify".into());
    }
    let dev = Device::from_name(device)?;
    let (info, model) = load_run(dir, which, &dev)?;
    let (c, h, w) = info.input();
    let norm = info.normalize()?;
    let per = c * h * w;
    let mut batch = vec![0.0f32; images.len() * per];
    for (i, path) in images.iter().enumerate() {
        let (mut bytes, _) = read_image(path, c, Some((h, w)))?;
        if invert {
            bytes.iter_mut().for_each(|b| *b = 255 - *b);
        }
        norm.apply(&bytes, c, &mut batch[i * per..(i + 1) * per]);
    }
    let _guard = NoGradGuard::new();
    let x = Tensor::new(Array::from_slice(&dev, &batch, &[images.len(), c, h, w])?);
    let logits = model.call(&x)?.to_vec()?;
    let classes = info.classes.len();
    Ok(images
        .iter()
        .zip(logits.chunks(classes))
        .map(|(path, l)| {
            let p = softmax(l);
            let mut order: Vec<usize> = (0..classes).collect();
            order.sort_by(|a, b| p[*b].total_cmp(&p[*a]));
            Prediction {
                path: path.clone(),
                top: order
                    .into_iter()
                    .take(k.max(1))
                    .map(|i| (info.classes[i].clone(), p[i]))
                    .collect(),
            }
        })
        .collect())
}
