//! The CPU reference backend: plain loops over host memory, written to be obviously correct.
//! It is the twin every GPU kernel is tested against, not a fast path. Each op's loops live in
//! its folder (`ops/<op>/cpu.rs`); this module holds the backend and the host-memory helpers
//! they share.

use crate::error::Result;
use crate::storage::{CpuBuf, Storage};
use std::sync::{Arc, RwLock};

/// The CPU reference backend.
#[derive(Debug, Default)]
pub(crate) struct Cpu;

/// Host storage holding `v`.
pub(crate) fn store(v: Vec<f32>) -> Storage {
    Storage::Cpu(Arc::new(RwLock::new(v)))
}

/// Reads host storage (an error for a GPU buffer).
pub(crate) fn read(s: &Storage) -> Result<std::sync::RwLockReadGuard<'_, Vec<f32>>> {
    let buf: &CpuBuf = s.cpu()?;
    Ok(buf.read().unwrap_or_else(|e| e.into_inner()))
}

/// Writes host storage in place (an error for a GPU buffer).
pub(crate) fn write(s: &Storage) -> Result<std::sync::RwLockWriteGuard<'_, Vec<f32>>> {
    let buf: &CpuBuf = s.cpu()?;
    Ok(buf.write().unwrap_or_else(|e| e.into_inner()))
}

/// Offsets of every element of `shape` (row-major order) under each stride vector.
///
/// The offsets of the outer dimensions advance like an odometer; the innermost dimension is
/// a tight loop.
pub(crate) fn strided_offsets(shape: &[usize], strides: &[&[usize]]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    let mut out = vec![Vec::with_capacity(n); strides.len()];
    if n == 0 {
        return out;
    }
    let Some((&inner, outer)) = shape.split_last() else {
        out.iter_mut().for_each(|o| o.push(0));
        return out;
    };
    let mut idx = vec![0usize; outer.len()];
    let mut cur = vec![0usize; strides.len()];
    for _ in 0..n / inner {
        for ((o, &c), s) in out.iter_mut().zip(&cur).zip(strides) {
            let step = s[outer.len()];
            o.extend((0..inner).map(|j| c + j * step));
        }
        for d in (0..outer.len()).rev() {
            idx[d] += 1;
            if idx[d] < outer[d] {
                for (c, s) in cur.iter_mut().zip(strides) {
                    *c += s[d];
                }
                break;
            }
            idx[d] = 0;
            for (c, s) in cur.iter_mut().zip(strides) {
                *c -= s[d] * (outer[d] - 1);
            }
        }
    }
    out
}

/// Whether `strides` are the row-major strides of `shape` (ignoring size-1 dimensions).
pub(crate) fn is_contiguous(shape: &[usize], strides: &[usize]) -> bool {
    let mut expect = 1;
    for (&d, &s) in shape.iter().zip(strides).rev() {
        if d != 1 && s != expect {
            return false;
        }
        expect *= d;
    }
    true
}

impl Cpu {
    pub(crate) fn name(&self) -> String {
        "CPU reference (plain loops)".into()
    }

    pub(crate) fn describe(&self) -> String {
        format!("{}\n  backend: host memory, single thread", self.name())
    }

    pub(crate) fn upload(&self, data: &[f32]) -> Result<Storage> {
        Ok(store(data.to_vec()))
    }

    pub(crate) fn download(&self, x: &Storage, len: usize) -> Result<Vec<f32>> {
        Ok(read(x)?[..len].to_vec())
    }
}
