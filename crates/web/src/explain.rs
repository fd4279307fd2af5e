//! Every fovea-vis technique on a [`Classifier`], returning the raw values and an RGBA
//! picture ready for a canvas (`ImageData`).

use crate::classifier::Classifier;
use crate::data::Dataset;
use crate::{err, Result};
use fovea_device::Array;
use fovea_vis::attribution::{self, Explain, SmoothGrad};
use fovea_vis::display::{self, Display, Method, Sign};
use fovea_vis::embed::{self, Metric, Rows};
use fovea_vis::tsne::{Tsne, TsneRun};
use fovea_vis::{dream, layers, occlusion, patches, picture};
use image::RgbImage;
use serde::Serialize;

/// An RGBA picture (`width * height * 4` bytes, row-major), what a canvas's `ImageData`
/// takes.
#[derive(Clone, Debug, Serialize)]
pub struct Picture {
    /// pixels across
    pub width: u32,
    /// pixels down
    pub height: u32,
    /// RGBA bytes, alpha 255
    #[serde(skip)]
    pub rgba: Vec<u8>,
}

impl Picture {
    /// Adds an opaque alpha channel to an RGB image.
    pub fn from_rgb(img: &RgbImage) -> Picture {
        Picture {
            width: img.width(),
            height: img.height(),
            rgba: img.pixels().flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        }
    }
}

/// A technique's result: the values it computed, their shape, and their picture.
#[derive(Clone, Debug)]
pub struct Explained {
    /// the raw values
    pub values: Vec<f32>,
    /// their shape
    pub shape: Vec<usize>,
    /// the values drawn
    pub picture: Picture,
}

/// Which attribution and how to draw it (Captum's names and defaults).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default)]
pub struct AttributionOptions {
    /// `saliency`, `smoothgrad`, `guided-backprop`, `grad-cam`, `integrated-gradients` or
    /// `occlusion`
    pub method: String,
    /// the class explained
    pub target: usize,
    /// Grad-CAM's layer (default: the last ReLU before flattening, as `fovea visualize`)
    pub layer: Option<String>,
    /// SmoothGrad's noisy copies; integrated gradients' steps
    pub samples: usize,
    /// `heat_map`, `blended_heat_map` or `masked_image`
    pub display: String,
    /// `all`, `positive`, `negative` or `absolute`
    pub sign: String,
    /// percent of the cumulative magnitude clipped as outliers
    pub outlier_perc: f32,
}

impl Default for AttributionOptions {
    fn default() -> Self {
        AttributionOptions {
            method: "saliency".into(),
            target: 0,
            layer: None,
            samples: 25,
            display: "blended_heat_map".into(),
            sign: "absolute".into(),
            outlier_perc: 2.0,
        }
    }
}

/// The rows of one image given as normalised values: `[1, C, H, W]` on the model's device.
fn one(c: &Classifier, image: &[f32]) -> Result<Array> {
    let (ch, h, w) = c.run.input();
    if image.len() != ch * h * w {
        return Err(format!(
            "the image has {} values; the model takes {ch}x{h}x{w} = {}",
            image.len(),
            ch * h * w
        ));
    }
    Array::from_slice(&c.device, image, &[1, ch, h, w]).map_err(err)
}

/// The image back in `[0, 1]` for drawing under a map.
fn unit(c: &Classifier, image: &[f32]) -> Vec<f32> {
    let (ch, _, _) = c.run.input();
    picture::denormalize(image, ch, &c.run.mean, &c.run.std)
}

/// A conv layer's filters (default: the first), drawn as a grid.
pub async fn filters(c: &Classifier, layer: Option<&str>) -> Result<Explained> {
    let w = layers::conv_weight_async(c.model.as_ref(), layer)
        .await
        .map_err(err)?;
    let grid = layers::filter_grid(&w, 6, 8);
    Ok(Explained {
        picture: Picture::from_rgb(&grid),
        shape: w.shape.to_vec(),
        values: w.values,
    })
}

