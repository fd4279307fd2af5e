//! A model with what it needs to classify: its run description (classes, input shape,
//! normalisation). Prediction, evaluation with the confusion matrix, and checkpoints as
//! bytes in `fovea train`'s format.

use crate::data::Dataset;
use crate::run::RunDescription;
use crate::{err, Result};
use fovea_data::{decode_image, DataLoader, Normalize};
use fovea_device::{Array, Device};
use fovea_graph::{NoGradGuard, Tensor};
use fovea_models::Model;
use fovea_nn::ModuleExt;
use serde::Serialize;
use std::sync::Arc;

/// A test pass's numbers.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// mean cross-entropy
    pub loss: f64,
    /// accuracy
    pub acc: f64,
    /// `confusion[true][predicted]`
    pub confusion: Vec<Vec<u64>>,
    /// the predicted class of every image, in order (for example mistakes)
    pub predicted: Vec<u8>,
}

/// A model on a device with its run description.
pub struct Classifier {
    /// where the model lives
    pub device: Device,
    /// the network
    pub model: Box<dyn Model>,
    /// classes, input shape, normalisation and settings
    pub run: RunDescription,
}

impl Classifier {
    /// Builds the run's model afresh (weights from the run's seed) on `device`.
    pub fn build(device: &Device, run: RunDescription) -> Result<Classifier> {
        let cfg = &run.config;
        fovea_nn::manual_seed(cfg.seed);
        let model = fovea_models::build(
            &cfg.model,
            cfg.arch.as_deref(),
            run.input(),
            run.classes.len(),
        )
        .map_err(err)?;
        model.to_device(device).map_err(err)?;
        let mut run = run;
        run.parameters = model.num_parameters();
        Ok(Classifier {
            device: device.clone(),
            model,
            run,
        })
    }

    /// Loads a checkpoint: safetensors bytes with PyTorch's names (a `fovea train` run's
    /// `best.safetensors` or `last.safetensors`, or what [`Classifier::checkpoint`] wrote)
    /// and the `run.json` text beside it. Strict: another architecture's checkpoint is
    /// refused with the names and shapes that differ.
    pub fn load(device: &Device, safetensors: &[u8], run_json: &str) -> Result<Classifier> {
        let run = RunDescription::parse(run_json)?;
        normalize(&run)?;
        let c = Classifier::build(device, run)?;
        let state = fovea_nn::parse_safetensors(safetensors, "the checkpoint").map_err(err)?;
        fovea_nn::checkpoint::load_state(c.model.as_ref(), &state, true, "the checkpoint")
            .map_err(|e| format!("{e}; give the checkpoint saved with this run.json"))?;
        c.model.eval();
        Ok(c)
    }

    /// The checkpoint as bytes: safetensors with PyTorch's names (loads with
    /// `safetensors.torch.load_file` into the matching `nn.Module`) and `run.json` text.
    pub async fn checkpoint(&self) -> Result<(Vec<u8>, String)> {
        let bytes = fovea_nn::state_bytes_async(self.model.as_ref())
            .await
            .map_err(err)?;
        Ok((bytes, self.run.to_json()))
    }

    /// The normalisation inputs get.
    pub fn normalize(&self) -> Result<Normalize> {
        normalize(&self.run)
    }

    /// Raw image bytes (`N * C * H * W`, 0-255) normalised as the model's inputs are.
    pub fn normalize_pixels(&self, pixels: &[u8]) -> Result<Vec<f32>> {
        let (c, _, _) = self.run.input();
        let mut out = vec![0.0; pixels.len()];
        self.normalize()?.apply(pixels, c, &mut out);
        Ok(out)
    }

