//! `fovea data fetch`: downloads Fashion-MNIST or MNIST with a byte progress bar.

use crate::datasets::mnist_kind;
use crate::Res;
use fovea_data::fetch::{fetch, FetchEvent};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Fetches `dataset` into `dir` (default: `$FOVEA_DATA/<name>` or `./data/<name>`),
/// trying `mirrors` (base URLs) instead of the official ones when given.
pub fn fetch_dataset(dataset: &str, dir: Option<&Path>, mirrors: &[String]) -> Res<PathBuf> {
    let kind = mnist_kind(dataset).ok_or_else(|| {
        format!("unknown dataset `{dataset}`; `fovea data fetch` knows fashion-mnist and mnist")
    })?;
    let dir = dir.map_or_else(|| kind.default_fetch_dir(), Path::to_path_buf);
    let mut download = kind.download();
    if !mirrors.is_empty() {
        download.mirrors = mirrors
            .iter()
            .map(|m| format!("{}/", m.trim_end_matches('/')))
            .collect();
    }
    let tty = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let mut report = |e: FetchEvent| match e {
        FetchEvent::Start { file, url, total } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            eprintln!("downloading {url}");
            let b = if tty {
                ProgressBar::new(total.unwrap_or(0))
            } else {
                ProgressBar::hidden()
            };
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_prefix(file);
            bar = Some(b);
        }
        FetchEvent::Bytes(n) => {
            if let Some(b) = &bar {
                b.inc(n);
            }
        }
        FetchEvent::Done { file } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            eprintln!("{file}: SHA-256 verified");
        }
        FetchEvent::Present { file } => eprintln!("{file}: already present and verified"),
    };
    fetch(&download, &dir, &mut report)?;
    Ok(dir)
}
