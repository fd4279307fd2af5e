//! `fovea compare RUN_DIR...`: the runs' curves in one picture, so a learner sees which
//! change helped.

use crate::plots::{self, RunCurves};
use crate::run::{RunFolder, RunInfo};
use crate::Res;
use std::path::{Path, PathBuf};

/// One run's summary line.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// the label in the legend
    pub label: String,
    /// epochs finished
    pub epochs: usize,
    /// best test accuracy and its epoch
    pub best: (f64, usize),
    /// mean seconds per epoch
    pub seconds_per_epoch: f64,
}

/// Reads every run's `run.json`, draws test accuracy and training loss per epoch for all
/// of them into `out` (SVG), and returns a summary per run.
pub fn compare(dirs: &[PathBuf], out: &Path) -> Res<Vec<RunSummary>> {
    if dirs.is_empty() {
        return Err("give at least one run folder to compare".into());
    }
    let mut runs = Vec::new();
    for d in dirs {
        let info = RunInfo::read(d)?;
        if info.metrics.is_empty() {
            return Err(format!("{}: no finished epoch to plot yet", d.display()).into());
        }
        let name = d.file_name().map(|n| n.to_string_lossy().into_owned());
        runs.push((name.unwrap_or_else(|| d.display().to_string()), info));
    }
    // Folders with the same last component are told apart by their full path.
    let labels: Vec<String> = runs
        .iter()
        .zip(dirs)
        .map(|((name, _), d)| {
            if runs.iter().filter(|(n, _)| n == name).count() > 1 {
                d.display().to_string()
            } else {
                name.clone()
            }
        })
        .collect();
    let series: Vec<RunCurves> = runs
        .iter()
        .zip(&labels)
        .map(|((_, info), label)| RunCurves {
            label: label.clone(),
            accuracy: info
                .metrics
                .iter()
                .map(|m| (m.epoch as f64, m.test_acc))
                .collect(),
            loss: info
                .metrics
                .iter()
                .map(|m| (m.epoch as f64, m.train_loss))
                .collect(),
        })
        .collect();
    plots::comparison(out, &series)?;
    Ok(runs
        .iter()
        .zip(labels)
        .map(|((_, info), label)| {
            let best = info
                .metrics
                .iter()
                .map(|m| (m.test_acc, m.epoch))
                .fold((f64::MIN, 0), |a, b| if b.0 > a.0 { b } else { a });
            let secs: f64 = info.metrics.iter().map(|m| m.seconds).sum();
            RunSummary {
                label,
                epochs: info.epochs_done,
                best,
                seconds_per_epoch: secs / info.metrics.len() as f64,
            }
        })
        .collect())
}
