//! Training a step or an epoch at a time, so a page or worker can draw between steps:
//! `fovea train`'s loop (the same optimizers, schedules, shuffling and seeds) with one host
//! read per step.

use crate::classifier::{Classifier, Evaluation};
use crate::clock::now_ms;
use crate::data::Dataset;
use crate::run::{EpochRow, Position, RunDescription, RunSettings};
use crate::{err, Result};
use fovea_data::{Batch, DataLoader};
use fovea_device::{Array, CrossEntropyOptions, Device};
use fovea_graph::{cross_entropy, Tensor};
use fovea_nn::optim::{Optimizer, Schedule};
use fovea_nn::ModuleExt;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What to train and how: `fovea train`'s settings that apply in a page.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainSettings {
    /// model name (`net`, `vgg-small`, `vgg-small-bn`, ...), unless `arch` is given
    pub model: String,
    /// an arch spec (`fovea train --arch` grammar), instead of `model`
    pub arch: Option<String>,
    /// `sgd`, `adam` or `adamw`
    pub optimizer: String,
    /// learning rate (the peak for one-cycle)
    pub lr: f32,
    /// SGD momentum
    pub momentum: f32,
    /// weight decay
    pub weight_decay: f32,
    /// `none`, `step`, `cosine` or `onecycle`
    pub schedule: String,
    /// epochs the schedule spans
    pub epochs: usize,
    /// images per step
    pub batch_size: usize,
    /// seed of the weights, the shuffling and dropout
    pub seed: u64,
}

impl Default for TrainSettings {
    /// `fovea train`'s defaults.
    fn default() -> Self {
        TrainSettings {
            model: "net".into(),
            arch: None,
            optimizer: "sgd".into(),
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 0.0,
            schedule: "none".into(),
            epochs: 3,
            batch_size: 64,
            seed: 0,
        }
    }
}

/// One training step's numbers.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    /// steps done since training began, from 1
    pub step: usize,
    /// the epoch this step belongs to, from 1
    pub epoch: usize,
    /// the batch of the epoch it ran, from 0
    pub batch: usize,
    /// batches per epoch
    pub batches: usize,
    /// the step's mean loss
    pub loss: f32,
    /// the step's accuracy
    pub acc: f32,
    /// images per second of this step (host read included)
    pub images_per_s: f64,
    /// the learning rate it used
    pub lr: f32,
}

/// The running sums of the epoch under way.
#[derive(Default)]
struct Tally {
    loss: f64,
    correct: usize,
    seen: usize,
    ms: f64,
}

/// A model, its optimizer and schedule, and where training stands on a dataset.
pub struct Trainer {
    /// the model being trained, with its run description
    pub classifier: Classifier,
    opt: Box<dyn Optimizer>,
    sched: Option<Schedule>,
    loader: DataLoader,
    batches: Option<Box<dyn Iterator<Item = Batch> + Send>>,
    steps: usize,
    tally: Tally,
}

impl Trainer {
    /// A fresh model for `train`'s images and classes on `device`, with the optimizer and
    /// schedule of `settings`; errors name the setting and the fix, as `fovea train` does.
    /// On a GPU every pipeline a training step, an evaluation and a prediction use is
    /// compiled here, so the first step runs at the speed of the others.
    pub async fn new(
        device: &Device,
        settings: &TrainSettings,
        train: &Dataset,
    ) -> Result<Trainer> {
        if settings.batch_size == 0 || settings.epochs == 0 {
            return Err(format!(
                "batch_size {} and epochs {} must both be at least 1",
                settings.batch_size, settings.epochs
            ));
        }
        let (c, h, w) = train.images.image_shape;
        let run = RunDescription {
            config: RunSettings {
                model: settings.model.clone(),
                arch: settings.arch.clone(),
                dataset: train.name.clone(),
                data_dir: None,
                channels: c,
                image_size: h,
                epochs: Some(settings.epochs),
                batch_size: settings.batch_size,
                optimizer: settings.optimizer.clone(),
                lr: settings.lr,
                momentum: settings.momentum,
                weight_decay: settings.weight_decay,
                schedule: settings.schedule.clone(),
                augment: "none".into(),
                seed: settings.seed,
                device: if device.is_cpu() { "cpu" } else { "gpu" }.into(),
                out: "browser".into(),
                log_every: 10,
                train_limit: Some(train.len()),
                test_limit: None,
            },
            dataset: train.name.clone(),
            classes: train.images.classes.clone(),
            input_shape: [c, h, w],
            mean: train.norm.mean.clone(),
            std: train.norm.std.clone(),
            parameters: 0,
            epochs_done: 0,
            position: Position { epoch: 1, batch: 0 },
            best_test_acc: f64::MIN,
            metrics: Vec::new(),
        };
        if !device.is_cpu() {
            // A throwaway copy, so the real model's weights and the seed's stream are
            // exactly those of `fovea train`.
            let copy = Classifier::build(device, run.clone())?;
            compile_pipelines(&copy, settings, settings.batch_size.min(train.len()))
                .await
                .map_err(err)?;
        }
        let classifier = Classifier::build(device, run)?;
        let loader = DataLoader::new(Arc::new(train.images.clone()), settings.batch_size)
            .map_err(err)?
            .shuffle(settings.seed)
            .transform(train.norm.clone());
        let mut opt = optimizer(settings, &classifier).map_err(err)?;
        let sched = fovea_nn::optim::schedule_by_name(
            &settings.schedule,
            opt.as_mut(),
            settings.epochs,
            loader.len(),
            settings.lr,
        )
        .map_err(err)?;
        Ok(Trainer {
            classifier,
            opt,
            sched,
            loader,
            batches: None,
            steps: 0,
            tally: Tally::default(),
        })
    }