    /// Class probabilities (softmax) of `n` images given as raw bytes (`n * C * H * W`,
    /// 0-255, the model's input size), inverted first when `invert` (dark objects on a
    /// light background, the opposite of Fashion-MNIST).
    pub async fn predict_pixels(&self, pixels: &[u8], invert: bool) -> Result<Vec<Vec<f32>>> {
        let (c, h, w) = self.run.input();
        let per = c * h * w;
        if pixels.is_empty() || !pixels.len().is_multiple_of(per) {
            return Err(format!(
                "{} pixel bytes are not whole {c}x{h}x{w} images; give N * {per} bytes",
                pixels.len()
            ));
        }
        let norm = self.normalize()?;
        let mut x = vec![0.0f32; pixels.len()];
        for (src, dst) in pixels.chunks(per).zip(x.chunks_mut(per)) {
            let img: Vec<u8> = if invert {
                src.iter().map(|b| 255 - b).collect()
            } else {
                src.to_vec()
            };
            norm.apply(&img, c, dst);
        }
        self.predict(&x).await
    }

    /// Class probabilities of an encoded image (PNG, JPEG, ...), decoded to the model's
    /// channels and resized to its input as `fovea predict` does.
    pub async fn predict_image(&self, encoded: &[u8], invert: bool) -> Result<Vec<f32>> {
        let (c, h, w) = self.run.input();
        let (px, _) = decode_image(encoded, c, Some((h, w)))?;
        Ok(self.predict_pixels(&px, invert).await?.remove(0))
    }

    /// Class probabilities of normalised inputs (`N * C * H * W` values).
    pub async fn predict(&self, x: &[f32]) -> Result<Vec<Vec<f32>>> {
        let (c, h, w) = self.run.input();
        let n = x.len() / (c * h * w);
        self.model.eval();
        let _guard = NoGradGuard::new();
        let x = Tensor::new(Array::from_slice(&self.device, x, &[n, c, h, w]).map_err(err)?);
        let probs = self
            .model
            .call(&x)
            .map_err(err)?
            .softmax(-1)
            .map_err(err)?
            .to_vec_async()
            .await
            .map_err(err)?;
        Ok(probs
            .chunks(self.run.classes.len())
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// Loss, accuracy and confusion matrix on `data`, `batch` images at a time, without
    /// recording gradients.
    pub async fn evaluate(&self, data: &Dataset, batch: usize) -> Result<Evaluation> {
        let classes = self.run.classes.len();
        if data.images.classes.len() != classes {
            return Err(format!(
                "the test set has {} classes but the model {classes}; evaluate on its own dataset",
                data.images.classes.len()
            ));
        }
        self.model.eval();
        let _guard = NoGradGuard::new();
        let loader = DataLoader::new(Arc::new(data.images.clone()), batch.max(1))
            .map_err(err)?
            .transform(self.normalize()?);
        let (mut loss, mut n) = (0.0f64, 0usize);
        let mut confusion = vec![vec![0u64; classes]; classes];
        let mut predicted = Vec::with_capacity(data.len());
        for b in loader.epoch(0) {
            let dev = &self.device;
            let x = Tensor::new(Array::from_slice(dev, &b.images, &b.shape).map_err(err)?);
            let y = Array::from_slice(dev, &b.labels, &[b.labels.len()]).map_err(err)?;
            let logits = self.model.call(&x).map_err(err)?;
            // One read per batch: the summed loss, then every prediction.
            let read = fovea_nn::loss::eval_summary(&logits, &y)
                .map_err(err)?
                .to_vec_async()
                .await
                .map_err(err)?;
            loss += read[0] as f64;
            for (p, t) in read[1..].iter().zip(&b.labels) {
                confusion[*t as usize][*p as usize] += 1;
                predicted.push(*p as u8);
            }
            n += b.labels.len();
        }
        let correct: u64 = (0..classes).map(|i| confusion[i][i]).sum();
        Ok(Evaluation {
            loss: loss / n.max(1) as f64,
            acc: correct as f64 / n.max(1) as f64,
            confusion,
            predicted,
        })
    }
}

fn normalize(run: &RunDescription) -> Result<Normalize> {
    Normalize::per_channel(run.mean.clone(), run.std.clone())
        .map_err(|e| format!("run.json: {e}; restore the run.json written with the checkpoint"))
}
