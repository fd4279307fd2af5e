//! `fovea train` and `fovea eval`: the course's training loop with a progress bar, a test
//! pass per epoch, and a run folder holding metrics, curves, the confusion matrix and
//! checkpoints; Ctrl-C saves where it stands and `--resume` continues from there.

use crate::datasets;
use crate::plots::{self, Curve};
use crate::run::{load_run, Position, RunFolder, RunInfo, Which};
use crate::Res;
use fovea_data::{Augment, DataLoader, ImageDataset, Normalize};
use fovea_device::{Array, CrossEntropyOptions, Device};
use fovea_graph::{cross_entropy, Tensor};
use fovea_io::write_atomic;
use fovea_models::Model;
use fovea_nn::{
    checkpoint::{read_safetensors, tensors_bytes},
    manual_seed,
    optim::Schedule,
    ModuleExt, Optimizer,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What `fovea train` takes.
#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Model: net, alexnet, vgg-small, vgg-small-bn, vgg11 ... vgg19-bn (see also --arch).
    #[arg(long, default_value = "net")]
    pub model: String,
    /// Architecture spec instead of --model: a file (see assets/arch/) or the spec itself,
    /// e.g. "conv 32 k3 p1, bn, relu, pool 2, linear 128, relu, linear".
    #[arg(long)]
    pub arch: Option<String>,
    /// Dataset: fashion-mnist, mnist, or a folder holding train/ and test/ (one sub-folder
    /// of images per class).
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: String,
    /// Folder holding the IDX files (default: searched, see `fovea data fetch`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Channels image-folder pictures are decoded to: 1 (grey) or 3 (RGB).
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Side length image-folder pictures are resized to.
    #[arg(long, default_value_t = 28)]
    pub image_size: usize,
    /// Passes over the training set [default: 3; with --resume, the run's own].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Optimizer: sgd, adam or adamw.
    #[arg(long, default_value = "sgd")]
    pub optimizer: String,
    /// Learning rate (the peak rate for one-cycle).
    #[arg(long, default_value_t = 0.01)]
    pub lr: f32,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f32,
    /// Weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    /// LR schedule: none, step (x0.1 every third of the epochs), cosine, onecycle.
    #[arg(long, default_value = "none")]
    pub schedule: String,
    /// Training-image transforms, comma-separated: crop[=PADDING] (random crop, default
    /// padding 2), flip[=P] (horizontal), resize=H[xW] (also applied to test images), none.
    #[arg(long, default_value = "none")]
    pub augment: String,
    /// Seed of the initial weights, the shuffling, the augmentation and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Device: gpu, cpu or best.
    #[arg(long, default_value = "best")]
    pub device: String,
    /// Run folder for metrics, curves and checkpoints.
    #[arg(long, default_value = "runs/latest")]
    pub out: PathBuf,
    /// Replace a run already in --out.
    #[arg(long)]
    #[serde(skip)]
    pub overwrite: bool,
    /// Continue the run in this folder from where it stopped, with its own settings (only
    /// --epochs and --device apply).
    #[arg(long, value_name = "RUN_DIR")]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// Log the training loss and accuracy (means over the last N steps) to steps.csv every
    /// N steps; loss.svg and accuracy.svg draw them.
    #[arg(long, default_value_t = 10)]
    #[serde(default = "default_log_every")]
    pub log_every: usize,
    /// Train on the first N training images only (quick runs).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Behave as if Ctrl-C came after this many steps (for tests).
    #[arg(long, hide = true)]
    #[serde(skip)]
    pub stop_after: Option<usize>,
}

fn default_log_every() -> usize {
    10
}

impl Default for TrainConfig {
    fn default() -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            cfg: TrainConfig,
        }
        Wrap::parse_from(["fovea"]).cfg
    }
}

/// One epoch's numbers (the row `run.json` and `metrics.csv` hold).
pub use fovea_models::run::EpochRow as EpochMetrics;

/// The training loss and accuracy over the steps since the previous row.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRow {
    /// steps done, from 1
    pub step: usize,
    /// the same in epochs (fractional)
    pub epoch: f64,
    /// mean training loss over the logged steps
    pub loss: f64,
    /// training accuracy over the logged steps
    pub acc: f64,
    /// learning rate of the last of them
    pub lr: f64,
}

const STEPS_HEADER: &str = "step,epoch,train_loss,train_acc,lr";

