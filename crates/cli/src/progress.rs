//! Progress of long work: a bar with rate and ETA on a terminal, and plain lines when stderr
//! is not one (CI logs, `make demo | tee`), at least every [`PLAIN_EVERY`] so a long epoch
//! never looks stuck. `FOVEA_PROGRESS_SECS` changes that interval (0: a line per update).

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Seconds between two plain progress lines, unless `FOVEA_PROGRESS_SECS` says otherwise.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Progress of `len` units of work, drawn as a bar or printed as plain lines.
pub struct Progress {
    bar: indicatif::ProgressBar,
    plain: Option<Mutex<Plain>>,
}

/// What the plain lines need to know.
struct Plain {
    prefix: String,
    len: u64,
    pos: u64,
    /// position when this run of updates started (a resumed epoch starts part-way)
    first: u64,
    msg: String,
    started: Instant,
    last: Instant,
    every: Duration,
}

impl Plain {
    fn maybe_print(&mut self) {
        if self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        let secs = self.started.elapsed().as_secs_f64();
        let done = self.pos.saturating_sub(self.first);
        let rate = done as f64 / secs.max(1e-9);
        let eta = if rate > 0.0 {
            format_secs(self.len.saturating_sub(self.pos) as f64 / rate)
        } else {
            "?".to_string()
        };
        let pct = 100.0 * self.pos as f64 / self.len.max(1) as f64;
        let msg = if self.msg.is_empty() {
            String::new()
        } else {
            format!(" {}", self.msg)
        };
        eprintln!(
            "{}: {}/{} ({pct:.0}%){msg}, {rate:.1}/s, elapsed {}, ETA {eta}",
            self.prefix,
            self.pos,
            self.len,
            format_secs(secs)
        );
    }
}

/// `75s` as `1m15s`.
fn format_secs(s: f64) -> String {
    let s = s.round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Progress {
    /// A bar on a terminal, plain lines otherwise.
    pub fn new(len: usize, prefix: &str) -> Progress {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            let every = std::env::var("FOVEA_PROGRESS_SECS")
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map_or(PLAIN_EVERY, Duration::from_secs_f64);
            let now = Instant::now();
            return Progress {
                bar: indicatif::ProgressBar::hidden(),
                plain: Some(Mutex::new(Plain {
                    prefix: prefix.to_string(),
                    len: len as u64,
                    pos: 0,
                    first: 0,
                    msg: String::new(),
                    started: now,
                    last: now,
                    every,
                })),
            };
        }
        let bar = indicatif::ProgressBar::new(len as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(prefix.to_string());
        Progress { bar, plain: None }
    }

    fn plain(&self, f: impl FnOnce(&mut Plain)) {
        if let Some(p) = &self.plain {
            f(&mut p.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// Sets how much is done. The first call sets the starting point of the rate.
    pub fn set_position(&self, pos: u64) {
        self.bar.set_position(pos);
        self.plain(|p| {
            if p.pos == 0 && p.first == 0 {
                p.first = pos;
            }
            p.pos = pos;
            p.maybe_print();
        });
    }

    /// Adds `n` to what is done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        self.plain(|p| {
            p.pos += n;
            p.maybe_print();
        });
    }

    /// Sets the message shown after the counts (e.g. the running loss).
    pub fn set_message(&self, msg: impl Into<Cow<'static, str>>) {
        let msg = msg.into();
        self.plain(|p| p.msg = msg.to_string());
        self.bar.set_message(msg);
    }

    /// Removes the bar (plain lines stay in the log).
    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}
