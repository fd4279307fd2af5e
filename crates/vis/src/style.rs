//! Neural style transfer (Gatys et al.): an image whose deep features match a content
//! image's (content layer) and whose feature correlations (Gram matrices) match a style
//! image's (style layers), plus a total-variation term for smoothness, optimised with Adam.
//!
//! The defaults follow the paper on VGG-16/19: content `relu4_2`, style `relu1_1`, `relu2_1`,
//! `relu3_1`, `relu4_1`, `relu5_1` (the paper's conv4_2 and conv1_1..conv5_1, read after their
//! ReLU as in the Caffe model it used). Any net with those tap names works, e.g. any VGG.

use crate::error::{config, Result};
use crate::unknown_layer;
use fovea_device::Array;
use fovea_graph::Tensor;
use fovea_models::Model;
use fovea_nn::{Adam, ModuleExt, Optimizer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Style transfer's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Style {
    /// the layer whose features the content image fixes
    pub content_layer: String,
    /// the layers whose Gram matrices the style image fixes
    pub style_layers: Vec<String>,
    /// weight of the content loss
    pub content_weight: f32,
    /// weight of the style loss
    pub style_weight: f32,
    /// weight of the total-variation loss
    pub tv_weight: f32,
    /// Adam steps
    pub steps: usize,
    /// Adam's learning rate, in normalised input units
    pub lr: f32,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            content_layer: "relu4_2".into(),
            style_layers: ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
                .map(String::from)
                .to_vec(),
            content_weight: 1.0,
            style_weight: 1e6,
            tv_weight: 1e-2,
            steps: 200,
            lr: 0.03,
        }
    }
}

/// The Gram matrix of `[1, C, H, W]` features: `F F^T / (C H W)`, `[C, C]`.
pub fn gram(f: &Tensor) -> Result<Tensor> {
    let [1, c, h, w] = *f.shape() else {
        return Err(config(
            "Gram matrix",
            format!("features [1, C, H, W]; got {:?}", f.shape()),
        ));
    };
    let m = f.reshape(&[c, h * w])?;
    Ok(m.matmul(&m.transpose(0, 1)?)?
        .mul_scalar(1.0 / (c * h * w) as f32)?)
}

/// The named activations of `x`: a forward hook on each layer, and the forward pass run only
/// as far as the last of them.
fn taps(model: &dyn Model, x: &Tensor, names: &[String]) -> Result<HashMap<String, Tensor>> {
    let order: Vec<String> = model.layers().into_iter().map(|(_, p)| p).collect();
    let mut paths = Vec::new();
    for n in names {
        let p = model.layer_path(n).ok_or_else(|| unknown_layer(model, n))?;
        paths.push(p);
    }
    let seen: Arc<Mutex<HashMap<String, Tensor>>> = Arc::default();
    let mut hooks = Vec::new();
    for p in &paths {
        let (seen, key) = (seen.clone(), p.clone());
        hooks.push(model.register_forward_hook(p, move |t| {
            let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
            s.entry(key.clone()).or_insert_with(|| t.clone());
        })?);
    }
    let last = paths
        .iter()
        .max_by_key(|p| order.iter().position(|q| q == *p))
        .ok_or_else(|| config("style transfer", "no layers given"))?;
    model.forward_until(x, last)?;
    drop(hooks);
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = HashMap::new();
    for (n, p) in names.iter().zip(&paths) {
        let t = seen.get(p).ok_or_else(|| unknown_layer(model, n))?;
        out.insert(n.clone(), t.clone());
    }
    Ok(out)
}

/// The loss terms of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StyleLosses {
    /// weighted content loss
    pub content: f32,
    /// weighted style loss
    pub style: f32,
    /// weighted total variation
    pub tv: f32,
}

/// Mean squared difference.
fn mse(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let d = a.sub(b)?;
    Ok(d.mul(&d)?.mean(&[], false)?)
}

/// The style loss of `x` against target Gram matrices: the sum over layers of the mean
/// squared difference of the Gram matrices (0 for the style image itself).
pub fn style_loss(
    model: &dyn Model,
    x: &Tensor,
    targets: &HashMap<String, Tensor>,
) -> Result<Tensor> {
    let names: Vec<String> = targets.keys().cloned().collect();
    let acts = taps(model, x, &names)?;
    let mut total: Option<Tensor> = None;
    for n in &names {
        let l = mse(&gram(&acts[n])?, &targets[n])?;
        total = Some(match total {
            Some(t) => t.add(&l)?,
            None => l,
        });
    }
    total.ok_or_else(|| config("style loss", "no style layers"))
}

