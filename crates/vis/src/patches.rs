//! The dataset patches that excite a channel most (Zeiler & Fergus): one pass over the
//! images in batches on the model's device, each image's strongest position per channel,
//! the top `k` images per channel, and the receptive field of that position cropped out.

use crate::error::{config, Result};
use crate::picture;
use fovea_device::{Array, Device};
use fovea_graph::{NoGradGuard, Tensor};
use fovea_models::Model;
use image::RgbImage;

/// One patch: which image, how strong, and the input rows / columns it covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    /// index of the image in the dataset
    pub image: usize,
    /// the channel's activation there
    pub value: f32,
    /// input rows `[start, end)`
    pub rows: (usize, usize),
    /// input columns `[start, end)`
    pub cols: (usize, usize),
}

/// The `k` strongest patches for each of `channels` of `layer` over `n` images (`[C, H, W]`
/// each, normalised), strongest first; `progress` gets the images done so far.
#[allow(clippy::too_many_arguments)]
pub async fn top_patches_async(
    model: &dyn Model,
    dev: &Device,
    images: &[f32],
    shape: (usize, usize, usize),
    layer: &str,
    channels: &[usize],
    k: usize,
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Vec<Patch>>> {
    let rf = model.receptive_field(layer).ok_or_else(|| {
        config(
            "max-activating patches",
            format!(
                "layer {layer} has no receptive field (pick a conv, ReLU, BatchNorm or pool layer)"
            ),
        )
    })?;
    let (c, h, w) = shape;
    let per = c * h * w;
    let n = images.len() / per.max(1);
    let mut best: Vec<Vec<(f32, usize, usize, usize)>> = vec![Vec::new(); channels.len()];
    for start in (0..n).step_by(batch.max(1)) {
        let m = batch.max(1).min(n - start);
        let x = Array::from_slice(dev, &images[start * per..(start + m) * per], &[m, c, h, w])?;
        let act = {
            let _g = NoGradGuard::new();
            crate::activation(model, &Tensor::new(x), layer)?
        };
        let [_, ac, ah, aw] = *act.shape() else {
            return Err(config(
                "max-activating patches",
                format!("layer {layer} is not an image layer"),
            ));
        };
        if let Some(bad) = channels.iter().find(|&&ch| ch >= ac) {
            return Err(config(
                "max-activating patches",
                format!("channel {bad}; layer {layer} has {ac} channels"),
            ));
        }
        let v = act.to_vec_async().await?;
        for (slot, &ch) in channels.iter().enumerate() {
            for i in 0..m {
                let plane = &v[(i * ac + ch) * ah * aw..][..ah * aw];
                let (at, &val) = plane
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .expect("non-empty plane");
                let list = &mut best[slot];
                list.push((val, start + i, at / aw, at % aw));
                list.sort_by(|a, b| b.0.total_cmp(&a.0));
                list.truncate(k);
            }
        }
        progress(start + m);
    }
    Ok(best
        .into_iter()
        .map(|list| {
            list.into_iter()
                .map(|(value, image, y, x)| Patch {
                    image,
                    value,
                    rows: rf.span(y, h),
                    cols: rf.span(x, w),
                })
                .collect()
        })
        .collect())
}

/// Native twin of [`top_patches_async`].
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::too_many_arguments)]
pub fn top_patches(
    model: &dyn Model,
    dev: &Device,
    images: &[f32],
    shape: (usize, usize, usize),
    layer: &str,
    channels: &[usize],
    k: usize,
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Vec<Patch>>> {
    fovea_device::block_on(top_patches_async(
        model, dev, images, shape, layer, channels, k, batch, progress,
    ))
}

/// One row of crops per channel, enlarged by nearest neighbour `enlarge` times or more: all
/// by the factor that draws the largest crop at least [`picture::MIN_TILE`] pixels a side,
/// and a crop cut short by the image border by as much as it needs to reach that size too.
/// Tiles are [`picture::GAP`] pixels apart. `images` are the normalised inputs, shown after
/// undoing `(v - mean) / std`.
pub fn patch_grid(
    images: &[f32],
    shape: (usize, usize, usize),
    mean: &[f32],
    std: &[f32],
    patches: &[Vec<Patch>],
    enlarge: u32,
) -> RgbImage {
    let (c, h, w) = shape;
    let per = c * h * w;
    let cols = patches.iter().map(Vec::len).max().unwrap_or(1);
    let side = |span: (usize, usize)| (span.1 - span.0).max(1) as u32;
    let (most_w, most_h) = patches.iter().flatten().fold((1, 1), |(w, h), p| {
        (w.max(side(p.cols)), h.max(side(p.rows)))
    });
    let factor = picture::tile_factor(most_w, most_h, enlarge, picture::MIN_TILE);
    let tiles: Vec<RgbImage> = patches
        .iter()
        .flat_map(|row| {
            let mut t: Vec<RgbImage> = row
                .iter()
                .map(|p| {
                    let img = picture::denormalize(
                        &images[p.image * per..(p.image + 1) * per],
                        c,
                        mean,
                        std,
                    );
                    let full = picture::planes(&img, c, h, w);
                    let crop = image::imageops::crop_imm(
                        &full,
                        p.cols.0 as u32,
                        p.rows.0 as u32,
                        (p.cols.1 - p.cols.0).max(1) as u32,
                        (p.rows.1 - p.rows.0).max(1) as u32,
                    )
                    .to_image();
                    picture::enlarge_tile(&crop, factor)
                })
                .collect();
            t.resize(
                cols,
                RgbImage::from_pixel(1, 1, image::Rgb([255, 255, 255])),
            );
            t
        })
        .collect();
    picture::grid(&tiles, cols, picture::GAP)
}
