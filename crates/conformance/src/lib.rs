//! Conformance cases written by PyTorch (the format of `tests/fixtures/ops/README.md`):
//! one safetensors file per case, its metadata `attrs` naming the op and its attributes.
//! [`run_dir`] runs every case on a device and reports the worst error per tensor; the
//! `conformance` example and the tests drive it.
//!
//! Agreement per tensor: `max|got - want| <= 1e-4 * max(1, max|want|)`.

use fovea_device::Result as DevResult;
use fovea_device::{
    AdamStep, Array, Conv2dOptions, CrossEntropyOptions, Device, Pool2dOptions, Reduction, SgdStep,
};
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Relative tolerance of the format.
pub const TOLERANCE: f32 = 1e-4;

/// One case: its op, attributes and named f32 tensors.
#[derive(Clone, Debug)]
pub struct Case {
    /// the file it came from
    pub path: PathBuf,
    /// `attrs.op`
    pub op: String,
    /// all of `attrs`
    pub attrs: Value,
    /// tensors by name: shape and values
    pub tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
}

/// How one tensor compared.
#[derive(Clone, Debug)]
pub struct TensorCheck {
    /// tensor name
    pub name: String,
    /// `max|got - want|` (infinite on a shape mismatch)
    pub error: f32,
    /// the allowed error
    pub tolerance: f32,
}

/// The outcome of one case file.
#[derive(Clone, Debug)]
pub struct Report {
    /// the file
    pub path: PathBuf,
    /// the op, if the file named one
    pub op: Option<String>,
    /// per-tensor comparisons
    pub checks: Vec<TensorCheck>,
    /// why the case could not run (malformed file, unknown op, device error)
    pub failure: Option<String>,
}

impl Report {
    /// Whether the case ran and every tensor agreed.
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.checks.iter().all(|c| c.error <= c.tolerance)
    }

    /// One line: PASS/FAIL, the file, the op, and the worst error per tensor.
    pub fn line(&self) -> String {
        let name = self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let op = self.op.as_deref().unwrap_or("?");
        let mut s = format!("{verdict} {name} ({op})");
        for c in &self.checks {
            let mark = if c.error <= c.tolerance {
                ""
            } else {
                " (over)"
            };
            s += &format!("  {} {:.2e}/{:.0e}{mark}", c.name, c.error, c.tolerance);
        }
        if let Some(f) = &self.failure {
            s += &format!("  {}: {f}", self.path.display());
        }
        s
    }
}