    /// Where training stands.
    pub fn position(&self) -> Position {
        self.classifier.run.position
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.loader.len()
    }

    /// Runs the next batch: forward, loss, backward, optimizer step (and a one-cycle
    /// schedule's step), then one host read of the loss and the number correct.
    pub async fn step(&mut self) -> Result<StepReport> {
        let pos = self.classifier.run.position;
        if self.batches.is_none() {
            self.batches = Some(self.loader.epoch_from(pos.epoch as u64, pos.batch));
        }
        let b = self
            .batches
            .as_mut()
            .and_then(Iterator::next)
            .ok_or("the epoch is over; call finish_epoch before the next step")?;
        let started = now_ms();
        let dev = self.classifier.device.clone();
        let model = &self.classifier.model;
        model.train();
        let n = b.labels.len();
        let x = Tensor::new(Array::from_slice(&dev, &b.images, &b.shape).map_err(err)?);
        let y = Array::from_slice(&dev, &b.labels, &[n]).map_err(err)?;
        let logits = model.call(&x).map_err(err)?;
        let loss = cross_entropy(&logits, &y, CrossEntropyOptions::default()).map_err(err)?;
        self.opt.zero_grad();
        loss.backward().map_err(err)?;
        let lr = self.opt.lr();
        self.opt.step().map_err(err)?;
        if let Some((s, true)) = self.sched.as_mut() {
            s.step(self.opt.as_mut());
        }
        let both = fovea_nn::loss::step_summary(&logits, &y, &loss).map_err(err)?;
        let read = both.to_vec_async().await.map_err(err)?;
        let ms = (now_ms() - started).max(1e-3);
        self.steps += 1;
        self.tally.loss += read[0] as f64 * n as f64;
        self.tally.correct += read[1] as usize;
        self.tally.seen += n;
        self.tally.ms += ms;
        let run = &mut self.classifier.run;
        run.position.batch += 1;
        Ok(StepReport {
            step: self.steps,
            epoch: pos.epoch,
            batch: pos.batch,
            batches: self.loader.len(),
            loss: read[0],
            acc: read[1] / n as f32,
            images_per_s: n as f64 * 1000.0 / ms,
            lr,
        })
    }

    /// Whether the epoch under way has run all its batches.
    pub fn epoch_done(&self) -> bool {
        self.classifier.run.position.batch >= self.loader.len()
    }

    /// Runs the rest of the epoch, calling `progress` after every step, then
    /// [`Trainer::finish_epoch`] on `test`.
    pub async fn epoch(
        &mut self,
        test: &Dataset,
        progress: &mut dyn FnMut(&StepReport),
    ) -> Result<(EpochRow, Evaluation)> {
        while !self.epoch_done() {
            let r = self.step().await?;
            progress(&r);
        }
        self.finish_epoch(test).await
    }

    /// Closes the epoch: steps a per-epoch schedule, evaluates on `test`, records the
    /// epoch's row in the run description and moves to the next epoch.
    pub async fn finish_epoch(&mut self, test: &Dataset) -> Result<(EpochRow, Evaluation)> {
        if let Some((s, false)) = self.sched.as_mut() {
            s.step(self.opt.as_mut());
        }
        let eval = self.classifier.evaluate(test, 500).await?;
        let t = std::mem::take(&mut self.tally);
        let run = &mut self.classifier.run;
        let row = EpochRow {
            epoch: run.position.epoch,
            train_loss: t.loss / t.seen.max(1) as f64,
            train_acc: t.correct as f64 / t.seen.max(1) as f64,
            test_loss: eval.loss,
            test_acc: eval.acc,
            seconds: t.ms / 1000.0,
            images_per_s: t.seen as f64 * 1000.0 / t.ms.max(1e-3),
            pool_in_use_mib: 0.0,
            pool_cached_mib: 0.0,
            rss_mib: 0.0,
        };
        run.metrics.push(row.clone());
        run.epochs_done = run.position.epoch;
        run.best_test_acc = run.best_test_acc.max(eval.acc);
        run.config.test_limit = Some(test.len());
        run.position = Position {
            epoch: run.position.epoch + 1,
            batch: 0,
        };
        self.batches = None;
        Ok((row, eval))
    }
}

/// The optimizer `s` names over `c`'s parameters.
fn optimizer(s: &TrainSettings, c: &Classifier) -> fovea_nn::Result<Box<dyn Optimizer>> {
    fovea_nn::optim::by_name(
        &s.optimizer,
        c.model.parameters(),
        s.lr,
        s.momentum,
        s.weight_decay,
    )
}

/// Runs one training step, an evaluation pass and a prediction of `batch` zero images on
/// `c` (a throwaway model), and waits for them: the device compiles every pipeline these
/// use, and keeps them for the real model.
async fn compile_pipelines(
    c: &Classifier,
    s: &TrainSettings,
    batch: usize,
) -> fovea_nn::Result<()> {
    let dev = &c.device;
    let (ch, h, w) = c.run.input();
    let x = Tensor::new(Array::zeros(dev, &[batch.max(1), ch, h, w])?);
    let y = Array::zeros(dev, &[batch.max(1)])?;
    c.model.train();
    let logits = c.model.call(&x)?;
    let loss = cross_entropy(&logits, &y, CrossEntropyOptions::default())?;
    let mut opt = optimizer(s, c)?;
    loss.backward()?;
    opt.step()?;
    let both = fovea_nn::loss::step_summary(&logits, &y, &loss)?;
    c.model.eval();
    let _guard = fovea_graph::NoGradGuard::new();
    let probs = c.model.call(&x)?.softmax(-1)?;
    both.to_vec_async().await?;
    probs.to_vec_async().await?;
    Ok(())
}