/// The feature maps of one image (normalised values) at a named layer, as a grid.
pub async fn feature_maps(c: &Classifier, image: &[f32], layer: &str) -> Result<Explained> {
    let x = one(c, image)?;
    let (values, shape) = layers::feature_maps_async(c.model.as_ref(), &x, layer)
        .await
        .map_err(err)?;
    let grid = layers::feature_grid(&values, shape, false, 2, 8);
    Ok(Explained {
        picture: Picture::from_rgb(&grid),
        shape: shape.to_vec(),
        values,
    })
}

/// An attribution of one image (normalised values) for `opts.target`, drawn as Captum's
/// `visualize_image_attr` draws it.
pub async fn attribution(
    c: &Classifier,
    image: &[f32],
    opts: &AttributionOptions,
) -> Result<Explained> {
    let x = one(c, image)?;
    let (ch, h, w) = c.run.input();
    let m = c.model.as_ref();
    let t = opts.target;
    if t >= c.run.classes.len() {
        return Err(format!(
            "target class {t} is out of range; the model has {} classes",
            c.run.classes.len()
        ));
    }
    let values = match opts.method.as_str() {
        "saliency" => attribution::saliency_async(m, &x, &[t]).await,
        "smoothgrad" => {
            let cfg = SmoothGrad {
                samples: opts.samples.max(1),
                ..SmoothGrad::default()
            };
            attribution::smoothgrad_async(m, &x, t, cfg).await
        }
        "guided-backprop" => attribution::guided_backprop_async(m, &x, &Explain::Class(t)).await,
        "grad-cam" => {
            let layer = match &opts.layer {
                Some(l) => l.clone(),
                None => m.layer_like("relu", true).ok_or(
                    "the model has no relu layer before flattening; give Grad-CAM a layer",
                )?,
            };
            attribution::grad_cam_async(m, &x, t, &layer).await
        }
        "integrated-gradients" => {
            let baseline = vec![0.0; ch * h * w];
            attribution::integrated_gradients_async(m, &x, &baseline, t, opts.samples.max(2)).await
        }
        "occlusion" => occlusion::occlusion_async(m, &x, t, &occlusion::Occlusion::default()).await,
        other => {
            return Err(format!(
                "attribution `{other}` is not one of saliency, smoothgrad, guided-backprop, \
                 grad-cam, integrated-gradients, occlusion"
            ))
        }
    }
    .map_err(err)?;
    let d = Display {
        method: match opts.display.as_str() {
            "heat_map" => Method::HeatMap,
            "blended_heat_map" => Method::BlendedHeatMap,
            "masked_image" => Method::MaskedImage,
            other => {
                return Err(format!(
                    "display `{other}` is not heat_map, blended_heat_map or masked_image"
                ))
            }
        },
        sign: match opts.sign.as_str() {
            "all" => Sign::All,
            "positive" => Sign::Positive,
            "negative" => Sign::Negative,
            "absolute" => Sign::Absolute,
            other => {
                return Err(format!(
                    "sign `{other}` is not all, positive, negative or absolute"
                ))
            }
        },
        outlier_perc: opts.outlier_perc,
        ..Display::default()
    };
    let planes = values.len() / (h * w);
    let img = display::visualize(&values, &unit(c, image), ch, h, w, &d);
    Ok(Explained {
        picture: Picture::from_rgb(&picture::enlarge(&img, 4)),
        shape: if planes == 1 {
            vec![h, w]
        } else {
            vec![planes, h, w]
        },
        values,
    })
}

/// The first `n` images of `data`, normalised, as one buffer.
fn images(data: &Dataset, n: usize) -> Vec<f32> {
    (0..n.min(data.len()))
        .flat_map(|i| data.normalized(i))
        .collect()
}

/// The `k` patches of the first `n` images of `data` that excite each of `channels` of
/// `layer` most (Zeiler & Fergus), one row of patches per channel.
pub async fn top_patches(
    c: &Classifier,
    data: &Dataset,
    n: usize,
    layer: &str,
    channels: &[usize],
    k: usize,
) -> Result<(Vec<Vec<patches::Patch>>, Picture)> {
    let xs = images(data, n);
    let shape = c.run.input();
    let found = patches::top_patches_async(
        c.model.as_ref(),
        &c.device,
        &xs,
        shape,
        layer,
        channels,
        k,
        100,
        &mut |_| {},
    )
    .await
    .map_err(err)?;
    let grid = patches::patch_grid(&xs, shape, &c.run.mean, &c.run.std, &found, 3);
    Ok((found, Picture::from_rgb(&grid)))
}