/// Rows of a run's `steps.csv` (none if the file is missing), up to step `upto`.
pub fn read_steps(dir: &Path, upto: usize) -> Res<Vec<StepRow>> {
    let path = dir.join("steps.csv");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display()).into()),
    };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let bad = || format!("{} line {}: expected {STEPS_HEADER}", path.display(), i + 1);
        if f.len() != 5 {
            return Err(bad().into());
        }
        let num = |k: usize| f[k].trim().parse::<f64>().map_err(|_| bad());
        let row = StepRow {
            step: f[0].trim().parse().map_err(|_| bad())?,
            epoch: num(1)?,
            loss: num(2)?,
            acc: num(3)?,
            lr: num(4)?,
        };
        if row.step <= upto {
            rows.push(row);
        }
    }
    Ok(rows)
}

fn write_steps(dir: &Path, rows: &[StepRow]) -> Res<()> {
    let mut csv = format!("{STEPS_HEADER}\n");
    for r in rows {
        csv += &format!(
            "{},{:.4},{:.6},{:.6},{:.4e}\n",
            r.step, r.epoch, r.loss, r.acc, r.lr
        );
    }
    write_atomic(&dir.join("steps.csv"), csv.as_bytes())?;
    Ok(())
}

/// Means of the steps since the last logged row.
#[derive(Default)]
struct Window {
    loss: f64,
    correct: usize,
    seen: usize,
    steps: usize,
}

/// Resident memory of this process in MiB (Linux), or 0.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A test pass's numbers.
pub struct Evaluation {
    /// mean loss
    pub loss: f64,
    /// accuracy
    pub acc: f64,
    /// `confusion[true][predicted]`
    pub confusion: Vec<Vec<u64>>,
}

/// The test-set loss, accuracy and confusion matrix, without recording gradients.
pub fn evaluate(
    model: &dyn Model,
    loader: &DataLoader,
    dev: &Device,
    classes: usize,
) -> Res<Evaluation> {
    model.eval();
    let _guard = fovea_graph::NoGradGuard::new();
    let (mut loss, mut n) = (0.0f64, 0usize);
    let mut confusion = vec![vec![0u64; classes]; classes];
    for b in loader.epoch(0) {
        let x = Tensor::new(Array::from_slice(dev, &b.images, &b.shape)?);
        let y = Array::from_slice(dev, &b.labels, &[b.labels.len()])?;
        let logits = model.call(&x)?;
        // One host read per batch: the summed loss, then every prediction.
        let read = fovea_nn::loss::eval_summary(&logits, &y)?.to_vec()?;
        loss += read[0] as f64;
        for (p, t) in read[1..].iter().zip(&b.labels) {
            confusion[*t as usize][*p as usize] += 1;
        }
        n += b.labels.len();
    }
    let correct: u64 = (0..classes).map(|i| confusion[i][i]).sum();
    Ok(Evaluation {
        loss: loss / n.max(1) as f64,
        acc: correct as f64 / n.max(1) as f64,
        confusion,
    })
}

fn optimizer(cfg: &TrainConfig, params: Vec<Tensor>) -> Res<Box<dyn Optimizer>> {
    Ok(fovea_nn::optim::by_name(
        &cfg.optimizer,
        params,
        cfg.lr,
        cfg.momentum,
        cfg.weight_decay,
    )?)
}

/// The schedule and whether it steps per batch (one-cycle) rather than per epoch.
fn schedule(
    cfg: &TrainConfig,
    epochs: usize,
    opt: &mut dyn Optimizer,
    steps_per_epoch: usize,
) -> Res<Option<Schedule>> {
    Ok(fovea_nn::optim::schedule_by_name(
        &cfg.schedule,
        opt,
        epochs,
        steps_per_epoch,
        cfg.lr,
    )?)
}

fn write_metrics(dir: &Path, rows: &[EpochMetrics], steps: &[StepRow]) -> Res<()> {
    let mut csv = String::from(
        "epoch,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,pool_in_use_mib,pool_cached_mib,rss_mib\n",
    );
    for r in rows {
        csv += &format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.2},{:.1},{:.1},{:.1},{:.1}\n",
            r.epoch,
            r.train_loss,
            r.train_acc,
            r.test_loss,
            r.test_acc,
            r.seconds,
            r.images_per_s,
            r.pool_in_use_mib,
            r.pool_cached_mib,
            r.rss_mib
        );
    }
    write_atomic(&dir.join("metrics.csv"), csv.as_bytes())?;
    write_steps(dir, steps)?;
    plot_training(dir, rows, steps)
}

