//! The JavaScript API (wasm-bindgen). Every call that reads the GPU returns a Promise;
//! results are plain objects (numbers, arrays, strings) and pixels are `Uint8Array`s.
//! One call at a time per object: a second call while a Promise is pending is refused
//! with a "busy" error instead of interleaving two training steps.

// Deliberate: the borrow held across `.await` is the busy guard; a second call meets
// `try_borrow_mut` and gets an error, never a panic.
#![allow(clippy::await_holding_refcell_ref)]

use crate::{Classifier, Dataset, Session, TrainSettings, Trainer, Want};
use js_sys::{Promise, Uint8Array};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// Rust error text as a JS `Error`.
fn js_err(e: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
}

/// A serialisable value as a plain JS object (through JSON: small results only).
fn to_js(v: &impl Serialize) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(v).map_err(js_err)?;
    js_sys::JSON::parse(&text)
}

/// A finished epoch: its row and the test evaluation.
#[derive(Serialize)]
struct EpochOut {
    row: crate::run::EpochRow,
    evaluation: crate::Evaluation,
}

/// `{safetensors: Uint8Array, runJson: string}`.
fn checkpoint_js(bytes: &[u8], json: String) -> Result<JsValue, JsValue> {
    let out = js_sys::Object::new();
    js_sys::Reflect::set(&out, &"safetensors".into(), &Uint8Array::from(bytes))?;
    js_sys::Reflect::set(&out, &"runJson".into(), &json.into())?;
    Ok(out.into())
}

/// Sets the panic hook once so a Rust panic shows in the console with its message.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        web_log(&format!("fovea panicked: {info}"));
    }));
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn web_log(s: &str);
}

/// The `channels * height * width` bytes `fovea predict` feeds a net from an encoded image
/// (PNG, JPEG, BMP, GIF, PNM, TIFF, WebP): decoded, converted to grey (1) or RGB (3, planar)
/// and resized with the same filter, so the page predicts uploads as the CLI does.
#[wasm_bindgen(js_name = decodeImage)]
pub fn decode_image(
    encoded: &[u8],
    channels: usize,
    height: usize,
    width: usize,
) -> Result<Uint8Array, JsValue> {
    let (px, _) = fovea_data::decode_image(encoded, channels, Some((height, width)))
        .map_err(|e| js_err(format!("the uploaded image: {e}")))?;
    Ok(Uint8Array::from(&px[..]))
}

/// An open device (`await FoveaSession.open("best")`).
#[wasm_bindgen(js_name = FoveaSession)]
pub struct JsSession(Session);

#[wasm_bindgen(js_class = FoveaSession)]
impl JsSession {
    /// Opens `"gpu"` (WebGPU or fail), `"cpu"`, or `"best"` (WebGPU, else the CPU backend
    /// with the reason in `report.fallback_reason`).
    pub fn open(want: String) -> Promise {
        future_to_promise(async move {
            let want = Want::parse(&want).map_err(js_err)?;
            let s = Session::open(want).await.map_err(js_err)?;
            Ok(JsSession(s).into())
        })
    }

    /// `{backend, adapter, device_type, software, fallback_reason, limits, features}`.
    #[wasm_bindgen(getter)]
    pub fn report(&self) -> Result<JsValue, JsValue> {
        to_js(&self.0.report)
    }
}

/// Images with labels (`FoveaDataset.fromIdx(...)`, `FoveaDataset.fromImages(...)`).
#[wasm_bindgen(js_name = FoveaDataset)]
pub struct JsDataset(Dataset);

#[wasm_bindgen(js_class = FoveaDataset)]
impl JsDataset {
    /// One split of `"fashion-mnist"` or `"mnist"` from its images and labels IDX files
    /// (gzipped or not).
    #[wasm_bindgen(js_name = fromIdx)]
    pub fn from_idx(kind: &str, images: &[u8], labels: &[u8]) -> Result<JsDataset, JsValue> {
        Dataset::from_idx(kind, images, labels)
            .map(JsDataset)
            .map_err(js_err)
    }