impl Case {
    /// Reads a case file; the error says what is wrong with it.
    pub fn load(path: &Path) -> Result<Case, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
        let (_, meta) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| format!("not a safetensors file: {e}"))?;
        let attrs = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("attrs"))
            .ok_or("no `attrs` entry in the metadata")?;
        let attrs: Value =
            serde_json::from_str(attrs).map_err(|e| format!("`attrs` is not JSON: {e}"))?;
        let op = attrs
            .get("op")
            .and_then(Value::as_str)
            .ok_or("`attrs` names no `op`")?
            .to_string();
        let st = SafeTensors::deserialize(&bytes).map_err(|e| format!("bad tensor data: {e}"))?;
        let mut tensors = Vec::new();
        for (name, t) in st.tensors() {
            if t.dtype() != Dtype::F32 {
                return Err(format!("tensor `{name}` is {:?}, expected F32", t.dtype()));
            }
            let v = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.push((name, t.shape().to_vec(), v));
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Case {
            path: path.to_path_buf(),
            op,
            attrs,
            tensors,
        })
    }

    fn has(&self, name: &str) -> bool {
        self.tensors.iter().any(|t| t.0 == name)
    }

    fn get(&self, dev: &Device, name: &str) -> Result<Array, String> {
        let (_, s, v) = self
            .tensors
            .iter()
            .find(|t| t.0 == name)
            .ok_or_else(|| format!("input tensor `{name}` is missing"))?;
        Array::from_slice(dev, v, s).map_err(|e| e.to_string())
    }

    fn opt(&self, dev: &Device, name: &str) -> Result<Option<Array>, String> {
        if self.has(name) {
            self.get(dev, name).map(Some)
        } else {
            Ok(None)
        }
    }

    fn num(&self, key: &str) -> Option<f64> {
        self.attrs.get(key).and_then(Value::as_f64)
    }

    fn flag(&self, key: &str) -> bool {
        self.attrs
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// An int or `[a, b]` attribute as a pair.
    fn pair(&self, key: &str, default: (usize, usize)) -> Result<(usize, usize), String> {
        match self.attrs.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|n| (n as usize, n as usize))
                .ok_or_else(|| format!("`{key}` is not a non-negative integer")),
            Some(Value::Array(a)) if a.len() == 2 => {
                let v: Vec<usize> = a
                    .iter()
                    .filter_map(Value::as_u64)
                    .map(|n| n as usize)
                    .collect();
                match v[..] {
                    [x, y] => Ok((x, y)),
                    _ => Err(format!("`{key}` is not a pair of integers")),
                }
            }
            Some(Value::Array(a)) if a.len() == 1 => {
                let n = a[0]
                    .as_u64()
                    .ok_or_else(|| format!("`{key}` is not an integer"))?
                    as usize;
                Ok((n, n))
            }
            _ => Err(format!("`{key}` is not an integer or a pair")),
        }
    }

    /// Runs the op; returns the computed tensors by the names the format gives them.
    pub fn run(&self, dev: &Device) -> Result<Vec<(String, Array)>, String> {
        self.run_op(dev).map_err(|e| match e {
            RunError::Case(s) => s,
            RunError::Device(e) => e.to_string(),
        })
    }

    fn run_op(&self, dev: &Device) -> Result<Vec<(String, Array)>, RunError> {
        let out = |v: Vec<(&str, Array)>| v.into_iter().map(|(n, a)| (n.to_string(), a)).collect();
        Ok(match self.op.as_str() {
            "conv2d" => {
                let (x, w, gy) = (
                    self.get(dev, "x")?,
                    self.get(dev, "weight")?,
                    self.get(dev, "grad_y")?,
                );
                let b = self.opt(dev, "bias")?;
                let o = Conv2dOptions {
                    stride: self.pair("stride", (1, 1))?,
                    padding: self.pair("padding", (0, 0))?,
                    dilation: self.pair("dilation", (1, 1))?,
                    groups: self.num("groups").unwrap_or(1.0) as usize,
                };
                let y = x.conv2d(&w, b.as_ref(), o)?;
                let gx = Array::conv2d_backward_data(&gy, &w, x.shape(), o)?;
                let gw = Array::conv2d_backward_weight(&x, &gy, w.shape(), o)?;
                let gb = gy.sum(&[0, 2, 3], false)?;
                out(vec![
                    ("y", y),
                    ("grad_x", gx),
                    ("grad_weight", gw),
                    ("grad_bias", gb),
                ])
            }
            "max_pool2d" | "avg_pool2d" => {
                let (x, gy) = (self.get(dev, "x")?, self.get(dev, "grad_y")?);
                // the format says `kernel`; torch's own keyword is `kernel_size`
                let key = if self.attrs.get("kernel").is_some() {
                    "kernel"
                } else {
                    "kernel_size"
                };
                let k = self.pair(key, (1, 1))?;
                let mut o = Pool2dOptions::new(1);
                o.kernel = k;
                o.stride = self.pair("stride", k)?;
                o.padding = self.pair("padding", (0, 0))?;
                o.dilation = self.pair("dilation", (1, 1))?;
                o.ceil_mode = self.flag("ceil_mode");
                o.count_include_pad = self
                    .attrs
                    .get("count_include_pad")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                o.divisor_override = self.num("divisor_override").map(|d| d as usize);
                if self.op == "max_pool2d" {
                    let (y, idx) = x.max_pool2d(o)?;
                    let gx = Array::max_pool2d_backward(&gy, &idx, x.shape(), o)?;
                    out(vec![("y", y), ("grad_x", gx)])
                } else {
                    let y = x.avg_pool2d(o)?;
                    let gx = Array::avg_pool2d_backward(&gy, x.shape(), o)?;
                    out(vec![("y", y), ("grad_x", gx)])
                }
            }
            "adaptive_avg_pool2d" => {
                let (x, gy) = (self.get(dev, "x")?, self.get(dev, "grad_y")?);
                let size = match (self.num("out_h"), self.num("out_w")) {
                    (Some(h), Some(w)) => (h as usize, w as usize),
                    _ => self.pair("output_size", (1, 1))?,
                };
                let y = x.adaptive_avg_pool2d(size)?;
                let gx = Array::adaptive_avg_pool2d_backward(&gy, x.shape())?;
                out(vec![("y", y), ("grad_x", gx)])
            }
            "linear" => {
                let (x, w, gy) = (
                    self.get(dev, "x")?,
                    self.get(dev, "weight")?,
                    self.get(dev, "grad_y")?,
                );
                let b = self.opt(dev, "bias")?;
                let y = x.linear(&w, b.as_ref())?;
                let g = Array::linear_backward(&x, &w, &gy)?;
                out(vec![
                    ("y", y),
                    ("grad_x", g.x),
                    ("grad_weight", g.weight),
                    ("grad_bias", g.bias),
                ])
            }
            "batch_norm2d" => self.batch_norm(dev)?,
            "cross_entropy" => {
                let (z, labels) = (self.get(dev, "logits")?, self.get(dev, "labels")?);
                let reduction = match self.attrs.get("reduction").and_then(Value::as_str) {
                    None | Some("mean") => Reduction::Mean,
                    Some("sum") => Reduction::Sum,
                    Some("none") => Reduction::None,
                    Some(r) => return Err(RunError::Case(format!("unknown reduction `{r}`"))),
                };
                let o = CrossEntropyOptions {
                    reduction,
                    label_smoothing: self.num("label_smoothing").unwrap_or(0.0) as f32,
                    ignore_index: self.num("ignore_index").unwrap_or(-100.0) as i64,
                };
                let (loss, grad) = z.cross_entropy(&labels, o)?;
                out(vec![("loss", loss), ("grad_logits", grad)])
            }
            "interpolate" | "upsample_bilinear2d" | "resize_bilinear" => {
                let mode = self
                    .attrs
                    .get("mode")
                    .and_then(Value::as_str)
                    .unwrap_or("bilinear");
                if mode != "bilinear" {
                    return Err(RunError::Case(format!(
                        "interpolate mode `{mode}` is not supported (only bilinear)"
                    )));
                }
                let (x, gy) = (self.get(dev, "x")?, self.get(dev, "grad_y")?);
                let size = match (self.num("out_h"), self.num("out_w")) {
                    (Some(h), Some(w)) => (h as usize, w as usize),
                    _ => self.pair("size", (gy.shape()[2], gy.shape()[3]))?,
                };
                let align = self.flag("align_corners");
                let y = x.resize_bilinear(size, align)?;
                let gx = Array::resize_bilinear_backward(&gy, x.shape(), align)?;
                out(vec![("y", y), ("grad_x", gx)])
            }
            "optim" => out(vec![("param_out", self.optim(dev)?)]),
            other => return Err(RunError::Case(format!("unknown op `{other}`"))),
        })
    }

    fn batch_norm(&self, dev: &Device) -> Result<Vec<(String, Array)>, RunError> {
        let x = self.get(dev, "x")?;
        let (gamma, beta) = (self.opt(dev, "gamma")?, self.opt(dev, "beta")?);
        let eps = self.num("eps").unwrap_or(1e-5) as f32;
        let named =
            |v: Vec<(&str, Array)>| v.into_iter().map(|(n, a)| (n.to_string(), a)).collect();
        if !self.flag("training") {
            let (rm, rv) = (
                self.get(dev, "running_mean")?,
                self.get(dev, "running_var")?,
            );
            let y = x.batch_norm2d_eval(gamma.as_ref(), beta.as_ref(), &rm, &rv, eps)?;
            return Ok(named(vec![("y", y)]));
        }
        let (y, stats) = x.batch_norm2d_train(gamma.as_ref(), beta.as_ref(), eps)?;
        let mut res = vec![("y", y)];
        if self.has("running_mean_in") {
            let (rm, rv) = (
                self.get(dev, "running_mean_in")?,
                self.get(dev, "running_var_in")?,
            );
            let momentum = self.num("momentum").unwrap_or(0.1) as f32;
            let (m, v) = Array::batch_norm2d_running(&rm, &rv, &stats, momentum)?;
            res.push(("running_mean_out", m));
            res.push(("running_var_out", v));
        }
        if self.has("grad_y") {
            let gy = self.get(dev, "grad_y")?;
            let g = Array::batch_norm2d_backward(&x, &gy, gamma.as_ref(), &stats)?;
            res.extend([
                ("grad_x", g.x),
                ("grad_gamma", g.gamma),
                ("grad_beta", g.beta),
            ]);
        }
        Ok(named(res))
    }

    fn optim(&self, dev: &Device) -> Result<Array, RunError> {
        let p0 = self.get(dev, "param_in")?;
        // a fresh copy, so the input tensor is not updated in place
        let p = p0.add_scalar(0.0)?;
        let grads: Vec<&str> = self
            .tensors
            .iter()
            .map(|t| t.0.as_str())
            .filter(|n| n.starts_with("grad") && n[4..].parse::<usize>().is_ok())
            .collect();
        let mut grads = grads;
        grads.sort_by_key(|n| n[4..].parse::<usize>().unwrap_or(0));
        let kind = self.attrs.get("kind").and_then(Value::as_str).unwrap_or("");
        let lr = self
            .num("lr")
            .ok_or_else(|| RunError::Case("`lr` is missing".into()))? as f32;
        let wd = self.num("weight_decay").unwrap_or(0.0) as f32;
        let maximize = self.flag("maximize");
        let zeros = || Array::zeros(dev, p.shape());
        match kind {
            "sgd" | "sgd_momentum" | "sgd_nesterov" => {
                let momentum = self.num("momentum").unwrap_or(0.0) as f32;
                let buf = if momentum != 0.0 {
                    Some(zeros()?)
                } else {
                    None
                };
                for (t, g) in grads.iter().enumerate() {
                    let s = SgdStep {
                        lr,
                        momentum,
                        dampening: self.num("dampening").unwrap_or(0.0) as f32,
                        weight_decay: wd,
                        nesterov: self.flag("nesterov") || kind == "sgd_nesterov",
                        maximize,
                        first: t == 0,
                    };
                    p.sgd_step_(&self.get(dev, g)?, buf.as_ref(), &s)?;
                }
            }
            "adam" | "adamw" => {
                let betas = self.attrs.get("betas").and_then(Value::as_array);
                let beta = |i: usize, d: f64| {
                    betas
                        .and_then(|b| b.get(i))
                        .and_then(Value::as_f64)
                        .unwrap_or(d) as f32
                };
                let amsgrad = self.flag("amsgrad");
                let (m, v) = (zeros()?, zeros()?);
                let vmax = if amsgrad { Some(zeros()?) } else { None };
                let decoupled = kind == "adamw" || self.flag("decoupled_weight_decay");
                let default_wd = if kind == "adamw" { 0.01 } else { 0.0 };
                for (t, g) in grads.iter().enumerate() {
                    let s = AdamStep {
                        lr,
                        beta1: beta(0, 0.9),
                        beta2: beta(1, 0.999),
                        eps: self.num("eps").unwrap_or(1e-8) as f32,
                        weight_decay: self.num("weight_decay").map_or(default_wd, |w| w as f32),
                        decoupled,
                        amsgrad,
                        maximize,
                        bias_correction1: 0.0,
                        bias_correction2_sqrt: 0.0,
                    }
                    .at_step(t as u64 + 1);
                    p.adam_step_(&self.get(dev, g)?, &m, &v, vmax.as_ref(), &s)?;
                }
            }
            other => return Err(RunError::Case(format!("unknown optimizer kind `{other}`"))),
        }
        Ok(p)
    }

    /// Runs the case and compares every output tensor the file holds.
    pub fn check(&self, dev: &Device) -> Report {
        let mut report = Report {
            path: self.path.clone(),
            op: Some(self.op.clone()),
            checks: Vec::new(),
            failure: None,
        };
        let got = match self.run(dev) {
            Ok(g) => g,
            Err(e) => {
                report.failure = Some(e);
                return report;
            }
        };
        let inputs = expected_outputs(&self.op);
        for (name, shape, want) in &self.tensors {
            if !inputs.contains(&name.as_str()) {
                continue;
            }
            let Some((_, a)) = got.iter().find(|(n, _)| n == name) else {
                report.failure = Some(format!("no rule computes `{name}`"));
                continue;
            };
            let tolerance = TOLERANCE * want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let error = match a.to_vec() {
                Ok(g) if a.numel() == want.len() && squeeze(a.shape()) == squeeze(shape) => g
                    .iter()
                    .zip(want)
                    .map(|(x, y)| {
                        if x.is_nan() || y.is_nan() {
                            f32::INFINITY
                        } else {
                            (x - y).abs()
                        }
                    })
                    .fold(0.0f32, f32::max),
                Ok(_) => {
                    report.failure = Some(format!(
                        "`{name}`: got shape {:?}, want {shape:?}",
                        a.shape()
                    ));
                    f32::INFINITY
                }
                Err(e) => {
                    report.failure = Some(e.to_string());
                    f32::INFINITY
                }
            };
            report.checks.push(TensorCheck {
                name: name.clone(),
                error,
                tolerance,
            });
        }
        report
    }
}