/// `loss.svg` and `accuracy.svg`: the per-step training curve (smoothed, raw points faint)
/// with the per-epoch test points.
pub fn plot_training(dir: &Path, rows: &[EpochMetrics], steps: &[StepRow]) -> Res<()> {
    let pts = |f: fn(&EpochMetrics) -> f64| rows.iter().map(|r| (r.epoch as f64, f(r))).collect();
    // Runs from before steps.csv existed have per-epoch training figures only.
    let per_step = |f: fn(&StepRow) -> f64, g: fn(&EpochMetrics) -> f64| match steps {
        [] => pts(g),
        _ => steps.iter().map(|r| (r.epoch, f(r))).collect(),
    };
    plots::training_chart(
        &dir.join("loss.svg"),
        "loss",
        "cross-entropy",
        per_step(|r| r.loss, |r| r.train_loss),
        &[Curve {
            label: "test (per epoch)",
            points: pts(|r| r.test_loss),
        }],
    )?;
    plots::training_chart(
        &dir.join("accuracy.svg"),
        "accuracy",
        "accuracy",
        per_step(|r| r.acc, |r| r.train_acc),
        &[Curve {
            label: "test (per epoch)",
            points: pts(|r| r.test_acc),
        }],
    )?;
    Ok(())
}

/// The spec's text: `arch` itself, or the file it names.
fn arch_text(arch: &str) -> Res<String> {
    let path = Path::new(arch);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read the arch spec: {e}", path.display()))?;
        fovea_models::ArchSpec::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(text);
    }
    Ok(arch.to_string())
}

/// Saves the model and optimizer (`last.*`) and `run.json`.
fn save_state(dir: &Path, model: &dyn Model, opt: &dyn Optimizer, info: &RunInfo) -> Res<()> {
    model.save_safetensors(dir.join("last.safetensors"))?;
    write_atomic(
        &dir.join("last.optim.safetensors"),
        &tensors_bytes(&opt.state_dict()?)?,
    )?;
    info.write(dir)
}

