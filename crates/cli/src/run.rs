//! A run folder's `run.json`: the settings, classes, input shape and normalisation a
//! trained model needs, the metrics so far, and where training stands (for `--resume`).

use crate::train::TrainConfig;
use crate::Res;
use fovea_data::{DataLoader, Normalize};
use fovea_device::Device;
use fovea_io::write_atomic;
use fovea_models::Model;
use fovea_nn::ModuleExt;
use std::path::{Path, PathBuf};

pub use fovea_models::run::Position;

/// Everything `run.json` holds, with the command's own settings.
pub type RunInfo = fovea_models::run::RunDescription<TrainConfig>;

/// What the command does with a run folder's `run.json` beyond what the page shares.
pub trait RunFolder: Sized {
    /// `dir/run.json`.
    fn path(dir: &Path) -> PathBuf;
    /// Reads `dir/run.json`, naming the file in every error.
    fn read(dir: &Path) -> Res<Self>;
    /// Writes `dir/run.json` atomically.
    fn write(&self, dir: &Path) -> Res<()>;
    /// The normalisation the model was trained with.
    fn normalize(&self) -> Res<Normalize>;
    /// The run's test set (its first `limit` images), loaded from `data_dir` or where the
    /// run found it, normalised and resized as in training.
    fn test_loader(&self, limit: Option<usize>, data_dir: Option<&Path>) -> Res<DataLoader>;
    /// A fresh model of the run's architecture.
    fn build_model(&self) -> Res<Box<dyn Model>>;
}

/// Checks what the loaders and the model builder would otherwise trip over: classes, input
/// shape, normalisation, and the model or arch spec (parsed and sized, not built).
fn check(info: &RunInfo) -> Result<(), String> {
    let [c, h, w] = info.input_shape;
    if info.classes.is_empty() || info.classes.len() > 256 {
        return Err(format!(
            "it lists {} classes; a run has 1 to 256",
            info.classes.len()
        ));
    }
    if ![1, 3].contains(&c) || h == 0 || w == 0 {
        return Err(format!(
            "input_shape {:?} is not [1 or 3 channels, height, width]",
            info.input_shape
        ));
    }
    if info.mean.len() != info.std.len() || ![1, c].contains(&info.mean.len()) {
        return Err(format!(
            "mean {:?} and std {:?} need 1 or {c} values each",
            info.mean, info.std
        ));
    }
    if info.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
        || info.mean.iter().any(|m| !m.is_finite())
    {
        return Err(format!(
            "std {:?} must be positive and mean {:?} finite",
            info.std, info.mean
        ));
    }
    match &info.config.arch {
        Some(text) => {
            fovea_models::ArchSpec::parse(text)
                .and_then(|s| s.check((c, h, w), info.classes.len()))
                .map_err(|e| e.to_string())?;
        }
        None if !fovea_models::NAMES.contains(&info.config.model.as_str()) => {
            return Err(format!(
                "unknown model `{}`; known: {}",
                info.config.model,
                fovea_models::NAMES.join(", ")
            ))
        }
        None => {}
    }
    Ok(())
}

impl RunFolder for RunInfo {
    fn path(dir: &Path) -> PathBuf {
        dir.join("run.json")
    }

    fn read(dir: &Path) -> Res<RunInfo> {
        let path = Self::path(dir);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: {e}; is {} a run folder written by `fovea train`?",
                path.display(),
                dir.display()
            )
        })?;
        let info: RunInfo = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: not a run description Fovea can read ({e}); restore it, or train the run \
                 again",
                path.display()
            )
        })?;
        check(&info).map_err(|e| {
            format!(
                "{}: {e}; the file was edited or damaged, restore it or train the run again",
                path.display()
            )
        })?;
        Ok(info)
    }

    fn write(&self, dir: &Path) -> Res<()> {
        write_atomic(&Self::path(dir), self.to_json().as_bytes())?;
        Ok(())
    }

    fn normalize(&self) -> Res<Normalize> {
        Ok(Normalize::per_channel(self.mean.clone(), self.std.clone())?)
    }

    fn test_loader(&self, limit: Option<usize>, data_dir: Option<&Path>) -> Res<DataLoader> {
        let cfg = &self.config;
        let size = (cfg.image_size, cfg.image_size);
        let data_dir = data_dir.or(cfg.data_dir.as_deref());
        let mut test =
            crate::datasets::load_test(&cfg.dataset, data_dir, cfg.channels, size, &self.classes)?;
        if let Some(n) = limit {
            test = test.take(n);
        }
        crate::train::test_loader(&cfg.augment, test, self.normalize()?)
    }

    fn build_model(&self) -> Res<Box<dyn Model>> {
        Ok(fovea_models::build(
            &self.config.model,
            self.config.arch.as_deref(),
            self.input(),
            self.classes.len(),
        )?)
    }
}

/// Which checkpoint of a run to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// the epoch with the best test accuracy
    Best,
    /// the latest save
    Last,
}

/// Reads a run folder and loads its model (strictly: a checkpoint of another architecture
/// is refused) onto `device`, in eval mode.
pub fn load_run(dir: &Path, which: Which, device: &Device) -> Res<(RunInfo, Box<dyn Model>)> {
    let info = RunInfo::read(dir)?;
    let model = info.build_model()?;
    let file = dir.join(match which {
        Which::Best => "best.safetensors",
        Which::Last => "last.safetensors",
    });
    if !file.exists() {
        return Err(format!(
            "{}: not found; the run has not finished an epoch yet, continue it with `fovea train \
             --resume {}`",
            file.display(),
            dir.display()
        )
        .into());
    }
    model.load_safetensors(&file)?;
    model.to_device(device)?;
    model.eval();
    Ok((info, model))
}
