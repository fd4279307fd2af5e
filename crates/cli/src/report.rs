//! `fovea report RUN_DIR`: one self-contained HTML page (every picture embedded) with the
//! training curves, the confusion matrix, filters, feature maps, max-activating patches,
//! neighbours, PCA / t-SNE maps, and occlusion / saliency / guided backprop / Grad-CAM /
//! integrated gradients side by side for a handful of test images, with the time each took.

use crate::visualize::{self as v, Attribution, Ctx, MapKind};
use crate::Res;
use base64::Engine;
use fovea_io::write_atomic;
use fovea_vis::display::{self, Display, Method, Sign};
use fovea_vis::embed::{Metric, Tsne};
use fovea_vis::occlusion::Occlusion;
use fovea_vis::{dream, picture};
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What goes into the report.
#[derive(clap::Args, Clone, Debug)]
pub struct ReportConfig {
    /// The run folder `fovea train --out` wrote.
    pub run_dir: PathBuf,
    /// Test images explained side by side.
    #[arg(long, default_value_t = 6)]
    pub images: usize,
    /// Test images in the PCA and t-SNE maps.
    #[arg(long, default_value_t = 2000)]
    pub map_points: usize,
    /// Test images searched for patches and neighbours.
    #[arg(long, default_value_t = 2000)]
    pub search: usize,
    /// Device: gpu, cpu or best.
    #[arg(long, default_value = "best")]
    pub device: String,
    /// The HTML file (default: RUN_DIR/report.html).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn png(img: &RgbImage) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(picture::png_bytes(img));
    format!("<img src=\"data:image/png;base64,{b64}\">")
}

