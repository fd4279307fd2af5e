//! `fovea visualize <technique> RUN_DIR ...`: every technique of `fovea-vis` on a trained
//! run, each writing a PNG (or an SVG for the maps) with a progress bar where it takes time.

use crate::run::{load_run, RunFolder, RunInfo, Which};
use crate::Res;
use fovea_data::read_image;
use fovea_device::{Array, Device};
use fovea_models::Model;
use fovea_vis::attribution::{self, Explain, SmoothGrad};
use fovea_vis::display::{self, Display, Method, Sign};
use fovea_vis::embed::{self, Metric, Rows, Tsne};
use fovea_vis::occlusion::{occlusion, Occlusion};
use fovea_vis::{dream, layers, patches, picture};
use image::RgbImage;
use std::path::{Path, PathBuf};

pub use crate::progress_bar as bar;

/// A trained run, loaded for inspection.
pub struct Ctx {
    /// the run's description
    pub info: RunInfo,
    /// the model, in eval mode
    pub model: Box<dyn Model>,
    /// where it runs
    pub dev: Device,
}

/// Images to explain: their names and normalised `[C, H, W]` values.
pub type Inputs = Vec<(String, Vec<f32>)>;

impl Ctx {
    /// Loads `dir`'s best checkpoint onto `device`.
    pub fn open(dir: &Path, device: &str) -> Res<Ctx> {
        let dev = Device::from_name(device)?;
        let (info, model) = load_run(dir, Which::Best, &dev)?;
        Ok(Ctx { info, model, dev })
    }

    /// Values per image.
    pub fn per(&self) -> usize {
        self.info.input_shape.iter().product()
    }

    /// The first `limit` test images (normalised, resized as in training) and labels.
    pub fn test_set(&self, limit: usize) -> Res<(Vec<f32>, Vec<u8>)> {
        let loader = self.info.test_loader(Some(limit), None)?;
        let labels = loader.dataset().labels.clone();
        let images = loader.epoch(0).flat_map(|b| b.images).collect();
        Ok((images, labels))
    }

    /// Image files (decoded and normalised like training data), or test images by index.
    pub fn inputs(&self, files: &[PathBuf], index: &[usize]) -> Res<Inputs> {
        let (c, h, w) = self.info.input();
        let norm = self.info.normalize()?;
        let mut out = Vec::new();
        for f in files {
            let (bytes, _) = read_image(f, c, Some((h, w)))?;
            let mut v = vec![0.0; c * h * w];
            norm.apply(&bytes, c, &mut v);
            out.push((f.display().to_string(), v));
        }
        if files.is_empty() {
            let max = index.iter().max().map_or(0, |m| m + 1);
            let (images, labels) = self.test_set(max)?;
            let per = self.per();
            for &i in index {
                if i >= labels.len() {
                    return Err(format!(
                        "test image {i}: the test set has {} images",
                        labels.len()
                    )
                    .into());
                }
                let name = format!("test #{i} ({})", self.info.classes[labels[i] as usize]);
                out.push((name, images[i * per..(i + 1) * per].to_vec()));
            }
        }
        Ok(out)
    }

    /// One image as an array `[1, C, H, W]` on the device.
    pub fn array(&self, x: &[f32]) -> Res<Array> {
        let [c, h, w] = self.info.input_shape;
        Ok(Array::from_slice(&self.dev, x, &[1, c, h, w])?)
    }

    /// The image as the eye sees it.
    pub fn picture(&self, x: &[f32]) -> RgbImage {
        let [c, h, w] = self.info.input_shape;
        let v = picture::denormalize(x, c, &self.info.mean, &self.info.std);
        picture::planes(&v, c, h, w)
    }

    /// Values in `[0, 1]` for display.
    pub fn unit(&self, x: &[f32]) -> Vec<f32> {
        let c = self.info.input_shape[0];
        picture::denormalize(x, c, &self.info.mean, &self.info.std)
    }

    /// The normalised range of valid pixels (0 and 1 before normalising).
    pub fn valid_range(&self) -> (f32, f32) {
        let lo = (0..self.info.mean.len())
            .map(|c| -self.info.mean[c] / self.info.std[c])
            .fold(f32::MAX, f32::min);
        let hi = (0..self.info.mean.len())
            .map(|c| (1.0 - self.info.mean[c]) / self.info.std[c])
            .fold(f32::MIN, f32::max);
        (lo, hi)
    }

    /// The predicted class of one image.
    pub fn predict(&self, x: &[f32]) -> Res<usize> {
        let s = attribution::scores(self.model.as_ref(), &self.array(x)?)?;
        Ok((0..s.len())
            .max_by(|&a, &b| s[a].total_cmp(&s[b]))
            .unwrap_or(0))
    }