    /// Encoded images (PNG, JPEG, ...) with a class name each, decoded to `channels`
    /// planes of `size x size`; `norm_from` gives the normalisation of another dataset (the
    /// training split), otherwise these images' own statistics are used.
    #[wasm_bindgen(js_name = fromImages)]
    pub fn from_images(
        classes: Vec<String>,
        files: Vec<Uint8Array>,
        channels: usize,
        size: usize,
        norm_from: Option<JsDataset>,
    ) -> Result<JsDataset, JsValue> {
        if classes.len() != files.len() {
            return Err(js_err(format!(
                "{} class names for {} files; give one class per file",
                classes.len(),
                files.len()
            )));
        }
        let pairs: Vec<(String, Vec<u8>)> = classes
            .into_iter()
            .zip(files.iter().map(Uint8Array::to_vec))
            .collect();
        Dataset::from_images(&pairs, channels, (size, size), norm_from.map(|d| d.0.norm))
            .map(JsDataset)
            .map_err(js_err)
    }

    /// Images `start..end` as a new dataset.
    pub fn slice(&self, start: usize, end: usize) -> JsDataset {
        JsDataset(self.0.slice(start, end))
    }

    /// The number of images.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.0.len()
    }

    /// Class names, by label.
    #[wasm_bindgen(getter)]
    pub fn classes(&self) -> Vec<String> {
        self.0.images.classes.clone()
    }

    /// The label of image `i`.
    pub fn label(&self, i: usize) -> u8 {
        self.0.images.labels[i]
    }

    /// The raw bytes of image `i` (`C * H * W`, 0-255).
    pub fn image(&self, i: usize) -> Vec<u8> {
        self.0.images.image(i).to_vec()
    }
}

/// A model with its classes and normalisation (`FoveaClassifier.load(...)`), or the one a
/// [`JsTrainer`] trains.
#[wasm_bindgen(js_name = FoveaClassifier)]
#[derive(Clone)]
pub struct JsClassifier(Rc<RefCell<Classifier>>);

/// Borrows the classifier for the length of a Promise, refusing a second call meanwhile.
macro_rules! busy {
    ($cell:expr) => {
        $cell.try_borrow_mut().map_err(|_| {
            js_err("busy: another call on this model is still running; await it first")
        })?
    };
}

#[wasm_bindgen(js_class = FoveaClassifier)]
impl JsClassifier {
    /// Loads `safetensors` bytes (a `fovea train` run's `best.safetensors`, or what
    /// `checkpoint()` saved) with the `run.json` text beside them, onto the session's
    /// device.
    pub fn load(
        session: &JsSession,
        safetensors: &[u8],
        run_json: &str,
    ) -> Result<JsClassifier, JsValue> {
        let c = Classifier::load(&session.0.device, safetensors, run_json).map_err(js_err)?;
        Ok(JsClassifier(Rc::new(RefCell::new(c))))
    }

    /// Class names, by label.
    #[wasm_bindgen(getter)]
    pub fn classes(&self) -> Vec<String> {
        self.0.borrow().run.classes.clone()
    }

    /// The run description as `run.json` text.
    #[wasm_bindgen(js_name = runJson)]
    pub fn run_json(&self) -> String {
        self.0.borrow().run.to_json()
    }

    /// Resolves to the probabilities of each image in `pixels` (`N * C * H * W` bytes at
    /// the model's input size), an array per image; `invert` flips dark and light first.
    #[wasm_bindgen(js_name = predictPixels)]
    pub fn predict_pixels(&self, pixels: Vec<u8>, invert: bool) -> Promise {
        let me = self.0.clone();
        future_to_promise(async move {
            let c = busy!(me);
            let p = c.predict_pixels(&pixels, invert).await.map_err(js_err)?;
            to_js(&p)
        })
    }

    /// Resolves to the probabilities of an encoded image (PNG, JPEG, ...), resized to the
    /// model's input as `fovea predict` does.
    #[wasm_bindgen(js_name = predictImage)]
    pub fn predict_image(&self, encoded: Vec<u8>, invert: bool) -> Promise {
        let me = self.0.clone();
        future_to_promise(async move {
            let c = busy!(me);
            let p = c.predict_image(&encoded, invert).await.map_err(js_err)?;
            to_js(&p)
        })
    }

    /// Resolves to `{loss, acc, confusion, predicted}` on `data`.
    pub fn evaluate(&self, data: &JsDataset) -> Promise {
        let (me, data) = (self.0.clone(), data.0.clone());
        future_to_promise(async move {
            let c = busy!(me);
            to_js(&c.evaluate(&data, 500).await.map_err(js_err)?)
        })
    }

    /// Resolves to `{safetensors: Uint8Array, runJson: string}`: a checkpoint `fovea`
    /// and PyTorch load.
    pub fn checkpoint(&self) -> Promise {
        let me = self.0.clone();
        future_to_promise(async move {
            let c = busy!(me);
            let (bytes, json) = c.checkpoint().await.map_err(js_err)?;
            checkpoint_js(&bytes, json)
        })
    }
}