/// The feature vectors (the model's feature layer) of the first `n` images of `data`.
pub async fn features(c: &Classifier, data: &Dataset, n: usize) -> Result<Rows> {
    let xs = images(data, n);
    let layer = c.model.feature_layer();
    embed::features_async(
        c.model.as_ref(),
        &c.device,
        &xs,
        c.run.input(),
        &layer,
        100,
        &mut |_| {},
    )
    .await
    .map_err(err)
}

/// The `k` nearest neighbours of image `query` among the first `n` images of `data` (the
/// query excluded), by the model's features or by raw pixels: `(index, distance)`.
pub async fn neighbours(
    c: &Classifier,
    data: &Dataset,
    n: usize,
    query: usize,
    k: usize,
    by_pixels: bool,
) -> Result<Vec<(usize, f32)>> {
    let n = n.min(data.len());
    if query >= n {
        return Err(format!("query image {query} is not among the first {n}"));
    }
    let rows = if by_pixels {
        let per = data.images.image_len();
        Rows::new(images(data, n), n, per).map_err(err)?
    } else {
        features(c, data, n).await?
    };
    let q = Rows::new(rows.row(query).to_vec(), 1, rows.d).map_err(err)?;
    let mut found = embed::nearest_async(&c.device, &rows, &q, k, Metric::L2, &[Some(query)])
        .await
        .map_err(err)?;
    Ok(found.remove(0))
}

/// PCA of the features of the first `n` images: `n x 2` coordinates and the explained
/// variance ratios of the two axes.
pub async fn pca(c: &Classifier, data: &Dataset, n: usize) -> Result<(Vec<f32>, Vec<f64>)> {
    let rows = features(c, data, n).await?;
    let p = embed::pca_async(&c.device, &rows, 2).await.map_err(err)?;
    Ok((p.projected, p.explained_variance_ratio))
}

/// Starts t-SNE of the features of the first `n` images; step the returned run to draw it
/// as it optimises.
pub async fn tsne_start(
    c: &Classifier,
    data: &Dataset,
    n: usize,
    perplexity: f32,
    iterations: usize,
) -> Result<TsneRun> {
    let rows = features(c, data, n).await?;
    let cfg = Tsne {
        perplexity,
        iterations,
        ..Tsne::default()
    };
    TsneRun::start_async(&c.device, &rows, &cfg)
        .await
        .map_err(err)
}

/// DeepDream of one image (normalised values) at `layer` (default: the net's choice):
/// the dreamed image's values and its picture.
pub async fn deep_dream(
    c: &Classifier,
    image: &[f32],
    layer: Option<&str>,
    steps: usize,
) -> Result<Explained> {
    let x = one(c, image)?;
    let (ch, h, w) = c.run.input();
    let m = c.model.as_ref();
    let layer = match layer {
        Some(l) => l.to_string(),
        None => m
            .layer_like("pool", true)
            .or_else(|| m.layer_like("relu", true))
            .ok_or("the model has no pool or relu layer to dream at; name a layer")?,
    };
    let mut cfg = dream::Dream::new(&layer);
    cfg.steps = steps.max(1);
    // The normalised values pixels 0 and 1 map to: the dream stays a picture.
    let ends = |p: f32| {
        c.run
            .mean
            .iter()
            .zip(&c.run.std)
            .map(move |(m, s)| (p - m) / s)
    };
    let (lo, hi) = (
        ends(0.0).fold(f32::MAX, f32::min),
        ends(1.0).fold(f32::MIN, f32::max),
    );
    let (dreamed, _) =
        dream::deep_dream_async(c.model.as_ref(), &x, &cfg, (lo, hi), &mut |_, _| {})
            .await
            .map_err(err)?;
    let img = picture::planes(&unit(c, &dreamed), ch, h, w);
    Ok(Explained {
        picture: Picture::from_rgb(&picture::enlarge(&img, 4)),
        shape: vec![ch, h, w],
        values: dreamed,
    })
}
