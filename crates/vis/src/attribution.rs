//! Gradient attributions: which input pixels a class score (or a channel) depends on.
//!
//! All functions take the model in the mode the caller set (use `eval()`), inputs as
//! normalised `[N, C, H, W]` arrays on the model's device, and return host vectors. Each
//! technique is an `async fn` (`*_async`, every target); its plain name is the native twin.

use crate::error::{config, Result};
use crate::{activation, unknown_layer};
use fovea_device::Array;
use fovea_graph::{guided_relu_backward, override_backward, Op, Tensor};
use fovea_models::Model;
use fovea_nn::ModuleExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};

/// `[N, K]` with a 1 at each row's target class.
fn one_hot(x: &Array, logits: &Tensor, targets: &[usize]) -> Result<Array> {
    let (n, k) = (logits.shape()[0], logits.shape()[1]);
    if targets.len() != n || targets.iter().any(|&t| t >= k) {
        return Err(config(
            "target class",
            format!("{targets:?} for {n} images and {k} classes; give one class < {k} per image"),
        ));
    }
    let mut seed = vec![0.0; n * k];
    for (i, &t) in targets.iter().enumerate() {
        seed[i * k + t] = 1.0;
    }
    Ok(Array::from_slice(x.device(), &seed, &[n, k])?)
}

/// The unnormalised class scores (logits) of `x`, without recording gradients.
pub async fn scores_async(model: &dyn Model, x: &Array) -> Result<Vec<f32>> {
    let logits = {
        let _g = fovea_graph::NoGradGuard::new();
        model.forward(&Tensor::new(x.clone()))?
    };
    Ok(logits.to_vec_async().await?)
}

/// Native twin of [`scores_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn scores(model: &dyn Model, x: &Array) -> Result<Vec<f32>> {
    fovea_device::block_on(scores_async(model, x))
}

/// `d logits[n, targets[n]] / d x` for every image: `[N, C, H, W]`.
pub fn input_gradients(model: &dyn Model, x: &Array, targets: &[usize]) -> Result<Array> {
    let _frozen = crate::Frozen::new(model);
    let xt = Tensor::param(x.clone());
    let logits = model.forward(&xt)?;
    logits.backward_with(&one_hot(x, &logits, targets)?)?;
    Ok(xt.grad().expect("the input requires grad"))
}

/// `max_c |g[n, c, y, x]|` of a `[N, C, H, W]` gradient: `[N, H, W]` maps.
pub async fn max_abs_over_channels_async(g: &Array) -> Result<Vec<f32>> {
    Ok(g.abs()?.max(&[1], false)?.to_vec_async().await?)
}

/// Native twin of [`max_abs_over_channels_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn max_abs_over_channels(g: &Array) -> Result<Vec<f32>> {
    fovea_device::block_on(max_abs_over_channels_async(g))
}

/// Simonyan et al.'s saliency: the largest absolute gradient over channels of each image's
/// target score, `[N, H, W]`.
pub async fn saliency_async(model: &dyn Model, x: &Array, targets: &[usize]) -> Result<Vec<f32>> {
    max_abs_over_channels_async(&input_gradients(model, x, targets)?).await
}

/// Native twin of [`saliency_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn saliency(model: &dyn Model, x: &Array, targets: &[usize]) -> Result<Vec<f32>> {
    fovea_device::block_on(saliency_async(model, x, targets))
}

/// SmoothGrad's settings (Smilkov et al.).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmoothGrad {
    /// noisy copies averaged
    pub samples: usize,
    /// noise standard deviation as a fraction of the image's value range
    pub noise: f32,
    /// seed of the noise
    pub seed: u64,
}

impl Default for SmoothGrad {
    /// 25 samples at 15% noise, the paper's recommendation.
    fn default() -> Self {
        SmoothGrad {
            samples: 25,
            noise: 0.15,
            seed: 0,
        }
    }
}

