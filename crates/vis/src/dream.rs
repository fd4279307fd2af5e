//! DeepDream (Mordvintsev et al.): gradient ascent on the input to amplify what a layer (or
//! one of its channels) responds to, over octaves from coarse to fine, with random jitter
//! and the gradient normalised by its mean magnitude.
//!
//! Each pixel's step shrinks with the room it has left towards the bound it moves to (black
//! or white): a pixel halfway takes the full step, one near white rises by a fraction of it.
//! Pixels approach the bounds without piling up on them, so the dream keeps the image's
//! range instead of saturating into a black-and-white blob.

use crate::activation;
use crate::error::{config, Result};
use fovea_device::Array;
use fovea_graph::Tensor;
use fovea_models::Model;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// DeepDream's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Dream {
    /// the layer to amplify
    pub layer: String,
    /// one channel of it, or all
    pub channel: Option<usize>,
    /// image scales, each `octave_scale` smaller than the next
    pub octaves: usize,
    /// size ratio between octaves
    pub octave_scale: f32,
    /// ascent steps per octave
    pub steps: usize,
    /// step size, in normalised input units per unit of normalised gradient
    pub step_size: f32,
    /// largest random shift in pixels, per step
    pub jitter: usize,
    /// seed of the jitter
    pub seed: u64,
}

/// The default step size ([`Dream::new`]): on the course's Net (a 5x5 conv, ReLU and 2x2
/// max pool, dreamt at the pool) it draws stripes and dots over the whole image, changing
/// it by about 30 grey levels on average, while under 10% of the pixels end black or white
/// that were not.
pub const STEP_SIZE: f32 = 0.03;

impl Dream {
    /// Defaults for a 28x28 net: 3 octaves at 1.3x, 20 steps of [`STEP_SIZE`], jitter 2.
    /// A max-pool layer gives texture (its gradient reaches one pixel of each window); a
    /// ReLU's mean mostly brightens the object.
    pub fn new(layer: &str) -> Dream {
        Dream {
            layer: layer.to_string(),
            channel: None,
            octaves: 3,
            octave_scale: 1.3,
            steps: 20,
            step_size: STEP_SIZE,
            jitter: 2,
            seed: 0,
        }
    }
}

/// Rolls `[C, H, W]` values by `(dy, dx)` with wrap-around.
fn roll(v: &[f32], c: usize, h: usize, w: usize, dy: isize, dx: isize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for ch in 0..c {
        for y in 0..h {
            let sy = (y as isize - dy).rem_euclid(h as isize) as usize;
            for x in 0..w {
                let sx = (x as isize - dx).rem_euclid(w as isize) as usize;
                out[(ch * h + y) * w + x] = v[(ch * h + sy) * w + sx];
            }
        }
    }
    out
}

/// The objective's gradient w.r.t. the input and its value: the mean of the layer's (or
/// channel's) activation. The forward pass stops at the layer, so layers after it (which may
/// refuse a smaller octave) never run.
async fn ascent(model: &dyn Model, x: &Array, cfg: &Dream) -> Result<(Vec<f32>, f32)> {
    let xt = Tensor::param(x.clone());
    let act = activation(model, &xt, &cfg.layer)?;
    let target = match cfg.channel {
        None => act,
        Some(ch) => {
            if act.shape().len() != 4 || ch >= act.shape()[1] {
                return Err(config(
                    "DeepDream",
                    format!(
                        "channel {ch} of layer {} with shape {:?}",
                        cfg.layer,
                        act.shape()
                    ),
                ));
            }
            act.slice(1, ch, ch + 1, 1)?
        }
    };
    let obj = target.mean(&[], false)?;
    let value = obj.item_async().await?;
    obj.backward()?;
    let grad = xt.grad().expect("input requires grad");
    Ok((grad.to_vec_async().await?, value))
}

/// Dreams on one image (`[1, C, H, W]`, normalised), keeping values in `[lo, hi]` (the
/// normalised range of valid pixels); a step towards a bound is scaled by
/// `2 * room / (hi - lo)`, `room` the distance left to that bound. `progress` gets
/// `(step, total)`. Returns `[C, H, W]` and the objective at the end of each octave.
pub async fn deep_dream_async(
    model: &dyn Model,
    x: &Array,
    cfg: &Dream,
    (lo, hi): (f32, f32),
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<f32>, Vec<f32>)> {
    let [1, c, h, w] = *x.shape() else {
        return Err(config(
            "DeepDream",
            format!("one image [1, C, H, W]; got {:?}", x.shape()),
        ));
    };
    if cfg.octaves == 0 || cfg.octave_scale < 1.0 {
        return Err(config("DeepDream", "octaves >= 1 and octave scale >= 1"));
    }
    // The weights stay fixed: only the input needs gradients.
    let _frozen = crate::Frozen::new(model);
    let dev = x.device().clone();
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let sizes: Vec<(usize, usize)> = (0..cfg.octaves)
        .rev()
        .map(|o| {
            let f = cfg.octave_scale.powi(o as i32);
            (
                ((h as f32 / f).round() as usize).max(4),
                ((w as f32 / f).round() as usize).max(4),
            )
        })
        .collect();
    let mut detail: Option<Array> = None;
    let mut values = Vec::new();
    let total = sizes.len() * cfg.steps;
    let mut done = 0;
    let mut img = x.to_vec_async().await?;
    for &(oh, ow) in &sizes {
        let base = x.resize_bilinear((oh, ow), false)?;
        let start = match &detail {
            Some(d) => base.add(&d.resize_bilinear((oh, ow), false)?)?,
            None => base.clone(),
        };
        img = start.to_vec_async().await?;
        img.iter_mut().for_each(|p| *p = p.clamp(lo, hi));
        let mut value = 0.0;
        for _ in 0..cfg.steps {
            let j = cfg.jitter as i64;
            let dy = rng.random_range(-j..=j) as isize;
            let dx = rng.random_range(-j..=j) as isize;
            let shifted = roll(&img, c, oh, ow, dy, dx);
            let arr = Array::from_slice(&dev, &shifted, &[1, c, oh, ow])?;
            let (g, v) = ascent(model, &arr, cfg).await?;
            value = v;
            let g = roll(&g, c, oh, ow, -dy, -dx);
            let scale = g.iter().map(|v| v.abs()).sum::<f32>() / g.len() as f32 + 1e-8;
            let span = (hi - lo).max(f32::MIN_POSITIVE);
            for (p, gv) in img.iter_mut().zip(&g) {
                let room = if *gv > 0.0 { hi - *p } else { *p - lo };
                let step = cfg.step_size * gv / scale * (2.0 * room / span).max(0.0);
                *p = (*p + step).clamp(lo, hi);
            }
            done += 1;
            progress(done, total);
        }
        values.push(value);
        let now = Array::from_slice(&dev, &img, &[1, c, oh, ow])?;
        detail = Some(now.sub(&base)?);
    }
    Ok((img, values))
}

/// Native twin of [`deep_dream_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn deep_dream(
    model: &dyn Model,
    x: &Array,
    cfg: &Dream,
    bounds: (f32, f32),
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<f32>, Vec<f32>)> {
    fovea_device::block_on(deep_dream_async(model, x, cfg, bounds, progress))
}