fn svg(path: &Path) -> Res<String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(format!(
        "<img class=\"plot\" src=\"data:image/svg+xml;base64,{b64}\">"
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes the report; returns its path and the seconds each part took.
pub fn report(cfg: &ReportConfig) -> Res<(PathBuf, Vec<(String, f64)>)> {
    crate::vis_cmd::check_out(cfg.out.as_deref())?;
    let ctx = Ctx::open(&cfg.run_dir, &cfg.device)?;
    let dir = &cfg.run_dir;
    let vis_dir = v::out_path(dir, &None, "")?;
    let mut timings: Vec<(String, f64)> = Vec::new();
    let mut sections: Vec<(String, String)> = Vec::new();
    let steps = 9;
    let pb = v::bar(steps, "report");
    let mut timed = |name: &str, f: &mut dyn FnMut() -> Res<String>| -> Res<()> {
        pb.set_message(name.to_string());
        let t = Instant::now();
        let html = f()?;
        timings.push((name.to_string(), t.elapsed().as_secs_f64()));
        sections.push((name.to_string(), html));
        pb.inc(1);
        Ok(())
    };

    timed("Training", &mut || {
        let mut s = String::new();
        for f in ["loss.svg", "accuracy.svg", "confusion.svg"] {
            let p = dir.join(f);
            if p.is_file() {
                s += &svg(&p)?;
            }
        }
        Ok(s)
    })?;
    timed("Filters", &mut || {
        let w = fovea_vis::layers::conv_weight(ctx.model.as_ref(), None)?;
        Ok(format!(
            "<p>{} ({:?}), each filter scaled to its own range.</p>{}",
            w.name,
            w.shape,
            png(&v::filters(&ctx, None, 8)?)
        ))
    })?;
    let (test, labels) = ctx.test_set(cfg.images.max(1))?;
    let per = ctx.per();
    let first_relu = ctx.layer_like("relu", false)?;
    let last_relu = ctx.layer_like("relu", true)?;
    timed("Feature maps", &mut || {
        let x = &test[..per];
        let mut s = String::new();
        let mut layers = vec![&first_relu];
        if last_relu != first_relu {
            layers.push(&last_relu);
        }
        for layer in layers {
            s += &format!(
                "<h3>{layer}</h3>{}",
                png(&v::feature_maps(&ctx, x, layer, false, 4)?)
            );
        }
        Ok(s)
    })?;
    timed("Max-activating patches", &mut || {
        let img = v::top_patches(
            &ctx,
            &last_relu,
            &(0..8).collect::<Vec<_>>(),
            8,
            cfg.search,
            4,
        )?;
        Ok(format!("<p>Channels 0-7 of {last_relu}, one row each: the {} test images' receptive fields that excite it most.</p>{}", cfg.search, png(&img)))
    })?;
    timed("Nearest neighbours", &mut || {
        let queries = ctx.inputs(&[], &[0, 1, 2])?;
        let img = v::neighbours(&ctx, &queries, 8, Metric::L2, cfg.search, 3)?;
        Ok(format!("<p>For each query (left): 8 nearest of {} test images by final features ({}, top row) and by pixels (bottom row).</p>{}", cfg.search, ctx.model.feature_layer(), png(&img)))
    })?;
    timed("PCA", &mut || {
        let (paths, summary) = v::maps(
            &ctx,
            MapKind::Pca,
            cfg.map_points,
            &Tsne::default(),
            &vis_dir,
        )?;
        Ok(format!(
            "<p>{}</p>{}{}",
            escape(&summary),
            svg(&paths[0])?,
            svg(&paths[1])?
        ))
    })?;
    timed("t-SNE", &mut || {
        let (paths, summary) = v::maps(
            &ctx,
            MapKind::Tsne,
            cfg.map_points,
            &Tsne::default(),
            &vis_dir,
        )?;
        Ok(format!(
            "<p>{}</p>{}{}",
            escape(&summary),
            svg(&paths[0])?,
            svg(&paths[1])?
        ))
    })?;
    let mut per_technique: Vec<(String, f64)> = Vec::new();
    timed("Attributions", &mut || {
        let techniques: [(&str, Attribution); 5] = [
            ("occlusion", Attribution::Occlusion(Occlusion::default())),
            ("saliency", Attribution::Saliency(None)),
            ("guided backprop", Attribution::Guided(None)),
            ("Grad-CAM", Attribution::GradCam(None)),
            ("integrated gradients", Attribution::Ig(50)),
        ];
        let [c, h, w] = ctx.info.input_shape;
        let d = Display {
            method: Method::BlendedHeatMap,
            sign: Sign::Absolute,
            ..Display::default()
        };
        let mut rows = String::from("<table><tr><th>image</th>");
        for (name, _) in &techniques {
            rows += &format!("<th>{name}</th>");
        }
        rows += "</tr>";
        let mut seconds = vec![0.0; techniques.len()];
        for i in 0..labels.len() {
            let x = &test[i * per..(i + 1) * per];
            let pred = ctx.predict(x)?;
            rows += &format!(
                "<tr><td>{}<br>true {}<br>predicted {}</td>",
                png(&picture::enlarge(&ctx.picture(x), 4)),
                escape(&ctx.info.classes[labels[i] as usize]),
                escape(&ctx.info.classes[pred])
            );
            for (k, (_, how)) in techniques.iter().enumerate() {
                let t = Instant::now();
                let attr = v::attribute(&ctx, x, pred, how)?;
                seconds[k] += t.elapsed().as_secs_f64();
                let shown = display::visualize(&attr, &ctx.unit(x), c, h, w, &d);
                rows += &format!("<td>{}</td>", png(&picture::enlarge(&shown, 4)));
            }
            rows += "</tr>";
        }
        rows += "</table>";
        for (k, (name, _)) in techniques.iter().enumerate() {
            per_technique.push((
                format!("{name} (per image)"),
                seconds[k] / labels.len().max(1) as f64,
            ));
        }
        Ok(format!("<p>Each map explains the predicted class, blended over the grey image (absolute values, 2% outliers clipped, as Captum's visualize_image_attr).</p>{rows}"))
    })?;
    timed("DeepDream", &mut || {
        let cfg = dream::Dream::new(&v::dream_layer(&ctx)?);
        Ok(format!(
            "<p>{} amplified in test image 0: {} octaves x {} steps.</p>{}",
            cfg.layer,
            cfg.octaves,
            cfg.steps,
            png(&v::deep_dream(&ctx, &test[..per], &cfg, 6)?)
        ))
    })?;
    pb.finish_and_clear();
    timings.extend(per_technique);

    let info = &ctx.info;
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>What {model} learned</title><style>\
         body{{font-family:sans-serif;max-width:1300px;margin:2em auto;color:#222}}\
         img{{image-rendering:pixelated;margin:4px;vertical-align:top}} img.plot{{image-rendering:auto;max-width:640px}}\
         table{{border-collapse:collapse}} td,th{{border:1px solid #ddd;padding:4px;text-align:center;font-size:13px}}\
         h2{{border-bottom:2px solid #eee;padding-top:1em}}</style></head><body>\
         <h1>What {model} learned</h1><p>{dataset}, {params} parameters, {epochs} epochs, best test accuracy {acc:.4}; inspected on {dev}.</p>",
        model = escape(info.config.arch.as_deref().map_or(info.config.model.as_str(), |_| "the arch spec")),
        dataset = escape(&info.dataset),
        params = info.parameters,
        epochs = info.epochs_done,
        acc = info.best_test_acc,
        dev = escape(&ctx.dev.to_string()),
    );
    let slug = |n: &str| {
        n.to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    };
    html += "<p>";
    for (name, _) in &sections {
        html += &format!("<a href=\"#{}\">{name}</a> · ", slug(name));
    }
    html += "<a href=\"#timings\">Timings</a></p>";
    for (name, body) in &sections {
        html += &format!("<h2 id=\"{}\">{name}</h2>{body}", slug(name));
    }
    html += "<h2 id=\"timings\">Timings</h2><table><tr><th>part</th><th>seconds</th></tr>";
    for (name, s) in &timings {
        html += &format!("<tr><td>{}</td><td>{s:.2}</td></tr>", escape(name));
    }
    html += "</table></body></html>";
    let out = cfg.out.clone().unwrap_or_else(|| dir.join("report.html"));
    write_atomic(&out, html.as_bytes())?;
    Ok((out, timings))
}
