//! What the layers hold and produce: conv filters as image grids, and the feature maps a
//! named layer computes for one image.

use crate::error::{config, Result};
use crate::picture::{self, Colormap, Scale};
use fovea_device::Array;
use fovea_graph::{NoGradGuard, Tensor};
use fovea_models::Model;
use fovea_nn::ModuleExt;
use image::RgbImage;

/// A conv layer's weight: its parameter name, values and `[O, C, KH, KW]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvWeight {
    /// e.g. `features.0.weight` or `conv1.weight`
    pub name: String,
    /// `O * C * KH * KW` values
    pub values: Vec<f32>,
    /// `[O, C, KH, KW]`
    pub shape: [usize; 4],
}

/// The conv weights of a model, in order (every 4-D parameter).
pub async fn conv_weights_async(model: &dyn Model) -> Result<Vec<ConvWeight>> {
    let mut out = Vec::new();
    for (name, t) in model.named_parameters() {
        if let [o, c, kh, kw] = *t.shape() {
            out.push(ConvWeight {
                name,
                values: t.to_vec_async().await?,
                shape: [o, c, kh, kw],
            });
        }
    }
    if out.is_empty() {
        return Err(config("filters", "the model has no conv layers"));
    }
    Ok(out)
}

/// Native twin of [`conv_weights_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn conv_weights(model: &dyn Model) -> Result<Vec<ConvWeight>> {
    fovea_device::block_on(conv_weights_async(model))
}

/// One conv layer's weight by parameter or layer name (`features.3`, `features.3.weight`,
/// `conv1`), or the first conv when `name` is `None`.
pub async fn conv_weight_async(model: &dyn Model, name: Option<&str>) -> Result<ConvWeight> {
    let all = conv_weights_async(model).await?;
    match name {
        None => Ok(all[0].clone()),
        Some(n) => {
            let key = if n.ends_with(".weight") {
                n.to_string()
            } else {
                format!("{n}.weight")
            };
            let names: Vec<String> = all.iter().map(|w| w.name.clone()).collect();
            all.into_iter().find(|w| w.name == key).ok_or_else(|| {
                config(
                    "filters",
                    format!(
                        "no conv weight `{key}`; the conv weights are {}",
                        names.join(", ")
                    ),
                )
            })
        }
    }
}

/// Native twin of [`conv_weight_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn conv_weight(model: &dyn Model, name: Option<&str>) -> Result<ConvWeight> {
    fovea_device::block_on(conv_weight_async(model, name))
}

/// The filters as a grid: each filter scaled to its own `[min, max]`, pixels enlarged
/// `enlarge` times or more (nearest neighbour, each tile at least
/// [`picture::MIN_TILE`] pixels a side, [`picture::GAP`] pixels apart); RGB filters (3 input
/// channels) in colour, others summed over their input channels and shown in grey.
pub fn filter_grid(w: &ConvWeight, enlarge: u32, cols: usize) -> RgbImage {
    let [o, c, kh, kw] = w.shape;
    let per = c * kh * kw;
    let tiles: Vec<RgbImage> = (0..o)
        .map(|f| {
            let v = &w.values[f * per..(f + 1) * per];
            let tile = if c == 3 {
                let (lo, hi) = picture::bounds(v);
                let span = if hi > lo { hi - lo } else { 1.0 };
                let scaled: Vec<f32> = v.iter().map(|x| (x - lo) / span).collect();
                picture::planes(&scaled, 3, kh, kw)
            } else {
                let summed: Vec<f32> = (0..kh * kw)
                    .map(|i| (0..c).map(|ch| v[ch * kh * kw + i]).sum())
                    .collect();
                picture::heat(&summed, kh, kw, Scale::PerMap, Colormap::Grey)
            };
            picture::enlarge_tile(&tile, enlarge)
        })
        .collect();
    picture::grid(&tiles, cols, picture::GAP)
}

/// A layer's activations for one image: `[C, H, W]` values and the shape.
pub async fn feature_maps_async(
    model: &dyn Model,
    x: &Array,
    layer: &str,
) -> Result<(Vec<f32>, [usize; 3])> {
    let act = {
        let _g = NoGradGuard::new();
        crate::activation(model, &Tensor::new(x.clone()), layer)?
    };
    match *act.shape() {
        [1, c, h, w] => Ok((act.to_vec_async().await?, [c, h, w])),
        ref s => Err(config(
            "feature maps",
            format!("layer {layer} gives shape {s:?} for one image; pick an image layer (before flattening)"),
        )),
    }
}

/// Native twin of [`feature_maps_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn feature_maps(model: &dyn Model, x: &Array, layer: &str) -> Result<(Vec<f32>, [usize; 3])> {
    fovea_device::block_on(feature_maps_async(model, x, layer))
}

/// Feature maps as a grid, with one colour scale for all maps (`shared`) or one per map,
/// enlarged `enlarge` times or more (each map at least [`picture::MIN_TILE`] pixels a side).
pub fn feature_grid(
    values: &[f32],
    shape: [usize; 3],
    shared: bool,
    enlarge: u32,
    cols: usize,
) -> RgbImage {
    let [c, h, w] = shape;
    let scale = if shared {
        let (lo, hi) = picture::bounds(values);
        Scale::Shared(lo, hi)
    } else {
        Scale::PerMap
    };
    let tiles: Vec<RgbImage> = (0..c)
        .map(|ch| {
            let m = &values[ch * h * w..(ch + 1) * h * w];
            picture::enlarge_tile(&picture::heat(m, h, w, scale, Colormap::Viridis), enlarge)
        })
        .collect();
    picture::grid(&tiles, cols, picture::GAP)
}
