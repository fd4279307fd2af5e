//! `fovea train` and `fovea eval`: the course's training loop with a progress bar, a test
//! pass per epoch, and a run folder holding metrics, curves, the confusion matrix and
//! checkpoints.

use crate::plots::{self, Curve};
use fovea_data::{
    DataLoader, ImageDataset, MnistKind, Normalize, Split, FASHION_MEAN, FASHION_STD,
};
use fovea_device::{Array, CrossEntropyOptions, Device, Reduction};
use fovea_graph::{cross_entropy, no_grad, Tensor};
use fovea_models::Model;
use fovea_nn::{
    checkpoint::write_atomic, manual_seed, Adam, CosineAnnealingLr, LrScheduler, ModuleExt,
    OneCycleLr, Optimizer, Sgd, StepLr,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// What `fovea train` takes.
#[derive(clap::Args, Clone, Debug)]
pub struct TrainConfig {
    /// Model: net, vgg-small, vgg-small-bn, vgg11 ... vgg19-bn.
    #[arg(long, default_value = "net")]
    pub model: String,
    /// Dataset: fashion-mnist or mnist.
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: String,
    /// Folder holding the dataset's IDX files (default: searched, see `fovea data`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
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
    /// Seed of the initial weights, the shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Device: gpu, cpu or best.
    #[arg(long, default_value = "best")]
    pub device: String,
    /// Run folder for metrics, curves and checkpoints.
    #[arg(long, default_value = "runs/latest")]
    pub out: PathBuf,
    /// Train on the first N training images only (quick runs).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    pub test_limit: Option<usize>,
}

/// One epoch's numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// epoch, from 1
    pub epoch: usize,
    /// mean training loss
    pub train_loss: f64,
    /// training accuracy
    pub train_acc: f64,
    /// mean test loss
    pub test_loss: f64,
    /// test accuracy
    pub test_acc: f64,
    /// seconds spent training this epoch
    pub seconds: f64,
    /// training images per second
    pub images_per_s: f64,
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

fn kind(name: &str) -> Res<MnistKind> {
    match name {
        "fashion-mnist" => Ok(MnistKind::Fashion),
        "mnist" => Ok(MnistKind::Digits),
        other => Err(format!("unknown dataset `{other}`; known: fashion-mnist, mnist").into()),
    }
}

fn normalisation(kind: MnistKind) -> Normalize {
    match kind {
        MnistKind::Fashion => Normalize::new(FASHION_MEAN, FASHION_STD).expect("valid"),
        MnistKind::Digits => Normalize::new(0.1307, 0.3081).expect("valid"),
    }
}

fn progress(len: usize, label: String) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(label);
    pb
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
        let opts = CrossEntropyOptions {
            reduction: Reduction::Sum,
            ..Default::default()
        };
        loss += cross_entropy(&logits, &y, opts)?.item()? as f64;
        let pred = logits.argmax(1, false)?.to_vec()?;
        for (p, t) in pred.iter().zip(&b.labels) {
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
    Ok(match cfg.optimizer.as_str() {
        "sgd" => Box::new(
            Sgd::new(params, cfg.lr)
                .momentum(cfg.momentum)
                .weight_decay(cfg.weight_decay),
        ),
        "adam" => Box::new(Adam::new(params, cfg.lr).weight_decay(cfg.weight_decay)),
        "adamw" => Box::new(Adam::adamw(params, cfg.lr).weight_decay(cfg.weight_decay)),
        other => {
            return Err(format!("unknown optimizer `{other}`; known: sgd, adam, adamw").into())
        }
    })
}

/// The schedule and whether it steps per batch (one-cycle) rather than per epoch.
fn schedule(
    cfg: &TrainConfig,
    opt: &mut dyn Optimizer,
    steps_per_epoch: usize,
) -> Res<Option<(Box<dyn LrScheduler>, bool)>> {
    Ok(match cfg.schedule.as_str() {
        "none" => None,
        "step" => Some((
            Box::new(StepLr::new(opt, (cfg.epochs / 3).max(1), 0.1)?),
            false,
        )),
        "cosine" => Some((
            Box::new(CosineAnnealingLr::new(opt, cfg.epochs.max(1), 0.0)?),
            false,
        )),
        "onecycle" => Some((
            Box::new(OneCycleLr::new(opt, cfg.lr, cfg.epochs * steps_per_epoch)?),
            true,
        )),
        other => {
            return Err(
                format!("unknown schedule `{other}`; known: none, step, cosine, onecycle").into(),
            )
        }
    })
}

fn write_metrics(dir: &Path, rows: &[EpochMetrics]) -> Res<()> {
    let mut csv =
        String::from("epoch,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s\n");
    for r in rows {
        csv += &format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.2},{:.1}\n",
            r.epoch, r.train_loss, r.train_acc, r.test_loss, r.test_acc, r.seconds, r.images_per_s
        );
    }
    write_atomic(&dir.join("metrics.csv"), csv.as_bytes())?;
    let pts = |f: fn(&EpochMetrics) -> f64| rows.iter().map(|r| (r.epoch as f64, f(r))).collect();
    plots::line_chart(
        &dir.join("loss.svg"),
        "loss",
        "cross-entropy",
        &[
            Curve {
                label: "train",
                points: pts(|r| r.train_loss),
            },
            Curve {
                label: "test",
                points: pts(|r| r.test_loss),
            },
        ],
    )?;
    plots::line_chart(
        &dir.join("accuracy.svg"),
        "accuracy",
        "accuracy",
        &[
            Curve {
                label: "train",
                points: pts(|r| r.train_acc),
            },
            Curve {
                label: "test",
                points: pts(|r| r.test_acc),
            },
        ],
    )?;
    Ok(())
}