    /// The first layer whose name starts with `prefix`, else the last such before flattening.
    pub fn layer_like(&self, prefix: &str, last: bool) -> Res<String> {
        self.model.layer_like(prefix, last).ok_or_else(|| {
            format!(
                "the model has no `{prefix}...` layer; its layers are {}",
                self.model.layer_names().join(", ")
            )
            .into()
        })
    }
}

/// Options every attribution takes.
#[derive(clap::Args, Clone, Debug)]
pub struct Explained {
    /// The run folder `fovea train --out` wrote.
    pub run_dir: PathBuf,
    /// Image files to explain (default: test images picked by --index).
    pub images: Vec<PathBuf>,
    /// Test-set images to explain when no files are given.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,3")]
    pub index: Vec<usize>,
    /// Class to explain (default: each image's predicted class).
    #[arg(long)]
    pub target: Option<usize>,
    /// Drawing: heat, blend or mask (Captum's heat_map, blended_heat_map, masked_image).
    #[arg(long, default_value = "blend")]
    pub method: String,
    /// Sign shown: all, positive, negative or absolute.
    #[arg(long, default_value = "absolute")]
    pub sign: String,
    /// Percent of the cumulative attribution clipped as outliers.
    #[arg(long, default_value_t = 2.0)]
    pub outlier_perc: f32,
    /// Pixel enlargement of the output.
    #[arg(long, default_value_t = 6)]
    pub enlarge: u32,
    /// Device: gpu, cpu or best.
    #[arg(long, default_value = "best")]
    pub device: String,
    /// The PNG to write (default: RUN_DIR/vis/<technique>.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl Explained {
    /// The display settings.
    pub fn display(&self) -> Res<Display> {
        let method = match self.method.as_str() {
            "heat" => Method::HeatMap,
            "blend" => Method::BlendedHeatMap,
            "mask" => Method::MaskedImage,
            m => return Err(format!("unknown --method `{m}`; known: heat, blend, mask").into()),
        };
        let sign = match self.sign.as_str() {
            "all" => Sign::All,
            "positive" => Sign::Positive,
            "negative" => Sign::Negative,
            "absolute" => Sign::Absolute,
            s => {
                return Err(format!(
                    "unknown --sign `{s}`; known: all, positive, negative, absolute"
                )
                .into())
            }
        };
        Ok(Display {
            method,
            sign,
            outlier_perc: self.outlier_perc,
            ..Display::default()
        })
    }
}

/// An attribution technique's settings.
#[derive(Clone, Debug)]
pub enum Attribution {
    /// gradient saliency, optionally SmoothGrad
    Saliency(Option<SmoothGrad>),
    /// occlusion
    Occlusion(Occlusion),
    /// guided backprop of the class or of a channel
    Guided(Option<(String, usize)>),
    /// Grad-CAM at a layer (default: the last conv's ReLU)
    GradCam(Option<String>),
    /// integrated gradients with steps, from a black image
    Ig(usize),
}

/// The attribution of one image, `[C, H, W]` or `[H, W]` values.
pub fn attribute(ctx: &Ctx, x: &[f32], target: usize, how: &Attribution) -> Res<Vec<f32>> {
    let m = ctx.model.as_ref();
    let a = ctx.array(x)?;
    Ok(match how {
        Attribution::Saliency(None) => attribution::saliency(m, &a, &[target])?,
        Attribution::Saliency(Some(sg)) => attribution::smoothgrad(m, &a, target, *sg)?,
        Attribution::Occlusion(o) => occlusion(m, &a, target, o)?,
        Attribution::Guided(None) => attribution::guided_backprop(m, &a, &Explain::Class(target))?,
        Attribution::Guided(Some((layer, channel))) => attribution::guided_backprop(
            m,
            &a,
            &Explain::Channel {
                layer: layer.clone(),
                channel: *channel,
            },
        )?,
        Attribution::GradCam(layer) => {
            let layer = match layer {
                Some(l) => l.clone(),
                None => ctx.layer_like("relu", true)?,
            };
            attribution::grad_cam(m, &a, target, &layer)?
        }
        Attribution::Ig(steps) => {
            let (lo, _) = ctx.valid_range();
            let black = vec![lo; x.len()];
            attribution::integrated_gradients(m, &a, &black, target, *steps)?
        }
    })
}