/// Training a step or an epoch at a time (`await FoveaTrainer.create(session, settings,
/// data)`).
#[wasm_bindgen(js_name = FoveaTrainer)]
pub struct JsTrainer(Rc<RefCell<Trainer>>);

#[wasm_bindgen(js_class = FoveaTrainer)]
impl JsTrainer {
    /// Resolves to a fresh model for `train` with `settings` (`{model, arch, optimizer, lr,
    /// momentum, weight_decay, schedule, epochs, batch_size, seed}`, each optional with
    /// `fovea train`'s defaults), its GPU pipelines compiled. Errors name the setting and
    /// the fix.
    pub fn create(session: &JsSession, settings: JsValue, train: &JsDataset) -> Promise {
        let (device, data) = (session.0.device.clone(), train.0.clone());
        future_to_promise(async move {
            let text = if settings.is_undefined() || settings.is_null() {
                "{}".to_string()
            } else {
                js_sys::JSON::stringify(&settings)?
                    .as_string()
                    .unwrap_or_default()
            };
            let s: TrainSettings = serde_json::from_str(&text)
                .map_err(|e| js_err(format!("training settings: {e}")))?;
            let t = Trainer::new(&device, &s, &data).await.map_err(js_err)?;
            Ok(JsTrainer(Rc::new(RefCell::new(t))).into())
        })
    }

    /// Resolves to `{step, epoch, batch, batches, loss, acc, images_per_s, lr}` after one
    /// training step.
    pub fn step(&self) -> Promise {
        let me = self.0.clone();
        future_to_promise(async move {
            let mut t = busy!(me);
            to_js(&t.step().await.map_err(js_err)?)
        })
    }

    /// Whether the epoch under way has run all its batches.
    #[wasm_bindgen(js_name = epochDone)]
    pub fn epoch_done(&self) -> bool {
        self.0.borrow().epoch_done()
    }

    /// Resolves to `{row, evaluation}` after closing the epoch: the schedule steps, the
    /// model is evaluated on `test`, and training moves to the next epoch.
    #[wasm_bindgen(js_name = finishEpoch)]
    pub fn finish_epoch(&self, test: &JsDataset) -> Promise {
        let (me, test) = (self.0.clone(), test.0.clone());
        future_to_promise(async move {
            let mut t = busy!(me);
            let (row, evaluation) = t.finish_epoch(&test).await.map_err(js_err)?;
            to_js(&EpochOut { row, evaluation })
        })
    }

    /// Resolves to the row and evaluation of a whole epoch (the rest of the one under
    /// way), calling `progress(report)` after every step.
    pub fn epoch(&self, test: &JsDataset, progress: js_sys::Function) -> Promise {
        let (me, test) = (self.0.clone(), test.0.clone());
        future_to_promise(async move {
            let mut t = busy!(me);
            let mut failed = None;
            let (row, evaluation) = t
                .epoch(&test, &mut |r| {
                    if let Err(e) = to_js(r).and_then(|v| progress.call1(&JsValue::NULL, &v)) {
                        failed.get_or_insert(e);
                    }
                })
                .await
                .map_err(js_err)?;
            if let Some(e) = failed {
                return Err(e);
            }
            to_js(&EpochOut { row, evaluation })
        })
    }

    /// [`JsClassifier::predict_pixels`] on the model being trained.
    #[wasm_bindgen(js_name = predictPixels)]
    pub fn predict_pixels(&self, pixels: Vec<u8>, invert: bool) -> Promise {
        let me = self.0.clone();
        future_to_promise(async move {
            let t = busy!(me);
            let p = t
                .classifier
                .predict_pixels(&pixels, invert)
                .await
                .map_err(js_err)?;
            to_js(&p)
        })
    }

    /// [`JsClassifier::evaluate`] on the model being trained.
    pub fn evaluate(&self, data: &JsDataset) -> Promise {
        let (me, data) = (self.0.clone(), data.0.clone());
        future_to_promise(async move {
            let t = busy!(me);
            to_js(&t.classifier.evaluate(&data, 500).await.map_err(js_err)?)
        })
    }

    /// [`JsClassifier::checkpoint`] of the model being trained.
    pub fn checkpoint(&self) -> Promise {
        let me = self.0.clone();
        future_to_promise(async move {
            let t = busy!(me);
            let (bytes, json) = t.classifier.checkpoint().await.map_err(js_err)?;
            checkpoint_js(&bytes, json)
        })
    }
}