/// SmoothGrad of one image (`[1, C, H, W]`): the saliency map averaged over noisy copies,
/// all copies in one batch. Returns `[H, W]`.
pub async fn smoothgrad_async(
    model: &dyn Model,
    x: &Array,
    target: usize,
    cfg: SmoothGrad,
) -> Result<Vec<f32>> {
    let shape = x.shape().to_vec();
    if shape.len() != 4 || shape[0] != 1 || cfg.samples == 0 {
        return Err(config(
            "SmoothGrad",
            format!(
                "one image [1, C, H, W] and samples >= 1; got {shape:?}, {} samples",
                cfg.samples
            ),
        ));
    }
    let v = x.to_vec_async().await?;
    let (lo, hi) = crate::picture::bounds(&v);
    let sigma = cfg.noise * (hi - lo).max(1e-6);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut noisy = Vec::with_capacity(v.len() * cfg.samples);
    for _ in 0..cfg.samples {
        noisy.extend(v.iter().map(|&p| p + sigma * gaussian(&mut rng)));
    }
    let batch = Array::from_slice(
        x.device(),
        &noisy,
        &[cfg.samples, shape[1], shape[2], shape[3]],
    )?;
    let maps = saliency_async(model, &batch, &vec![target; cfg.samples]).await?;
    let plane = shape[2] * shape[3];
    Ok((0..plane)
        .map(|i| (0..cfg.samples).map(|s| maps[s * plane + i]).sum::<f32>() / cfg.samples as f32)
        .collect())
}

/// Native twin of [`smoothgrad_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn smoothgrad(
    model: &dyn Model,
    x: &Array,
    target: usize,
    cfg: SmoothGrad,
) -> Result<Vec<f32>> {
    fovea_device::block_on(smoothgrad_async(model, x, target, cfg))
}

/// A standard normal draw (Box-Muller).
pub(crate) fn gaussian(rng: &mut StdRng) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// What guided backpropagation explains.
#[derive(Clone, Debug, PartialEq)]
pub enum Explain {
    /// a class score
    Class(usize),
    /// one channel of a named layer, at its strongest position in the image
    Channel {
        /// the layer's name (see `Model::layer_names`)
        layer: String,
        /// the channel
        channel: usize,
    },
}

/// Guided backpropagation (Springenberg et al.) of one image `[1, C, H, W]`: the input
/// gradient with every ReLU passing back only positive gradients where its input was
/// positive. Returns `[C, H, W]`.
pub async fn guided_backprop_async(
    model: &dyn Model,
    x: &Array,
    what: &Explain,
) -> Result<Vec<f32>> {
    let grad = {
        let _frozen = crate::Frozen::new(model);
        let xt = Tensor::param(x.clone());
        let (out, seed) = match what {
            Explain::Class(c) => {
                let logits = model.forward(&xt)?;
                let seed = one_hot(x, &logits, &[*c])?;
                (logits, seed)
            }
            Explain::Channel { layer, channel } => {
                let act = activation(model, &xt, layer)?;
                let shape = act.shape().to_vec();
                if shape.len() != 4 || *channel >= shape[1] {
                    return Err(config(
                        "guided backprop",
                        format!("layer {layer} has shape {shape:?}; pick an image layer and a channel below its channel count"),
                    ));
                }
                let plane = shape[2] * shape[3];
                let v = act.to_vec_async().await?;
                let at = (0..plane)
                    .max_by(|&a, &b| v[channel * plane + a].total_cmp(&v[channel * plane + b]))
                    .unwrap_or(0);
                let mut seed = vec![0.0; v.len()];
                seed[channel * plane + at] = 1.0;
                let seed = Array::from_slice(x.device(), &seed, &shape)?;
                (act, seed)
            }
        };
        // The override applies to backward passes run while it lives; it is a thread-wide
        // setting, so it never lives across an await.
        let _guided = override_backward(Op::Relu, guided_relu_backward);
        out.backward_with(&seed)?;
        xt.grad().expect("the input requires grad")
    };
    Ok(grad.to_vec_async().await?)
}

/// Native twin of [`guided_backprop_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn guided_backprop(model: &dyn Model, x: &Array, what: &Explain) -> Result<Vec<f32>> {
    fovea_device::block_on(guided_backprop_async(model, x, what))
}

/// Grad-CAM (Selvaraju et al.) of one image for class `target` at `layer`: the layer's
/// channels weighted by their average gradient, summed, passed through ReLU, resized to
/// the input and scaled to `[0, 1]`. Returns `[H, W]`.
pub async fn grad_cam_async(
    model: &dyn Model,
    x: &Array,
    target: usize,
    layer: &str,
) -> Result<Vec<f32>> {
    let up = {
        // The input is tracked so every activation is on the tape; the weights are not.
        let _frozen = crate::Frozen::new(model);
        cam(model, x, target, layer)?
    };
    let up = up.to_vec_async().await?;
    let max = up.iter().copied().fold(0.0f32, f32::max);
    Ok(up
        .iter()
        .map(|v| if max > 0.0 { v / max } else { 0.0 })
        .collect())
}