/// Rows of `[image | attribution]` for each input.
pub fn attribution_rows(
    ctx: &Ctx,
    opts: &Explained,
    how: &Attribution,
    name: &str,
) -> Res<(RgbImage, Vec<String>)> {
    let d = opts.display()?;
    let inputs = ctx.inputs(&opts.images, &opts.index)?;
    let [c, h, w] = ctx.info.input_shape;
    let pb = bar(inputs.len(), name);
    let mut tiles = Vec::new();
    let mut lines = Vec::new();
    for (label, x) in &inputs {
        let target = match opts.target {
            Some(t) => t,
            None => ctx.predict(x)?,
        };
        let started = std::time::Instant::now();
        let attr = attribute(ctx, x, target, how)?;
        lines.push(format!(
            "{label}: {name} of class {} ({:.2} s)",
            ctx.info.classes.get(target).cloned().unwrap_or_default(),
            started.elapsed().as_secs_f64()
        ));
        let shown = display::visualize(&attr, &ctx.unit(x), c, h, w, &d);
        tiles.push(picture::enlarge(&ctx.picture(x), opts.enlarge));
        tiles.push(picture::enlarge(&shown, opts.enlarge));
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok((picture::grid(&tiles, 2, 4), lines))
}

/// The default output path `RUN_DIR/vis/<name>`, its folder created.
pub fn out_path(run_dir: &Path, out: &Option<PathBuf>, name: &str) -> Res<PathBuf> {
    if let Some(o) = out {
        return Ok(o.clone());
    }
    let dir = run_dir.join("vis");
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "cannot create {}: {e}; give --out a path in a folder you can write to",
            dir.display()
        )
    })?;
    Ok(dir.join(name))
}

/// The filters of `layer` (default: the first conv) as a grid.
pub fn filters(ctx: &Ctx, layer: Option<&str>, enlarge: u32) -> Res<RgbImage> {
    let w = layers::conv_weight(ctx.model.as_ref(), layer)?;
    let cols = (w.shape[0] as f64).sqrt().ceil() as usize;
    Ok(layers::filter_grid(&w, enlarge, cols))
}

/// The feature maps of `layer` for one image, beside the image.
pub fn feature_maps(
    ctx: &Ctx,
    x: &[f32],
    layer: &str,
    shared: bool,
    enlarge: u32,
) -> Res<RgbImage> {
    let (v, shape) = layers::feature_maps(ctx.model.as_ref(), &ctx.array(x)?, layer)?;
    let cols = (shape[0] as f64).sqrt().ceil() as usize;
    let grid = layers::feature_grid(&v, shape, shared, enlarge, cols);
    Ok(picture::row(
        &[picture::enlarge(&ctx.picture(x), enlarge), grid],
        8,
    ))
}

/// The top patches of `channels` of `layer` over the first `limit` test images.
pub fn top_patches(
    ctx: &Ctx,
    layer: &str,
    channels: &[usize],
    k: usize,
    limit: usize,
    enlarge: u32,
) -> Res<RgbImage> {
    let (images, _) = ctx.test_set(limit)?;
    let n = images.len() / ctx.per();
    let pb = bar(n, "patches");
    let shape = ctx.info.input();
    let found = patches::top_patches(
        ctx.model.as_ref(),
        &ctx.dev,
        &images,
        shape,
        layer,
        channels,
        k,
        250,
        &mut |d| pb.set_position(d as u64),
    )?;
    pb.finish_and_clear();
    Ok(patches::patch_grid(
        &images,
        shape,
        &ctx.info.mean,
        &ctx.info.std,
        &found,
        enlarge,
    ))
}

/// For each query, its `k` nearest test images in final-feature space (top row) and in
/// pixel space (bottom row).
pub fn neighbours(
    ctx: &Ctx,
    queries: &Inputs,
    k: usize,
    metric: Metric,
    limit: usize,
    enlarge: u32,
) -> Res<RgbImage> {
    let (images, _, feats) = test_features(ctx, limit)?;
    let per = ctx.per();
    let n = images.len() / per;
    let layer = ctx.model.feature_layer();
    let pixels = Rows::new(images.clone(), n, per)?;
    let qimgs: Vec<f32> = queries.iter().flat_map(|(_, x)| x.clone()).collect();
    let qf = embed::features(
        ctx.model.as_ref(),
        &ctx.dev,
        &qimgs,
        ctx.info.input(),
        &layer,
        250,
        &mut |_| {},
    )?;
    let qp = Rows::new(qimgs, queries.len(), per)?;
    let skip = vec![None; queries.len()];
    let by_feat = embed::nearest(&ctx.dev, &feats, &qf, k, metric, &skip)?;
    let by_pix = embed::nearest(&ctx.dev, &pixels, &qp, k, metric, &skip)?;
    let tile = |i: usize| picture::enlarge(&ctx.picture(&images[i * per..(i + 1) * per]), enlarge);
    let blank = RgbImage::from_pixel(4, 4, image::Rgb([255, 255, 255]));
    let mut tiles = Vec::new();
    for (q, (_, x)) in queries.iter().enumerate() {
        tiles.push(picture::enlarge(&ctx.picture(x), enlarge));
        tiles.extend(by_feat[q].iter().map(|(j, _)| tile(*j)));
        tiles.push(blank.clone());
        tiles.extend(by_pix[q].iter().map(|(j, _)| tile(*j)));
    }
    Ok(picture::grid(&tiles, k + 1, 3))
}