/// `{values: Float32Array, shape, width, height, rgba: Uint8ClampedArray}`.
fn explained_js(e: crate::explain::Explained) -> Result<JsValue, JsValue> {
    let out = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&out, &k.into(), v);
    set("values", &js_sys::Float32Array::from(&e.values[..]).into())?;
    set("shape", &to_js(&e.shape)?)?;
    picture_fields(&out, &e.picture)?;
    Ok(out.into())
}

/// Sets `width`, `height` and `rgba` (a `Uint8ClampedArray` for `new ImageData(...)`).
fn picture_fields(out: &js_sys::Object, p: &crate::explain::Picture) -> Result<(), JsValue> {
    js_sys::Reflect::set(out, &"width".into(), &p.width.into())?;
    js_sys::Reflect::set(out, &"height".into(), &p.height.into())?;
    let rgba = js_sys::Uint8ClampedArray::from(&p.rgba[..]);
    js_sys::Reflect::set(out, &"rgba".into(), &rgba)?;
    Ok(())
}

/// Runs `f` on the trainer's model, holding the busy guard for the Promise's length.
macro_rules! explain {
    ($me:expr, |$c:ident| $body:expr) => {{
        let me = $me.0.clone();
        future_to_promise(async move {
            let t = busy!(me);
            let $c = &t.classifier;
            $body
        })
    }};
}

#[wasm_bindgen(js_class = FoveaTrainer)]
impl JsTrainer {
    /// The names of the layers the explain methods take (`conv1`, `relu1`, `pool`, ...).
    #[wasm_bindgen(js_name = layerNames)]
    pub fn layer_names(&self) -> Result<Vec<String>, JsValue> {
        let t = self
            .0
            .try_borrow()
            .map_err(|_| js_err("busy: a call is running"))?;
        Ok(t.classifier.model.layer_names())
    }

    /// Raw image bytes (`N * C * H * W`, 0-255, e.g. a drawing) normalised as the model's
    /// inputs are, for the explain methods.
    #[wasm_bindgen(js_name = normalizePixels)]
    pub fn normalize_pixels(&self, pixels: Vec<u8>) -> Result<Vec<f32>, JsValue> {
        let t = self
            .0
            .try_borrow()
            .map_err(|_| js_err("busy: a call is running"))?;
        t.classifier.normalize_pixels(&pixels).map_err(js_err)
    }

    /// The run description as `run.json` text.
    #[wasm_bindgen(js_name = runJson)]
    pub fn run_json(&self) -> Result<String, JsValue> {
        let t = self
            .0
            .try_borrow()
            .map_err(|_| js_err("busy: a call is running"))?;
        Ok(t.classifier.run.to_json())
    }
}

/// The fovea-vis techniques on the model being trained. Images are normalised values
/// (`dataset.normalized(i)`); results carry their raw values and an RGBA picture.
#[wasm_bindgen(js_class = FoveaTrainer)]
impl JsTrainer {
    /// A conv layer's filters (default: the first) as a grid.
    pub fn filters(&self, layer: Option<String>) -> Promise {
        explain!(self, |c| explained_js(
            crate::explain::filters(c, layer.as_deref())
                .await
                .map_err(js_err)?
        ))
    }

    /// The feature maps of `image` at `layer`.
    #[wasm_bindgen(js_name = featureMaps)]
    pub fn feature_maps(&self, image: Vec<f32>, layer: String) -> Promise {
        explain!(self, |c| explained_js(
            crate::explain::feature_maps(c, &image, &layer)
                .await
                .map_err(js_err)?
        ))
    }

    /// An attribution of `image`: `options` is `{method, target, layer, samples, display,
    /// sign, outlier_perc}` with Captum's names (`saliency`, `smoothgrad`,
    /// `guided-backprop`, `grad-cam`, `integrated-gradients`, `occlusion`; `heat_map`,
    /// `blended_heat_map`, `masked_image`; `all`, `positive`, `negative`, `absolute`).
    pub fn attribution(&self, image: Vec<f32>, options: JsValue) -> Promise {
        explain!(self, |c| {
            let text = js_sys::JSON::stringify(&options)?
                .as_string()
                .unwrap_or_else(|| "{}".into());
            let opts: crate::explain::AttributionOptions = serde_json::from_str(&text)
                .map_err(|e| js_err(format!("attribution options: {e}")))?;
            explained_js(
                crate::explain::attribution(c, &image, &opts)
                    .await
                    .map_err(js_err)?,
            )
        })
    }

