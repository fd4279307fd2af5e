//! The run description, `run.json`: what rebuilding a trained model needs (model or arch
//! spec, classes, input shape, normalisation), the settings, and the metrics so far. The
//! `fovea` command writes it beside its checkpoints (as `RunDescription<TrainConfig>`, its
//! own settings type, whose fields [`RunSettings`] mirrors) and the page reads and writes
//! the same format, so runs move between them both ways.

use serde::{Deserialize, Serialize};

/// `Result` with the reason as text.
type Result<T> = std::result::Result<T, String>;

/// `fovea train`'s settings as `run.json` records them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSettings {
    /// model name (`net`, `vgg-small-bn`, ...)
    pub model: String,
    /// the arch spec's text, when the model is one
    pub arch: Option<String>,
    /// dataset name
    pub dataset: String,
    /// where the CLI found the data (none in the page)
    pub data_dir: Option<String>,
    /// image channels
    pub channels: usize,
    /// image side
    pub image_size: usize,
    /// epochs planned
    pub epochs: Option<usize>,
    /// images per step
    pub batch_size: usize,
    /// `sgd`, `adam` or `adamw`
    pub optimizer: String,
    /// learning rate (peak for one-cycle)
    pub lr: f32,
    /// SGD momentum
    pub momentum: f32,
    /// weight decay
    pub weight_decay: f32,
    /// `none`, `step`, `cosine` or `onecycle`
    pub schedule: String,
    /// training transforms (`none` in the page)
    pub augment: String,
    /// seed of weights, shuffling and dropout
    pub seed: u64,
    /// the device asked for
    pub device: String,
    /// the CLI's run folder (`browser` for the page)
    pub out: String,
    /// steps per `steps.csv` row
    #[serde(default = "ten")]
    pub log_every: usize,
    /// training images used, when limited
    pub train_limit: Option<usize>,
    /// test images used, when limited
    pub test_limit: Option<usize>,
}

fn ten() -> usize {
    10
}

/// Where training stands: batch `batch` of epoch `epoch` (from 1) is next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// the epoch under way
    pub epoch: usize,
    /// batches of it done
    pub batch: usize,
}

/// One finished epoch's numbers, as `metrics.csv` and `run.json` hold them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
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
    /// seconds of training
    pub seconds: f64,
    /// training images per second
    pub images_per_s: f64,
    /// MiB of GPU buffers in use after the epoch
    #[serde(default)]
    pub pool_in_use_mib: f64,
    /// MiB of GPU buffers cached after the epoch
    #[serde(default)]
    pub pool_cached_mib: f64,
    /// resident memory after the epoch (0 in the page)
    #[serde(default)]
    pub rss_mib: f64,
}

/// Everything `run.json` holds, with the settings as `C` (the page's [`RunSettings`], or the
/// `fovea` command's own settings type).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunDescription<C = RunSettings> {
    /// the settings
    pub config: C,
    /// the dataset's name
    pub dataset: String,
    /// class names, by label
    pub classes: Vec<String>,
    /// the model's input `[C, H, W]`
    pub input_shape: [usize; 3],
    /// per-channel mean of the normalisation
    pub mean: Vec<f32>,
    /// per-channel std of the normalisation
    pub std: Vec<f32>,
    /// trainable values
    pub parameters: usize,
    /// epochs finished
    pub epochs_done: usize,
    /// where training stands
    pub position: Position,
    /// best test accuracy so far
    pub best_test_acc: f64,
    /// one row per finished epoch
    pub metrics: Vec<EpochRow>,
}

impl RunDescription {
    /// Parses `run.json` text, saying what is wrong and how to fix it.
    pub fn parse(text: &str) -> Result<RunDescription> {
        serde_json::from_str(text).map_err(|e| {
            format!(
                "run.json: not a run description Fovea can read ({e}); give the run.json that \
                 `fovea train` or the page wrote beside the checkpoint"
            )
        })
    }
}

impl<C: Serialize> RunDescription<C> {
    /// The description as `run.json` text (pretty, as `fovea train` writes it).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data serialises")
    }
}

impl<C> RunDescription<C> {
    /// `(C, H, W)` of the model's input.
    pub fn input(&self) -> (usize, usize, usize) {
        let [c, h, w] = self.input_shape;
        (c, h, w)
    }
}