/// The first `limit` test images, their labels, and their final feature vectors.
fn test_features(ctx: &Ctx, limit: usize) -> Res<(Vec<f32>, Vec<u8>, Rows)> {
    let (images, labels) = ctx.test_set(limit)?;
    let pb = bar(labels.len(), "features");
    let feats = embed::features(
        ctx.model.as_ref(),
        &ctx.dev,
        &images,
        ctx.info.input(),
        &ctx.model.feature_layer(),
        250,
        &mut |d| pb.set_position(d as u64),
    )?;
    pb.finish_and_clear();
    Ok((images, labels, feats))
}

/// Which 2-D map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// principal components
    Pca,
    /// t-SNE
    Tsne,
}

/// PCA or t-SNE maps of the final features and of the raw pixels of the first `limit`
/// test images, as two SVG scatter plots; returns the paths and a summary line.
pub fn maps(
    ctx: &Ctx,
    kind: MapKind,
    limit: usize,
    tsne: &Tsne,
    out_dir: &Path,
) -> Res<(Vec<PathBuf>, String)> {
    let (images, labels, feats) = test_features(ctx, limit)?;
    let per = ctx.per();
    let n = images.len() / per;
    let pixels = Rows::new(images, n, per)?;
    let mut paths = Vec::new();
    let mut summary = Vec::new();
    for (what, rows) in [("features", &feats), ("pixels", &pixels)] {
        let started = std::time::Instant::now();
        let (pts, title) = match kind {
            MapKind::Pca => {
                let fit = embed::pca(&ctx.dev, rows, 2)?;
                let r = &fit.explained_variance_ratio;
                summary.push(format!(
                    "PCA of {what}: explained variance ratios {:.3}, {:.3}",
                    r[0], r[1]
                ));
                (
                    fit.projected,
                    format!(
                        "PCA of {what} ({n} test images): PC1 {:.1}%, PC2 {:.1}%",
                        100.0 * r[0],
                        100.0 * r[1]
                    ),
                )
            }
            MapKind::Tsne => {
                let pb = bar(tsne.iterations, "t-SNE");
                let y = embed::tsne(&ctx.dev, rows, tsne, &mut |i, _| pb.set_position(i as u64))?;
                pb.finish_and_clear();
                let acc = embed::knn_accuracy(&ctx.dev, &Rows::new(y.clone(), n, 2)?, &labels, 10)?;
                summary.push(format!(
                    "t-SNE of {what} ({n} points, Barnes-Hut): {:.1} s, 10-NN accuracy in 2-D {acc:.3}",
                    started.elapsed().as_secs_f64()
                ));
                (
                    y,
                    format!("t-SNE of {what} ({n} test images), 10-NN accuracy {acc:.3}"),
                )
            }
        };
        let points: Vec<(f32, f32)> = pts.chunks(2).map(|p| (p[0], p[1])).collect();
        let tag = if kind == MapKind::Pca { "pca" } else { "tsne" };
        let path = out_dir.join(format!("{tag}-{what}.svg"));
        crate::plots::scatter(&path, &title, &points, &labels, &ctx.info.classes)?;
        paths.push(path);
    }
    Ok((paths, summary.join("; ")))
}

/// DeepDream's default layer: the last pooling layer before flattening (a max pool passes
/// the gradient to one pixel of each window, which draws texture rather than brightening
/// the whole object), else the last ReLU.
pub fn dream_layer(ctx: &Ctx) -> Res<String> {
    ctx.layer_like("pool", true)
        .or_else(|_| ctx.layer_like("relu", true))
}

/// DeepDream on one image, beside the original.
pub fn deep_dream(ctx: &Ctx, x: &[f32], cfg: &dream::Dream, enlarge: u32) -> Res<RgbImage> {
    let pb = bar(cfg.octaves * cfg.steps, "DeepDream");
    let (img, _) = dream::deep_dream(
        ctx.model.as_ref(),
        &ctx.array(x)?,
        cfg,
        ctx.valid_range(),
        &mut |d, _| pb.set_position(d as u64),
    )?;
    pb.finish_and_clear();
    Ok(picture::row(
        &[
            picture::enlarge(&ctx.picture(x), enlarge),
            picture::enlarge(&ctx.picture(&img), enlarge),
        ],
        8,
    ))
}