    /// The `k` strongest patches of the first `n` images of `data` for each of
    /// `channels` of `layer`: `{patches: [[{image, value, rows, cols}]], width, height,
    /// rgba}`.
    #[wasm_bindgen(js_name = topPatches)]
    pub fn top_patches(
        &self,
        data: &JsDataset,
        n: usize,
        layer: String,
        channels: Vec<usize>,
        k: usize,
    ) -> Promise {
        let data = data.0.clone();
        explain!(self, |c| {
            let (found, pic) = crate::explain::top_patches(c, &data, n, &layer, &channels, k)
                .await
                .map_err(js_err)?;
            #[derive(Serialize)]
            struct PatchOut {
                image: usize,
                value: f32,
                rows: (usize, usize),
                cols: (usize, usize),
            }
            let rows: Vec<Vec<PatchOut>> = found
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|p| PatchOut {
                            image: p.image,
                            value: p.value,
                            rows: p.rows,
                            cols: p.cols,
                        })
                        .collect()
                })
                .collect();
            let out = js_sys::Object::new();
            js_sys::Reflect::set(&out, &"patches".into(), &to_js(&rows)?)?;
            picture_fields(&out, &pic)?;
            Ok(out.into())
        })
    }

    /// The `k` nearest neighbours of image `query` among the first `n` of `data`, by
    /// features or by pixels: `[[index, distance], ...]`.
    pub fn neighbours(
        &self,
        data: &JsDataset,
        n: usize,
        query: usize,
        k: usize,
        by_pixels: bool,
    ) -> Promise {
        let data = data.0.clone();
        explain!(self, |c| to_js(
            &crate::explain::neighbours(c, &data, n, query, k, by_pixels)
                .await
                .map_err(js_err)?
        ))
    }

    /// PCA of the features of the first `n` images: `{points: [x0, y0, ...], ratio}`.
    pub fn pca(&self, data: &JsDataset, n: usize) -> Promise {
        let data = data.0.clone();
        explain!(self, |c| {
            let (points, ratio) = crate::explain::pca(c, &data, n).await.map_err(js_err)?;
            #[derive(Serialize)]
            struct Out {
                points: Vec<f32>,
                ratio: Vec<f64>,
            }
            to_js(&Out { points, ratio })
        })
    }

    /// Starts t-SNE of the features of the first `n` images; resolves to a
    /// [`JsTsne`] to step.
    #[wasm_bindgen(js_name = tsneStart)]
    pub fn tsne_start(
        &self,
        data: &JsDataset,
        n: usize,
        perplexity: f32,
        iterations: usize,
    ) -> Promise {
        let data = data.0.clone();
        explain!(self, |c| {
            let run = crate::explain::tsne_start(c, &data, n, perplexity, iterations)
                .await
                .map_err(js_err)?;
            Ok(JsTsne(run).into())
        })
    }

    /// DeepDream of `image` at `layer` (default: the last pooling layer).
    #[wasm_bindgen(js_name = deepDream)]
    pub fn deep_dream(&self, image: Vec<f32>, layer: Option<String>, steps: usize) -> Promise {
        explain!(self, |c| explained_js(
            crate::explain::deep_dream(c, &image, layer.as_deref(), steps)
                .await
                .map_err(js_err)?
        ))
    }
}

/// A t-SNE run to step and draw as it optimises (host-only: no Promise).
#[wasm_bindgen(js_name = FoveaTsne)]
pub struct JsTsne(fovea_vis::tsne::TsneRun);

#[wasm_bindgen(js_class = FoveaTsne)]
impl JsTsne {
    /// Runs up to `k` iterations; returns whether any remain.
    pub fn step(&mut self, k: usize) -> bool {
        (0..k).all(|_| self.0.step()) && self.0.iteration() < self.0.iterations()
    }

    /// Iterations done.
    #[wasm_bindgen(getter)]
    pub fn iteration(&self) -> usize {
        self.0.iteration()
    }

    /// The `n x 2` positions, `[x0, y0, x1, y1, ...]`.
    pub fn positions(&self) -> Vec<f32> {
        self.0.positions().to_vec()
    }
}

#[wasm_bindgen(js_class = FoveaDataset)]
impl JsDataset {
    /// Image `i` normalised as the model sees it (for the explain methods).
    pub fn normalized(&self, i: usize) -> Vec<f32> {
        self.0.normalized(i)
    }
}
