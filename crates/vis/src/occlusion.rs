//! Occlusion (Zeiler & Fergus): slide a patch over the image, run every occluded copy
//! through the net in batches, and record how much the target score drops. Each pixel gets
//! the mean drop over the windows covering it, as Captum's `Occlusion` computes it.

use crate::attribution::scores_async;
use crate::error::{config, Result};
use fovea_device::Array;
use fovea_models::Model;

/// The sliding patch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Occlusion {
    /// patch (height, width), covering every channel
    pub window: (usize, usize),
    /// step between patches (rows, columns)
    pub stride: (usize, usize),
    /// value written into the patch, in the net's normalised input units
    pub fill: f32,
    /// occluded copies per forward pass
    pub batch: usize,
}

impl Default for Occlusion {
    /// A 6x6 patch every 2 pixels filled with 0 (the dataset mean after normalising): a
    /// visible, fine-grained map for 28x28 images.
    fn default() -> Self {
        Occlusion {
            window: (6, 6),
            stride: (2, 2),
            fill: 0.0,
            batch: 128,
        }
    }
}

/// Window starts along one axis: `0, s, 2s, ...` while the window fits.
fn starts(len: usize, win: usize, stride: usize) -> Vec<usize> {
    (0..=(len - win) / stride).map(|i| i * stride).collect()
}

/// The occlusion map of one image (`[1, C, H, W]`) for class `target`: `[H, W]`, positive
/// where hiding the pixels lowers the score. Pixels no window covers get 0.
pub async fn occlusion_async(
    model: &dyn Model,
    x: &Array,
    target: usize,
    cfg: &Occlusion,
) -> Result<Vec<f32>> {
    let shape = x.shape().to_vec();
    let bad = |msg: String| config("occlusion", msg);
    if shape.len() != 4 || shape[0] != 1 {
        return Err(bad(format!("one image [1, C, H, W]; got {shape:?}")));
    }
    let (c, h, w) = (shape[1], shape[2], shape[3]);
    let (wh, ww) = cfg.window;
    let (sh, sw) = cfg.stride;
    if wh == 0 || ww == 0 || wh > h || ww > w || sh == 0 || sw == 0 || cfg.batch == 0 {
        return Err(bad(format!(
            "a {wh}x{ww} window with stride {sh}x{sw} does not fit a {h}x{w} image; use a window of 1..={h} by 1..={w} and strides >= 1"
        )));
    }
    let v = x.to_vec_async().await?;
    let base = scores_async(model, x).await?;
    let classes = base.len();
    if target >= classes {
        return Err(bad(format!(
            "class {target}; the net has {classes} classes"
        )));
    }
    let windows: Vec<(usize, usize)> = starts(h, wh, sh)
        .into_iter()
        .flat_map(|y| starts(w, ww, sw).into_iter().map(move |x| (y, x)))
        .collect();
    let mut total = vec![0.0f32; h * w];
    let mut count = vec![0u32; h * w];
    for chunk in windows.chunks(cfg.batch) {
        let mut batch = Vec::with_capacity(chunk.len() * v.len());
        for &(y0, x0) in chunk {
            let mut img = v.clone();
            for ch in 0..c {
                for y in y0..y0 + wh {
                    img[(ch * h + y) * w + x0..(ch * h + y) * w + x0 + ww].fill(cfg.fill);
                }
            }
            batch.extend(img);
        }
        let arr = Array::from_slice(x.device(), &batch, &[chunk.len(), c, h, w])?;
        let s = scores_async(model, &arr).await?;
        for (k, &(y0, x0)) in chunk.iter().enumerate() {
            let drop = base[target] - s[k * classes + target];
            for y in y0..y0 + wh {
                for x in x0..x0 + ww {
                    total[y * w + x] += drop;
                    count[y * w + x] += 1;
                }
            }
        }
    }
    Ok(total
        .iter()
        .zip(&count)
        .map(|(t, &n)| if n > 0 { t / n as f32 } else { 0.0 })
        .collect())
}

/// Native twin of [`occlusion_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn occlusion(model: &dyn Model, x: &Array, target: usize, cfg: &Occlusion) -> Result<Vec<f32>> {
    fovea_device::block_on(occlusion_async(model, x, target, cfg))
}