/// Native twin of [`grad_cam_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn grad_cam(model: &dyn Model, x: &Array, target: usize, layer: &str) -> Result<Vec<f32>> {
    fovea_device::block_on(grad_cam_async(model, x, target, layer))
}

/// Grad-CAM's map before scaling, `[1, 1, H, W]` on the device.
fn cam(model: &dyn Model, x: &Array, target: usize, layer: &str) -> Result<Array> {
    let xt = Tensor::param(x.clone());
    let path = model
        .layer_path(layer)
        .ok_or_else(|| unknown_layer(model, layer))?;
    let slot: Arc<Mutex<Option<Tensor>>> = Arc::default();
    let hook = {
        let slot = slot.clone();
        model.register_forward_hook(&path, move |t| {
            let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
            if s.is_none() {
                t.retain_grad();
                *s = Some(t.clone());
            }
        })?
    };
    let logits = model.call(&xt)?;
    drop(hook);
    let act = slot
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or_else(|| unknown_layer(model, layer))?;
    if act.shape().len() != 4 {
        return Err(config(
            "Grad-CAM",
            format!(
                "layer {layer} has shape {:?}; pick a conv layer (4-D activations)",
                act.shape()
            ),
        ));
    }
    logits.backward_with(&one_hot(x, &logits, &[target])?)?;
    let grad = act.grad().expect("retained");
    let weights = grad.mean(&[2, 3], true)?;
    let cam = act.array().mul(&weights)?.sum(&[1], true)?.relu()?;
    Ok(cam.resize_bilinear((x.shape()[2], x.shape()[3]), false)?)
}

/// Integrated gradients (Sundararajan et al.) of one image against `baseline` (same shape,
/// e.g. the normalised value of a black image): `(x - baseline) * mean_k grad(baseline +
/// a_k (x - baseline))` over `steps` midpoints `a_k = (k + 1/2) / steps`, batched `chunk` at
/// a time. Returns `[C, H, W]`; its sum approaches `f(x) - f(baseline)`.
pub async fn integrated_gradients_async(
    model: &dyn Model,
    x: &Array,
    baseline: &[f32],
    target: usize,
    steps: usize,
) -> Result<Vec<f32>> {
    let shape = x.shape().to_vec();
    let v = x.to_vec_async().await?;
    if shape.len() != 4 || shape[0] != 1 || baseline.len() != v.len() || steps == 0 {
        return Err(config(
            "integrated gradients",
            format!("one image [1, C, H, W], a baseline of the same size and steps >= 1; got {shape:?}, {} baseline values, {steps} steps", baseline.len()),
        ));
    }
    let chunk = 32;
    let mut total = vec![0.0f32; v.len()];
    let mut k = 0;
    while k < steps {
        let m = chunk.min(steps - k);
        let mut batch = Vec::with_capacity(m * v.len());
        for j in 0..m {
            let a = (k + j) as f32 / steps as f32 + 0.5 / steps as f32;
            batch.extend(v.iter().zip(baseline).map(|(x, b)| b + a * (x - b)));
        }
        let arr = Array::from_slice(x.device(), &batch, &[m, shape[1], shape[2], shape[3]])?;
        let g = input_gradients(model, &arr, &vec![target; m])?
            .to_vec_async()
            .await?;
        for j in 0..m {
            for (t, gv) in total.iter_mut().zip(&g[j * v.len()..(j + 1) * v.len()]) {
                *t += gv;
            }
        }
        k += m;
    }
    Ok(total
        .iter()
        .zip(v.iter().zip(baseline))
        .map(|(t, (x, b))| (x - b) * t / steps as f32)
        .collect())
}

/// Native twin of [`integrated_gradients_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn integrated_gradients(
    model: &dyn Model,
    x: &Array,
    baseline: &[f32],
    target: usize,
    steps: usize,
) -> Result<Vec<f32>> {
    fovea_device::block_on(integrated_gradients_async(
        model, x, baseline, target, steps,
    ))
}