/// Total variation: mean squared difference of neighbouring pixels.
fn total_variation(x: &Tensor) -> Result<Tensor> {
    let s = x.shape().to_vec();
    let dy = x.slice(2, 1, s[2], 1)?.sub(&x.slice(2, 0, s[2] - 1, 1)?)?;
    let dx = x.slice(3, 1, s[3], 1)?.sub(&x.slice(3, 0, s[3] - 1, 1)?)?;
    Ok(dy
        .mul(&dy)?
        .mean(&[], false)?
        .add(&dx.mul(&dx)?.mean(&[], false)?)?)
}

/// Transfers `style`'s look onto `content` (both `[1, C, H, W]`, normalised), starting from
/// the content image and keeping values in `[lo, hi]`. `progress` gets `(step, total,
/// losses)`. Returns the image (`[C, H, W]`) and the losses of every step.
pub async fn style_transfer_async(
    model: &dyn Model,
    content: &Array,
    style: &Array,
    cfg: &Style,
    (lo, hi): (f32, f32),
    progress: &mut dyn FnMut(usize, usize, StyleLosses),
) -> Result<(Vec<f32>, Vec<StyleLosses>)> {
    if content.shape().len() != 4 || content.shape()[0] != 1 || style.shape().len() != 4 {
        return Err(config(
            "style transfer",
            format!(
                "one content and one style image [1, C, H, W]; got {:?} and {:?}",
                content.shape(),
                style.shape()
            ),
        ));
    }
    let _frozen = crate::Frozen::new(model);
    let targets = {
        let _g = fovea_graph::NoGradGuard::new();
        let c = taps(
            model,
            &Tensor::new(content.clone()),
            std::slice::from_ref(&cfg.content_layer),
        )?;
        let s = taps(model, &Tensor::new(style.clone()), &cfg.style_layers)?;
        let mut grams = HashMap::new();
        for (k, v) in &s {
            grams.insert(k.clone(), gram(v)?);
        }
        (c[&cfg.content_layer].detach(), grams)
    };
    let img = Tensor::param(content.clone());
    let mut opt = Adam::new(vec![img.clone()], cfg.lr);
    let mut history = Vec::new();
    let mut names = cfg.style_layers.clone();
    names.push(cfg.content_layer.clone());
    for step in 0..cfg.steps {
        let acts = taps(model, &img, &names)?;
        let content_l =
            mse(&acts[&cfg.content_layer], &targets.0)?.mul_scalar(cfg.content_weight)?;
        let mut style_l: Option<Tensor> = None;
        for n in &cfg.style_layers {
            let l = mse(&gram(&acts[n])?, &targets.1[n])?;
            style_l = Some(match style_l {
                Some(t) => t.add(&l)?,
                None => l,
            });
        }
        let style_l = style_l
            .ok_or_else(|| config("style transfer", "give at least one style layer"))?
            .mul_scalar(cfg.style_weight)?;
        let tv_l = total_variation(&img)?.mul_scalar(cfg.tv_weight)?;
        let losses = StyleLosses {
            content: content_l.item_async().await?,
            style: style_l.item_async().await?,
            tv: tv_l.item_async().await?,
        };
        let loss = content_l.add(&style_l)?.add(&tv_l)?;
        opt.zero_grad();
        loss.backward()?;
        opt.step()?;
        let clamped = img.array().maximum(&Array::scalar(content.device(), lo)?)?;
        img.set_data(clamped.minimum(&Array::scalar(content.device(), hi)?)?)?;
        history.push(losses);
        progress(step + 1, cfg.steps, losses);
    }
    Ok((img.to_vec_async().await?, history))
}

/// Native twin of [`style_transfer_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn style_transfer(
    model: &dyn Model,
    content: &Array,
    style: &Array,
    cfg: &Style,
    bounds: (f32, f32),
    progress: &mut dyn FnMut(usize, usize, StyleLosses),
) -> Result<(Vec<f32>, Vec<StyleLosses>)> {
    fovea_device::block_on(style_transfer_async(
        model, content, style, cfg, bounds, progress,
    ))
}
