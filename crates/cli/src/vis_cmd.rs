//! The `fovea visualize` subcommands: argument parsing and dispatch to [`crate::visualize`].

use crate::visualize::{self as v, Attribution, Ctx, Explained, MapKind};
use crate::Res;
use clap::Subcommand;
use fovea_data::read_image;
use fovea_device::{Array, Device};
use fovea_nn::ModuleExt;
use fovea_vis::attribution::SmoothGrad;
use fovea_vis::embed::{Metric, Tsne};
use fovea_vis::occlusion::Occlusion;
use fovea_vis::{dream, picture, style};
use std::path::PathBuf;

/// ImageNet's per-channel mean, for VGG weights trained on it.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// A visualization technique.
#[derive(Subcommand, Debug)]
pub enum Technique {
    /// Conv filters as an image grid (first layer by default; colour for RGB nets).
    Filters {
        /// The run folder.
        run_dir: PathBuf,
        /// Conv layer or weight name, e.g. features.3 (default: the first conv).
        #[arg(long)]
        layer: Option<String>,
        /// Pixel enlargement.
        #[arg(long, default_value_t = 8)]
        enlarge: u32,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "best")]
        device: String,
        /// PNG to write (default: RUN_DIR/vis/filters.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The activations of a named layer for one image, as a grid.
    Features {
        /// The run folder.
        run_dir: PathBuf,
        /// An image file (default: the test image at --index).
        image: Option<PathBuf>,
        /// Test image when no file is given.
        #[arg(long, default_value_t = 0)]
        index: usize,
        /// Layer name (default: the first ReLU).
        #[arg(long)]
        layer: Option<String>,
        /// One colour scale for all maps instead of one per map.
        #[arg(long)]
        shared: bool,
        /// Pixel enlargement.
        #[arg(long, default_value_t = 6)]
        enlarge: u32,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "best")]
        device: String,
        /// PNG to write (default: RUN_DIR/vis/features.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The test-set patches that excite chosen channels most (Zeiler & Fergus).
    Patches {
        /// The run folder.
        run_dir: PathBuf,
        /// Layer name (default: the last ReLU before flattening).
        #[arg(long)]
        layer: Option<String>,
        /// Channels, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0,1,2,3,4,5,6,7")]
        channels: Vec<usize>,
        /// Patches per channel.
        #[arg(long, default_value_t = 8)]
        top: usize,
        /// Test images searched.
        #[arg(long, default_value_t = 10000)]
        limit: usize,
        /// Pixel enlargement.
        #[arg(long, default_value_t = 4)]
        enlarge: u32,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "best")]
        device: String,
        /// PNG to write (default: RUN_DIR/vis/patches.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Nearest test images in final-feature space (top rows) and pixel space (bottom rows).
    Neighbours {
        /// The run folder.
        run_dir: PathBuf,
        /// Query image files (default: test images at --index).
        images: Vec<PathBuf>,
        /// Test images used as queries when no files are given.
        #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
        index: Vec<usize>,
        /// Neighbours per query.
        #[arg(long, default_value_t = 8)]
        k: usize,
        /// Distance: l2, l1 or cosine.
        #[arg(long, default_value = "l2")]
        metric: String,
        /// Test images searched.
        #[arg(long, default_value_t = 10000)]
        limit: usize,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "best")]
        device: String,
        /// PNG to write (default: RUN_DIR/vis/neighbours.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// PCA of the final features and of the raw pixels, coloured by class.
    Pca {
        /// The run folder.
        run_dir: PathBuf,
        /// Test images mapped.
        #[arg(long, default_value_t = 10000)]
        limit: usize,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "best")]
        device: String,
    },
    /// t-SNE of the final features and of the raw pixels (Barnes-Hut), coloured by class.
    Tsne {
        /// The run folder.
        run_dir: PathBuf,
        /// Test images mapped.
        #[arg(long, default_value_t = 10000)]
        limit: usize,
        /// Perplexity.
        #[arg(long, default_value_t = 30.0)]
        perplexity: f32,
        /// Iterations (the first 250 with early exaggeration 12).
        #[arg(long, default_value_t = 1000)]
        iterations: usize,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "best")]
        device: String,
    },
    /// Occlusion: the class-score drop under a sliding patch.
    Occlusion {
        #[command(flatten)]
        e: Explained,
        /// Patch side in pixels.
        #[arg(long, default_value_t = 6)]
        window: usize,
        /// Step between patches.
        #[arg(long, default_value_t = 2)]
        stride: usize,
        /// Patch value in normalised units (0: the dataset mean).
        #[arg(long, default_value_t = 0.0)]
        fill: f32,
    },
    /// Saliency (max |gradient| over channels); --smoothgrad N averages N noisy copies.
    Saliency {
        #[command(flatten)]
        e: Explained,
        /// SmoothGrad samples (0: plain saliency).
        #[arg(long, default_value_t = 0)]
        smoothgrad: usize,
        /// SmoothGrad noise, as a fraction of the value range.
        #[arg(long, default_value_t = 0.15)]
        noise: f32,
    },
    /// Guided backpropagation of the class score, or of --channel of --layer.
    Guided {
        #[command(flatten)]
        e: Explained,
        /// Layer of the channel to explain instead of the class.
        #[arg(long)]
        layer: Option<String>,
        /// The channel.
        #[arg(long, default_value_t = 0)]
        channel: usize,
    },
    /// Grad-CAM at a conv layer (default: the last ReLU before flattening).
    Gradcam {
        #[command(flatten)]
        e: Explained,
        /// Layer name.
        #[arg(long)]
        layer: Option<String>,
    },
    /// Integrated gradients from a black image.
    Ig {
        #[command(flatten)]
        e: Explained,
        /// Interpolation steps.
        #[arg(long, default_value_t = 50)]
        steps: usize,
    },
    /// DeepDream: amplify what a layer (or channel) sees in an image.
    Deepdream {
        /// The run folder.
        run_dir: PathBuf,
        /// An image file (default: the test image at --index).
        image: Option<PathBuf>,
        /// Test image when no file is given.
        #[arg(long, default_value_t = 0)]
        index: usize,
        /// Layer to amplify (default: the last pooling layer before flattening, else the
        /// last ReLU).
        #[arg(long)]
        layer: Option<String>,
        /// One channel of it (default: all).
        #[arg(long)]
        channel: Option<usize>,
        /// Octaves.
        #[arg(long, default_value_t = 3)]
        octaves: usize,
        /// Size ratio between octaves.
        #[arg(long, default_value_t = 1.3)]
        octave_scale: f32,
        /// Steps per octave.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Step size (normalised units per unit of normalised gradient; steps shrink near
        /// black and white, so the picture keeps its range).
        #[arg(long, default_value_t = dream::STEP_SIZE)]
        step_size: f32,
        /// Largest random shift per step, in pixels.
        #[arg(long, default_value_t = 2)]
        jitter: usize,
        /// Seed of the jitter.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Pixel enlargement.
        #[arg(long, default_value_t = 8)]
        enlarge: u32,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "best")]
        device: String,
        /// PNG to write (default: RUN_DIR/vis/deepdream.png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Gatys style transfer with a VGG (torchvision names, ImageNet weights as safetensors).
    Style {
        /// The content image.
        content: PathBuf,
        /// The style image.
        style: PathBuf,
        /// vgg11 ... vgg19 (with -bn if the weights have BatchNorm).
        #[arg(long, default_value = "vgg16")]
        model: String,
        /// torchvision state_dict as safetensors (see the README); random weights without.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Side length images are resized to.
        #[arg(long, default_value_t = 224)]
        size: usize,
        /// Adam steps.
        #[arg(long, default_value_t = 200)]
        steps: usize,
        /// Adam's learning rate.
        #[arg(long, default_value_t = 0.03)]
        lr: f32,
        /// Content loss weight.
        #[arg(long, default_value_t = 1.0)]
        content_weight: f32,
        /// Style loss weight.
        #[arg(long, default_value_t = 1e6)]
        style_weight: f32,
        /// Total-variation weight.
        #[arg(long, default_value_t = 1e-2)]
        tv_weight: f32,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "best")]
        device: String,
        /// PNG to write.
        #[arg(long, default_value = "style.png")]
        out: PathBuf,
    },
}