/// The tensors each op's case holds as expected results.
fn expected_outputs(op: &str) -> &'static [&'static str] {
    match op {
        "conv2d" | "linear" => &["y", "grad_x", "grad_weight", "grad_bias"],
        "batch_norm2d" => &[
            "y",
            "running_mean_out",
            "running_var_out",
            "grad_x",
            "grad_gamma",
            "grad_beta",
        ],
        "cross_entropy" => &["loss", "grad_logits"],
        "optim" => &["param_out"],
        _ => &["y", "grad_x"],
    }
}

fn squeeze(s: &[usize]) -> Vec<usize> {
    s.iter().copied().filter(|&d| d != 1).collect()
}

enum RunError {
    Case(String),
    Device(fovea_device::Error),
}

impl From<String> for RunError {
    fn from(s: String) -> Self {
        RunError::Case(s)
    }
}

impl From<fovea_device::Error> for RunError {
    fn from(e: fovea_device::Error) -> Self {
        RunError::Device(e)
    }
}

/// Runs every `*.safetensors` case in `dir` (sorted by name) on `dev`.
pub fn run_dir(dir: &Path, dev: &Device) -> DevResult<Vec<Report>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no .safetensors case files", dir.display()));
    }
    Ok(files
        .iter()
        .map(|f| match Case::load(f) {
            Ok(c) => c.check(dev),
            Err(reason) => Report {
                path: f.clone(),
                op: None,
                checks: Vec::new(),
                failure: Some(format!("malformed case file: {reason}")),
            },
        })
        .collect())
}
