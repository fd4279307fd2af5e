//! safetensors checkpoints with PyTorch `state_dict` names, so files move between Fovea and
//! PyTorch (`safetensors.torch.save_file(model.state_dict(), path)`) both ways.
//!
//! Loading validates every name and shape before touching the module, and reports every
//! mismatch at once. Saving writes a temporary file beside the target and renames it over,
//! so a crash never leaves a half-written checkpoint in place.

use crate::error::{Error, Result, StateDictMismatch};
use crate::module::ModuleExt;
use fovea_device::{Array, Device};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One named tensor read from a file: shape and values as f32.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// the `state_dict` name
    pub name: String,
    /// the shape
    pub shape: Vec<usize>,
    /// the values, converted to f32
    pub data: Vec<f32>,
}

fn ck(path: &Path, msg: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn decode(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    fn chunks<const N: usize>(b: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        b.chunks_exact(N)
            .map(|c| c.try_into().expect("exact chunk"))
    }
    Some(match dtype {
        Dtype::F32 => chunks::<4>(bytes).map(f32::from_le_bytes).collect(),
        Dtype::F64 => chunks::<8>(bytes)
            .map(|c| f64::from_le_bytes(c) as f32)
            .collect(),
        Dtype::I64 => chunks::<8>(bytes)
            .map(|c| i64::from_le_bytes(c) as f32)
            .collect(),
        Dtype::I32 => chunks::<4>(bytes)
            .map(|c| i32::from_le_bytes(c) as f32)
            .collect(),
        Dtype::BF16 => chunks::<2>(bytes)
            .map(|c| f32::from_bits((u16::from_le_bytes(c) as u32) << 16))
            .collect(),
        _ => return None,
    })
}

/// Says which tensor a broken file breaks, reading the header as far as it goes.
fn diagnose(bytes: &[u8]) -> Option<String> {
    let Some(head) = bytes.get(..8) else {
        return Some(format!(
            "the file has {} bytes, fewer than the 8-byte header length",
            bytes.len()
        ));
    };
    let n = u64::from_le_bytes(head.try_into().ok()?) as usize;
    let Some(header) = 8usize.checked_add(n).and_then(|end| bytes.get(8..end)) else {
        return Some(format!(
            "the header should be {n} bytes but the file ends after {}",
            bytes.len() - 8
        ));
    };
    let json: serde_json::Value = match serde_json::from_slice(header) {
        Ok(v) => v,
        Err(e) => return Some(format!("the header is not valid JSON ({e})")),
    };
    let have = bytes.len() - 8 - n;
    let mut entries: Vec<(String, usize, usize, Vec<usize>, String)> = Vec::new();
    for (name, info) in json.as_object()? {
        if name == "__metadata__" {
            continue;
        }
        let off = info.get("data_offsets")?.as_array()?;
        let (s, e) = (
            off.first()?.as_u64()? as usize,
            off.get(1)?.as_u64()? as usize,
        );
        let shape = info
            .get("shape")?
            .as_array()?
            .iter()
            .map(|d| d.as_u64().map(|d| d as usize))
            .collect::<Option<Vec<_>>>()?;
        let dtype = info.get("dtype")?.as_str()?.to_string();
        entries.push((name.clone(), s, e, shape, dtype));
    }
    entries.sort_by_key(|e| e.1);
    for (name, s, e, shape, dtype) in &entries {
        let width = match dtype.as_str() {
            "F64" | "I64" | "U64" => 8,
            "F32" | "I32" | "U32" => 4,
            "F16" | "BF16" | "I16" | "U16" => 2,
            _ => 1,
        };
        let need = shape
            .iter()
            .try_fold(width, |a: usize, d| a.checked_mul(*d));
        if e < s || Some(e - s) != need {
            return Some(format!(
                "tensor {name} declares shape {shape:?} of {dtype} but a byte range of {}",
                e.saturating_sub(*s)
            ));
        }
        if *e > have {
            return Some(format!(
                "tensor {name} needs bytes {s}..{e} of the data but the file holds only {have}"
            ));
        }
    }
    None
}

/// Reads every tensor of a safetensors file (F32, F64, BF16, I64 and I32 are converted to
/// f32), refusing a truncated or corrupt file with its path and the reason.
pub fn read_safetensors(path: &Path) -> Result<Vec<NamedTensor>> {
    let bytes = std::fs::read(path).map_err(|e| {
        ck(
            path,
            format!("cannot read: {e}; check the path of the safetensors file"),
        )
    })?;
    parse_safetensors(&bytes, &path.display().to_string())
}

/// [`read_safetensors`] on bytes already in memory (an upload in the browser); `what`
/// names them in errors, like a path.
pub fn parse_safetensors(bytes: &[u8], what: &str) -> Result<Vec<NamedTensor>> {
    let path = Path::new(what);
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        let why = diagnose(bytes).unwrap_or_else(|| e.to_string());
        ck(
            path,
            format!("not a valid safetensors file: {why}; it is truncated or corrupted, so save or download it again"),
        )
    })?;
    let mut out = Vec::with_capacity(st.len());
    for (name, view) in st.tensors() {
        let data = decode(view.dtype(), view.data()).ok_or_else(|| {
            ck(
                path,
                format!(
                    "tensor {name} has dtype {:?}; Fovea reads F32, F64, BF16, I64 and I32 (convert it with tensor.float() before saving)",
                    view.dtype()
                ),
            )
        })?;
        out.push(NamedTensor {
            name,
            shape: view.shape().to_vec(),
            data,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Which names loading skipped (non-strict mode).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// in the module, not in the file (left as they were)
    pub missing: Vec<String>,
    /// in the file, not in the module (ignored)
    pub unexpected: Vec<String>,
}

/// Loads `state` (name, shape, values) into `module` in place. Every name and shape is
/// checked first; nothing changes unless all fit. `strict` also refuses missing and
/// unexpected names (`load_state_dict(strict=True)`); a wrong shape is refused either way.
pub fn load_state(
    module: &(impl ModuleExt + ?Sized),
    state: &[NamedTensor],
    strict: bool,
    source: &str,
) -> Result<LoadReport> {
    let own: BTreeMap<String, fovea_graph::Tensor> = module.state_dict().into_iter().collect();
    let given: HashMap<&str, &NamedTensor> = state.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut bad = StateDictMismatch {
        source: source.to_string(),
        ..Default::default()
    };
    for (name, t) in &own {
        match given.get(name.as_str()) {
            None => bad.missing.push(name.clone()),
            Some(g) if g.shape != t.shape() => {
                bad.wrong_shape
                    .push((name.clone(), t.shape().to_vec(), g.shape.clone()))
            }
            Some(_) => {}
        }
    }
    let mut unexpected: Vec<String> = state
        .iter()
        .filter(|t| !own.contains_key(&t.name))
        .map(|t| t.name.clone())
        .collect();
    unexpected.sort();
    bad.unexpected = unexpected;
    let fatal = !bad.wrong_shape.is_empty() || (strict && !bad.is_empty());
    if fatal {
        return Err(bad.into());
    }
    for (name, t) in &own {
        if let Some(g) = given.get(name.as_str()) {
            let device: Device = t.device();
            t.set_data(Array::from_slice(&device, &g.data, &g.shape)?)?;
        }
    }
    Ok(LoadReport {
        missing: bad.missing,
        unexpected: bad.unexpected,
    })
}

/// The module's state as safetensors bytes: f32 little-endian, `num_batches_tracked` as
/// int64 like PyTorch, metadata `{"format": "pt"}`. Deterministic: the same state gives the
/// same bytes. Native; the browser uses [`state_bytes_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn state_bytes(module: &(impl ModuleExt + ?Sized)) -> Result<Vec<u8>> {
    fovea_device::block_on(state_bytes_async(module))
}

/// [`state_bytes`] through the async read path (every target).
pub async fn state_bytes_async(module: &(impl ModuleExt + ?Sized)) -> Result<Vec<u8>> {
    let named = module
        .state_dict()
        .into_iter()
        .map(|(name, t)| (name, t.array()))
        .collect();
    tensors_bytes(&read_named(named).await?)
}

/// Copies named device arrays to the host (one async read each).
pub async fn read_named(arrays: Vec<(String, Array)>) -> Result<Vec<NamedTensor>> {
    let mut out = Vec::with_capacity(arrays.len());
    for (name, a) in arrays {
        out.push(NamedTensor {
            data: a.to_vec_async().await?,
            shape: a.shape().to_vec(),
            name,
        });
    }
    Ok(out)
}

/// Named tensors as safetensors bytes (f32; names ending in `num_batches_tracked` or
/// `.step` as int64), metadata `{"format": "pt"}`.
pub fn tensors_bytes(tensors: &[NamedTensor]) -> Result<Vec<u8>> {
    let mut encoded: Vec<(&str, Dtype, Vec<u8>)> = Vec::new();
    for t in tensors {
        let (dtype, bytes) = if t.name.ends_with("num_batches_tracked") || t.name.ends_with(".step")
        {
            let b = t
                .data
                .iter()
                .flat_map(|v| (v.round() as i64).to_le_bytes())
                .collect();
            (Dtype::I64, b)
        } else {
            (
                Dtype::F32,
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        };
        encoded.push((&t.name, dtype, bytes));
    }
    let views = encoded
        .iter()
        .zip(tensors)
        .map(|((n, d, b), t)| {
            safetensors::tensor::TensorView::new(*d, t.shape.clone(), b).map(|v| (n.to_string(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Checkpoint {
            path: "<memory>".into(),
            msg: e.to_string(),
        })?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::tensor::serialize(views, Some(meta)).map_err(|e| Error::Checkpoint {
        path: "<memory>".into(),
        msg: e.to_string(),
    })
}

/// Saves the module's state to `path` (atomically).
#[cfg(not(target_arch = "wasm32"))]
pub fn save_safetensors(module: &(impl ModuleExt + ?Sized), path: &Path) -> Result<()> {
    fovea_io::write_atomic(path, &state_bytes(module)?).map_err(|e| ck(path, fovea_io::reason(&e)))
}

/// Loads the module's state from `path`, strict or not (see [`load_state`]).
pub fn load_safetensors(
    module: &(impl ModuleExt + ?Sized),
    path: &Path,
    strict: bool,
) -> Result<LoadReport> {
    let state = read_safetensors(path)?;
    load_state(
        module,
        &state,
        strict,
        &format!("checkpoint {}", path.display()),
    )
}