/// Trains as configured, writing the run folder; returns the per-epoch metrics. Ctrl-C
/// stops after the current batch and saves what there is.
pub fn train(cfg: &TrainConfig) -> Res<Vec<EpochMetrics>> {
    let kind = kind(&cfg.dataset)?;
    let dev = Device::from_name(&cfg.device)?;
    let mut train_set: ImageDataset = kind.load(Split::Train, cfg.data_dir.as_deref())?;
    let mut test_set = kind.load(Split::Test, cfg.data_dir.as_deref())?;
    if let Some(n) = cfg.train_limit {
        train_set = train_set.take(n);
    }
    if let Some(n) = cfg.test_limit {
        test_set = test_set.take(n);
    }
    let classes = train_set.classes.clone();
    let norm = normalisation(kind);
    let loader = DataLoader::new(Arc::new(train_set), cfg.batch_size)?
        .shuffle(cfg.seed)
        .transform(norm.clone());
    let test_loader = DataLoader::new(Arc::new(test_set), 500)?.transform(norm.clone());

    manual_seed(cfg.seed);
    let (c, _, _) = loader.dataset().image_shape;
    let model = fovea_models::by_name(&cfg.model, c, classes.len())?;
    model.to_device(&dev)?;
    let mut opt = optimizer(cfg, model.parameters())?;
    let mut sched = schedule(cfg, opt.as_mut(), loader.len())?;
    std::fs::create_dir_all(&cfg.out)
        .map_err(|e| format!("cannot create {}: {e}", cfg.out.display()))?;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second handler in the same process (tests) is not an error worth stopping for.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    eprintln!(
        "training {} ({} parameters) on {} images of {} on {dev}",
        cfg.model,
        model.num_parameters(),
        loader.dataset().len(),
        kind.name()
    );
    let mut rows: Vec<EpochMetrics> = Vec::new();
    let mut best = f64::MIN;
    for epoch in 1..=cfg.epochs {
        model.train();
        let pb = progress(loader.len(), format!("epoch {epoch}/{}", cfg.epochs));
        let started = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for b in loader.epoch(epoch as u64) {
            if stop.load(Ordering::SeqCst) {
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
            // One host read per step: the loss and the number of correct predictions together.
            let read = no_grad(|| -> Res<Vec<f32>> {
                let hits = logits
                    .argmax(1, false)?
                    .eq(&y)?
                    .sum(&[], false)?
                    .reshape(&[1])?;
                let l = loss.array().reshape(&[1])?;
                Ok(Array::concat(&[&l, &hits], 0)?.to_vec()?)
            })?;
            loss_sum += read[0] as f64 * n as f64;
            correct += read[1] as usize;
            seen += n;
            pb.inc(1);
            pb.set_message(format!(
                "loss {:.4} acc {:.3}",
                loss_sum / seen as f64,
                correct as f64 / seen as f64
            ));
        }
        pb.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        if let Some((s, false)) = sched.as_mut() {
            s.step(opt.as_mut());
        }
        let eval = evaluate(model.as_ref(), &test_loader, &dev, classes.len())?;
        let row = EpochMetrics {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_acc: correct as f64 / seen.max(1) as f64,
            test_loss: eval.loss,
            test_acc: eval.acc,
            seconds,
            images_per_s: seen as f64 / seconds.max(1e-9),
        };
        eprintln!(
            "epoch {epoch}/{}: train loss {:.4} acc {:.4} | test loss {:.4} acc {:.4} | {:.1} s, {:.0} images/s",
            cfg.epochs, row.train_loss, row.train_acc, row.test_loss, row.test_acc, seconds, row.images_per_s
        );
        rows.push(row);
        write_metrics(&cfg.out, &rows)?;
        plots::confusion_matrix(&cfg.out.join("confusion.svg"), &classes, &eval.confusion)?;
        model.save_safetensors(cfg.out.join("last.safetensors"))?;
        if eval.acc > best {
            best = eval.acc;
            model.save_safetensors(cfg.out.join("best.safetensors"))?;
        }
        let meta = json!({
            "model": cfg.model, "dataset": kind.name(), "classes": classes,
            "normalize": {"mean": norm.mean, "std": norm.std},
            "epochs_done": epoch, "best_test_acc": best,
            "config": format!("{cfg:?}"),
            "metrics": rows.iter().map(|r| json!({"epoch": r.epoch, "train_loss": r.train_loss,
                "train_acc": r.train_acc, "test_loss": r.test_loss, "test_acc": r.test_acc,
                "seconds": r.seconds})).collect::<Vec<_>>(),
        });
        write_atomic(
            &cfg.out.join("run.json"),
            serde_json::to_string_pretty(&meta)?.as_bytes(),
        )?;
        if stop.load(Ordering::SeqCst) {
            eprintln!(
                "stopped by Ctrl-C after saving epoch {epoch} to {}",
                cfg.out.display()
            );
            break;
        }
    }
    eprintln!("wrote {}: metrics.csv, loss.svg, accuracy.svg, confusion.svg, last/best.safetensors, run.json", cfg.out.display());
    Ok(rows)
}

/// `fovea eval RUN_DIR`: reloads the run's best checkpoint and evaluates it on the test set.
pub fn eval_run(dir: &Path, device: &str, data_dir: Option<&Path>) -> Res<Evaluation> {
    let meta_path = dir.join("run.json");
    let text = std::fs::read_to_string(&meta_path).map_err(|e| {
        format!(
            "{}: {e}; is this a run folder from `fovea train`?",
            meta_path.display()
        )
    })?;
    let meta: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not valid JSON ({e})", meta_path.display()))?;
    let field = |k: &str| {
        meta[k]
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("{}: no `{k}`", meta_path.display()))
    };
    let kind = kind(&field("dataset")?)?;
    let dev = Device::from_name(device)?;
    let test = kind.load(Split::Test, data_dir)?;
    let classes = test.classes.len();
    let loader = DataLoader::new(Arc::new(test), 500)?.transform(normalisation(kind));
    let model = fovea_models::by_name(&field("model")?, loader.dataset().image_shape.0, classes)?;
    model.load_safetensors(dir.join("best.safetensors"))?;
    model.to_device(&dev)?;
    evaluate(model.as_ref(), &loader, &dev, classes)
}