/// Trains as configured, writing the run folder; returns the per-epoch metrics (all of
/// them, on a resumed run). Ctrl-C stops after the current batch and saves where training
/// stands, so `--resume` continues exactly there.
pub fn train(args: &TrainConfig) -> Res<Vec<EpochMetrics>> {
    let resumed = match &args.resume {
        Some(dir) => Some(RunInfo::read(dir)?),
        None => None,
    };
    let mut cfg = match (&resumed, &args.resume) {
        (Some(info), Some(dir)) => {
            let mut c = info.config.clone();
            c.out = dir.clone();
            c.epochs = args.epochs.or(c.epochs);
            c.device = args.device.clone();
            c.stop_after = args.stop_after;
            c
        }
        _ => args.clone(),
    };
    let epochs = cfg.epochs.unwrap_or(3);
    cfg.epochs = Some(epochs);
    if resumed.is_none() {
        cfg.arch = cfg.arch.as_deref().map(arch_text).transpose()?;
        if RunInfo::path(&cfg.out).exists() && !cfg.overwrite {
            return Err(format!(
                "{} already holds a run; continue it with `--resume {0}`, pass --overwrite to \
                 replace it, or choose another --out",
                cfg.out.display()
            )
            .into());
        }
    }
    let (dev, why) = Device::choose(&cfg.device)?;
    let size = (cfg.image_size, cfg.image_size);
    let data = datasets::load(&cfg.dataset, cfg.data_dir.as_deref(), cfg.channels, size)?;
    let (mut train_set, mut test_set) = (data.train, data.test);
    if let Some(n) = cfg.train_limit {
        train_set = train_set.take(n);
    }
    if let Some(n) = cfg.test_limit {
        test_set = test_set.take(n);
    }
    let classes = train_set.classes.clone();
    let (_, h, w) = train_set.image_shape;
    let loader = DataLoader::new(Arc::new(train_set), cfg.batch_size)?
        .shuffle(cfg.seed)
        .transform(data.norm.clone())
        .augment(Augment::parse_list(&cfg.augment, (h, w))?)?;
    let test_loader = test_loader(&cfg.augment, test_set, data.norm.clone())?;
    let (c, h, w) = test_loader.image_shape();

    manual_seed(cfg.seed);
    let model = fovea_models::build(&cfg.model, cfg.arch.as_deref(), (c, h, w), classes.len())?;
    model.to_device(&dev)?;
    let mut opt = optimizer(&cfg, model.parameters())?;
    let mut sched = schedule(&cfg, epochs, opt.as_mut(), loader.len())?;
    let mut info = RunInfo {
        config: cfg.clone(),
        dataset: data.name.clone(),
        classes: classes.clone(),
        input_shape: [c, h, w],
        mean: data.norm.mean.clone(),
        std: data.norm.std.clone(),
        parameters: model.num_parameters(),
        epochs_done: 0,
        position: Position { epoch: 1, batch: 0 },
        best_test_acc: f64::MIN,
        metrics: Vec::new(),
    };
    if let Some(old) = &resumed {
        let dir = &cfg.out;
        let last = dir.join("last.safetensors");
        if !last.exists() {
            return Err(format!(
                "{} is missing: the run saved no checkpoint to resume from; train it again \
                 with --overwrite",
                last.display()
            )
            .into());
        }
        model.load_safetensors(&last)?;
        let opt_path = dir.join("last.optim.safetensors");
        opt.load_state_dict(&read_safetensors(&opt_path)?)
            .map_err(|e| {
                format!(
                    "{}: {e}; this optimizer state is not the run's own (another model or \
                     optimizer): restore the run's last.optim.safetensors, or train again with \
                     --overwrite",
                    opt_path.display()
                )
            })?;
        if let Some((s, per_batch)) = sched.as_mut() {
            let p = old.position;
            let done = if *per_batch {
                (p.epoch - 1) * loader.len() + p.batch
            } else {
                p.epoch - 1
            };
            (0..done).for_each(|_| s.step(opt.as_mut()));
        }
        info.epochs_done = old.epochs_done;
        info.position = old.position;
        info.best_test_acc = old.best_test_acc;
        info.metrics = old.metrics.clone();
        if info.position.epoch > epochs {
            eprintln!(
                "{} has done its {} epochs; pass --epochs N to train further",
                dir.display(),
                info.epochs_done
            );
            return Ok(info.metrics);
        }
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| {
        format!(
            "cannot create {}: {e}; choose an --out folder you can write to",
            cfg.out.display()
        )
    })?;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second handler in the same process (tests) is not an error worth stopping for.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let what = cfg
        .arch
        .as_ref()
        .map_or(cfg.model.as_str(), |_| "the arch spec");
    eprintln!("{why}");
    eprintln!(
        "{} {what} ({} parameters) on {} images of {} on {dev}",
        if resumed.is_some() {
            "resuming"
        } else {
            "training"
        },
        info.parameters,
        loader.dataset().len(),
        data.name
    );
    let per_epoch = loader.len();
    let mut steps_log = read_steps(
        &cfg.out,
        if resumed.is_some() {
            (info.position.epoch - 1) * per_epoch + info.position.batch
        } else {
            0
        },
    )?;
    let log_every = cfg.log_every.max(1);
    let mut window = Window::default();
    let mut steps_run = 0usize;
    let start = info.position;
    for epoch in start.epoch..=epochs {
        model.train();
        let skip = if epoch == start.epoch { start.batch } else { 0 };
        let pb = crate::progress_bar(loader.len(), &format!("epoch {epoch}/{epochs}"));
        pb.set_position(skip as u64);
        let started = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut interrupted = false;
        for (k, b) in loader.epoch_from(epoch as u64, skip).enumerate() {
            if stop.load(Ordering::SeqCst) || cfg.stop_after.is_some_and(|n| steps_run >= n) {
                info.position = Position {
                    epoch,
                    batch: skip + k,
                };
                interrupted = true;
                break;
            }
            let n = b.labels.len();
            let x = Tensor::new(Array::from_slice(&dev, &b.images, &b.shape)?);
            let y = Array::from_slice(&dev, &b.labels, &[n])?;
            let logits = model.call(&x)?;
            let loss = cross_entropy(&logits, &y, CrossEntropyOptions::default())?;
            opt.zero_grad();
            loss.backward()?;
            opt.step()?;
            if let Some((s, true)) = sched.as_mut() {
                s.step(opt.as_mut());
            }
            steps_run += 1;
            // One host read per step: the loss and the number of correct predictions together.
            let read = fovea_nn::loss::step_summary(&logits, &y, &loss)?.to_vec()?;
            loss_sum += read[0] as f64 * n as f64;
            correct += read[1] as usize;
            seen += n;
            window.loss += read[0] as f64 * n as f64;
            window.correct += read[1] as usize;
            window.seen += n;
            window.steps += 1;
            let step = (epoch - 1) * per_epoch + skip + k + 1;
            if window.steps >= log_every || skip + k + 1 == per_epoch {
                steps_log.push(StepRow {
                    step,
                    epoch: step as f64 / per_epoch as f64,
                    loss: window.loss / window.seen as f64,
                    acc: window.correct as f64 / window.seen as f64,
                    lr: opt.lr() as f64,
                });
                window = Window::default();
            }
            pb.set_message(format!(
                "loss {:.4} acc {:.3}, {:.0} images/s",
                loss_sum / seen as f64,
                correct as f64 / seen as f64,
                seen as f64 / started.elapsed().as_secs_f64().max(1e-9)
            ));
            pb.inc(1);
        }
        pb.finish_and_clear();
        if interrupted {
            write_steps(&cfg.out, &steps_log)?;
            save_state(&cfg.out, model.as_ref(), opt.as_ref(), &info)?;
            eprintln!(
                "stopped in epoch {epoch} after batch {}; saved to {0}; continue with \
                 `fovea train --resume {}`",
                info.position.batch,
                cfg.out.display()
            );
            return Ok(info.metrics);
        }
        let seconds = started.elapsed().as_secs_f64();
        if let Some((s, false)) = sched.as_mut() {
            s.step(opt.as_mut());
        }
        let eval = evaluate(model.as_ref(), &test_loader, &dev, classes.len())?;
        let pool = dev.engine().map(|e| e.pool_stats()).unwrap_or_default();
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let row = EpochMetrics {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_acc: correct as f64 / seen.max(1) as f64,
            test_loss: eval.loss,
            test_acc: eval.acc,
            seconds,
            images_per_s: seen as f64 / seconds.max(1e-9),
            pool_in_use_mib: mib(pool.in_use_bytes),
            pool_cached_mib: mib(pool.free_bytes),
            rss_mib: rss_mib(),
        };
        eprintln!(
            "epoch {epoch}/{epochs}: train loss {:.4} acc {:.4} | test loss {:.4} acc {:.4} | {:.1} s, {:.0} images/s",
            row.train_loss, row.train_acc, row.test_loss, row.test_acc, seconds, row.images_per_s
        );
        eprintln!(
            "  memory: {}RSS {:.0} MiB",
            match dev.engine() {
                Some(_) => format!(
                    "GPU pool {:.1} MiB in use + {:.1} MiB cached, ",
                    row.pool_in_use_mib, row.pool_cached_mib
                ),
                None => String::new(),
            },
            row.rss_mib
        );
        info.metrics.push(row);
        info.epochs_done = epoch;
        info.position = Position {
            epoch: epoch + 1,
            batch: 0,
        };
        write_metrics(&cfg.out, &info.metrics, &steps_log)?;
        plots::confusion_matrix(&cfg.out.join("confusion.svg"), &classes, &eval.confusion)?;
        if eval.acc > info.best_test_acc {
            info.best_test_acc = eval.acc;
            model.save_safetensors(cfg.out.join("best.safetensors"))?;
        }
        save_state(&cfg.out, model.as_ref(), opt.as_ref(), &info)?;
    }
    eprintln!(
        "wrote {}: metrics.csv, steps.csv, loss.svg, accuracy.svg, confusion.svg, last/best.safetensors, run.json",
        cfg.out.display()
    );
    Ok(info.metrics)
}

/// The loader of a test set: normalised with `norm` and given the transforms of
/// `augment` that are not random (a resize), as training images were.
pub fn test_loader(augment: &str, test: ImageDataset, norm: Normalize) -> Res<DataLoader> {
    let (_, h, w) = test.image_shape;
    let fixed: Vec<Augment> = Augment::parse_list(augment, (h, w))?
        .into_iter()
        .filter(|a| !a.is_random())
        .collect();
    Ok(DataLoader::new(Arc::new(test), 500)?
        .transform(norm)
        .augment(fixed)?)
}

/// `fovea eval RUN_DIR`: reloads the run's best checkpoint and evaluates it on the test set.
pub fn eval_run(dir: &Path, device: &str, data_dir: Option<&Path>) -> Res<Evaluation> {
    let dev = Device::from_name(device)?;
    let (info, model) = load_run(dir, Which::Best, &dev)?;
    let loader = info.test_loader(None, data_dir)?;
    evaluate(model.as_ref(), &loader, &dev, info.classes.len())
}