fn metric(name: &str) -> Res<Metric> {
    Ok(match name {
        "l2" => Metric::L2,
        "l1" => Metric::L1,
        "cosine" => Metric::Cosine,
        m => return Err(format!("unknown --metric `{m}`; known: l2, l1, cosine").into()),
    })
}

fn one_input(ctx: &Ctx, image: &Option<PathBuf>, index: usize) -> Res<Vec<f32>> {
    let files: Vec<PathBuf> = image.iter().cloned().collect();
    Ok(ctx.inputs(&files, &[index])?.remove(0).1)
}

/// Refuses an `--out` whose folder does not exist (or is not a folder) before any work.
pub(crate) fn check_out(out: Option<&std::path::Path>) -> Res<()> {
    let Some(out) = out else { return Ok(()) };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{}: {} is not a folder; give --out a path in a folder you can write to",
            out.display(),
            dir.display()
        )
        .into());
    }
    Ok(())
}

fn save(img: &image::RgbImage, path: &std::path::Path) -> Res<()> {
    picture::save_png(img, path)
        .map_err(|e| format!("{e}; give --out a path in a folder you can write to"))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn explain(e: &Explained, how: Attribution, name: &str) -> Res<()> {
    check_out(e.out.as_deref())?;
    let ctx = Ctx::open(&e.run_dir, &e.device)?;
    let (img, lines) = v::attribution_rows(&ctx, e, &how, name)?;
    lines.iter().for_each(|l| println!("{l}"));
    save(
        &img,
        &v::out_path(&e.run_dir, &e.out, &format!("{name}.png"))?,
    )
}

/// Runs one technique.
pub fn run(t: Technique) -> Res<()> {
    match t {
        Technique::Filters {
            run_dir,
            layer,
            enlarge,
            device,
            out,
        } => {
            check_out(out.as_deref())?;
            let ctx = Ctx::open(&run_dir, &device)?;
            let img = v::filters(&ctx, layer.as_deref(), enlarge)?;
            save(&img, &v::out_path(&run_dir, &out, "filters.png")?)
        }
        Technique::Features {
            run_dir,
            image,
            index,
            layer,
            shared,
            enlarge,
            device,
            out,
        } => {
            check_out(out.as_deref())?;
            let ctx = Ctx::open(&run_dir, &device)?;
            let x = one_input(&ctx, &image, index)?;
            let layer = match layer {
                Some(l) => l,
                None => ctx.layer_like("relu", false)?,
            };
            let img = v::feature_maps(&ctx, &x, &layer, shared, enlarge)?;
            save(&img, &v::out_path(&run_dir, &out, "features.png")?)
        }
        Technique::Patches {
            run_dir,
            layer,
            channels,
            top,
            limit,
            enlarge,
            device,
            out,
        } => {
            check_out(out.as_deref())?;
            let ctx = Ctx::open(&run_dir, &device)?;
            let layer = match layer {
                Some(l) => l,
                None => ctx.layer_like("relu", true)?,
            };
            let img = v::top_patches(&ctx, &layer, &channels, top, limit, enlarge)?;
            save(&img, &v::out_path(&run_dir, &out, "patches.png")?)
        }
        Technique::Neighbours {
            run_dir,
            images,
            index,
            k,
            metric: m,
            limit,
            device,
            out,
        } => {
            check_out(out.as_deref())?;
            let ctx = Ctx::open(&run_dir, &device)?;
            let queries = ctx.inputs(&images, &index)?;
            let img = v::neighbours(&ctx, &queries, k, metric(&m)?, limit, 4)?;
            save(&img, &v::out_path(&run_dir, &out, "neighbours.png")?)
        }
        Technique::Pca {
            run_dir,
            limit,
            device,
        } => {
            let ctx = Ctx::open(&run_dir, &device)?;
            let dir = v::out_path(&run_dir, &None, "")?;
            let (paths, summary) = v::maps(&ctx, MapKind::Pca, limit, &Tsne::default(), &dir)?;
            println!("{summary}");
            paths.iter().for_each(|p| println!("wrote {}", p.display()));
            Ok(())
        }
        Technique::Tsne {
            run_dir,
            limit,
            perplexity,
            iterations,
            device,
        } => {
            let ctx = Ctx::open(&run_dir, &device)?;
            let dir = v::out_path(&run_dir, &None, "")?;
            let cfg = Tsne {
                perplexity,
                iterations,
                ..Tsne::default()
            };
            let (paths, summary) = v::maps(&ctx, MapKind::Tsne, limit, &cfg, &dir)?;
            println!("{summary}");
            paths.iter().for_each(|p| println!("wrote {}", p.display()));
            Ok(())
        }
        Technique::Occlusion {
            e,
            window,
            stride,
            fill,
        } => {
            let o = Occlusion {
                window: (window, window),
                stride: (stride, stride),
                fill,
                ..Occlusion::default()
            };
            explain(&e, Attribution::Occlusion(o), "occlusion")
        }
        Technique::Saliency {
            e,
            smoothgrad,
            noise,
        } => {
            let sg = (smoothgrad > 0).then_some(SmoothGrad {
                samples: smoothgrad,
                noise,
                seed: 0,
            });
            explain(
                &e,
                Attribution::Saliency(sg),
                if sg.is_some() {
                    "smoothgrad"
                } else {
                    "saliency"
                },
            )
        }
        Technique::Guided { e, layer, channel } => explain(
            &e,
            Attribution::Guided(layer.map(|l| (l, channel))),
            "guided",
        ),
        Technique::Gradcam { e, layer } => explain(&e, Attribution::GradCam(layer), "gradcam"),
        Technique::Ig { e, steps } => explain(&e, Attribution::Ig(steps), "ig"),
        Technique::Deepdream {
            run_dir,
            image,
            index,
            layer,
            channel,
            octaves,
            octave_scale,
            steps,
            step_size,
            jitter,
            seed,
            enlarge,
            device,
            out,
        } => {
            check_out(out.as_deref())?;
            let ctx = Ctx::open(&run_dir, &device)?;
            let x = one_input(&ctx, &image, index)?;
            let layer = match layer {
                Some(l) => l,
                None => v::dream_layer(&ctx)?,
            };
            let cfg = dream::Dream {
                layer,
                channel,
                octaves,
                octave_scale,
                steps,
                step_size,
                jitter,
                seed,
            };
            let img = v::deep_dream(&ctx, &x, &cfg, enlarge)?;
            save(&img, &v::out_path(&run_dir, &out, "deepdream.png")?)
        }
        Technique::Style {
            content,
            style: style_path,
            model,
            weights,
            size,
            steps,
            lr,
            content_weight,
            style_weight,
            tv_weight,
            device,
            out,
        } => {
            check_out(Some(&out))?;
            if !model.starts_with("vgg") || model.starts_with("vgg-small") {
                return Err(format!(
                    "style transfer needs a torchvision VGG (vgg11 ... vgg19-bn), not `{model}`"
                )
                .into());
            }
            // Both pictures are read first: a bad file fails before any work or warning.
            let content_bytes = read_image(&content, 3, Some((size, size)))?.0;
            let style_bytes = read_image(&style_path, 3, Some((size, size)))?.0;
            let dev = Device::from_name(&device)?;
            let vgg = fovea_models::by_name(&model, 3, 1000)?;
            match &weights {
                Some(w) => {
                    vgg.load_safetensors(w)?;
                }
                None => eprintln!(
                    "no --weights: random VGG weights show the mechanics, not a painting's style"
                ),
            }
            vgg.to_device(&dev)?;
            vgg.eval();
            let norm =
                fovea_data::Normalize::per_channel(IMAGENET_MEAN.to_vec(), IMAGENET_STD.to_vec())?;
            let load = |bytes: &[u8]| -> Res<Array> {
                let mut x = vec![0.0; bytes.len()];
                norm.apply(bytes, 3, &mut x);
                Ok(Array::from_slice(&dev, &x, &[1, 3, size, size])?)
            };
            let (c, s) = (load(&content_bytes)?, load(&style_bytes)?);
            let cfg = style::Style {
                steps,
                lr,
                content_weight,
                style_weight,
                tv_weight,
                ..style::Style::default()
            };
            let range = (
                (0..3)
                    .map(|i| -IMAGENET_MEAN[i] / IMAGENET_STD[i])
                    .fold(f32::MAX, f32::min),
                (0..3)
                    .map(|i| (1.0 - IMAGENET_MEAN[i]) / IMAGENET_STD[i])
                    .fold(f32::MIN, f32::max),
            );
            let pb = v::bar(steps, "style");
            let (img, history) =
                style::style_transfer(vgg.as_ref(), &c, &s, &cfg, range, &mut |d, _, l| {
                    pb.set_position(d as u64);
                    pb.set_message(format!("content {:.3} style {:.3}", l.content, l.style));
                })?;
            pb.finish_and_clear();
            if let (Some(a), Some(b)) = (history.first(), history.last()) {
                println!(
                    "style loss {:.4} -> {:.4}, content loss {:.4} -> {:.4}",
                    a.style, b.style, a.content, b.content
                );
            }
            let shown = picture::denormalize(&img, 3, &IMAGENET_MEAN, &IMAGENET_STD);
            save(&picture::planes(&shown, 3, size, size), &out)
        }
    }
}
