//! The CPU reference backend: plain loops over host memory, written to be obviously correct.
//! It is the twin every GPU kernel is tested against, not a fast path. Each op's loops live in
//! its folder (`ops/<op>/cpu.rs`); this module holds the backend and the host-memory helpers
//! they share.

use crate::error::Result;
use crate::storage::{CpuBuf, HostVec, Storage};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// The CPU reference backend.
#[derive(Debug, Default)]
pub(crate) struct Cpu;

/// Host storage holding `v`.
pub(crate) fn store(v: Vec<f32>) -> Storage {
    Storage::Cpu(Arc::new(RwLock::new(HostVec(v))))
}

/// Reads host storage (an error for a GPU buffer).
pub(crate) fn read(s: &Storage) -> Result<std::sync::RwLockReadGuard<'_, HostVec>> {
    let buf: &CpuBuf = s.cpu()?;
    Ok(buf.read().unwrap_or_else(|e| e.into_inner()))
}

/// Writes host storage in place (an error for a GPU buffer).
pub(crate) fn write(s: &Storage) -> Result<std::sync::RwLockWriteGuard<'_, HostVec>> {
    let buf: &CpuBuf = s.cpu()?;
    Ok(buf.write().unwrap_or_else(|e| e.into_inner()))
}

/// Vectors of arrays that were dropped, by length, kept for the next op of that length:
/// a training step makes the same sizes every step, and fresh large allocations cost page
/// faults. Like an allocator's free lists, it never changes a result.
struct Spare {
    by_len: HashMap<usize, Vec<Vec<f32>>>,
    bytes: usize,
}

static SPARE: Mutex<Option<Spare>> = Mutex::new(None);

/// Most bytes kept in spare vectors.
const SPARE_BYTES: usize = 256 << 20;

/// Shortest vector worth keeping (smaller ones are cheap to allocate).
const SPARE_MIN_LEN: usize = 1 << 12;

/// Keeps `v` for reuse when it is worth it and the spare vectors have room.
pub(crate) fn recycle(v: Vec<f32>) {
    let len = v.len();
    if len < SPARE_MIN_LEN || len != v.capacity() {
        return;
    }
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    let spare = spare.get_or_insert_with(|| Spare {
        by_len: HashMap::new(),
        bytes: 0,
    });
    if spare.bytes + len * 4 <= SPARE_BYTES {
        spare.bytes += len * 4;
        spare.by_len.entry(len).or_default().push(v);
    }
}

/// A vector of `len` values for an op to overwrite entirely (a spare one when there is
/// one; its contents are unspecified).
pub(crate) fn output(len: usize) -> Vec<f32> {
    if len >= SPARE_MIN_LEN {
        let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(spare) = spare.as_mut() {
            if let Some(v) = spare.by_len.get_mut(&len).and_then(Vec::pop) {
                spare.bytes -= len * 4;
                return v;
            }
        }
    }
    vec![0.0; len]
}

/// A vector of `len` copies of `value`.
pub(crate) fn filled(len: usize, value: f32) -> Vec<f32> {
    let mut v = output(len);
    v.fill(value);
    v
}

/// Calls `row(first, bases)` for each innermost row of `shape` in row-major order: `first`
/// is the row's first element, `bases[k]` its first offset under `strides[k]`; along the row,
/// operand `k` advances by its last stride. The outer offsets advance like an odometer.
pub(crate) fn strided_rows(
    shape: &[usize],
    strides: &[&[usize]],
    mut row: impl FnMut(usize, &[usize]),
) {
    let n: usize = shape.iter().product();
    if n == 0 {
        return;
    }
    let Some((&inner, outer)) = shape.split_last() else {
        row(0, &vec![0; strides.len()]);
        return;
    };
    let mut idx = vec![0usize; outer.len()];
    let mut cur = vec![0usize; strides.len()];
    for r in 0..n / inner {
        row(r * inner, &cur);
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

/// Runs `f(index, chunk)` on `data` cut into chunks of `chunk` elements: on rayon's pool
/// natively, in order on the calling thread in wasm.
pub(crate) fn par_chunks<T: Send>(
    data: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) + Send + Sync,
) {
    let chunk = chunk.max(1);
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    }
    #[cfg(target_arch = "wasm32")]
    data.chunks_mut(chunk)
        .enumerate()
        .for_each(|(i, c)| f(i, c));
}

/// [`par_chunks`] over two slices cut alike (`chunk` elements of each per index).
pub(crate) fn par_chunks2<T: Send>(
    a: &mut [T],
    b: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T], &mut [T]) + Send + Sync,
) {
    let chunk = chunk.max(1);
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        a.par_chunks_mut(chunk)
            .zip(b.par_chunks_mut(chunk))
            .enumerate()
            .for_each(|(i, (x, y))| f(i, x, y));
    }
    #[cfg(target_arch = "wasm32")]
    a.chunks_mut(chunk)
        .zip(b.chunks_mut(chunk))
        .enumerate()
        .for_each(|(i, (x, y))| f(i, x, y));
}

/// Items summed into one partial result by [`par_sum`].
const SUM_CHUNK: usize = 8;

/// The elementwise sum over `items` of what `f(item, acc)` adds into a zeroed `acc` of `len`
/// values. Fixed runs of items share a partial sum, computed on any core, and the partials
/// are added in order: the result is the same bit for bit whatever the number of threads, so
/// training stays reproducible.
pub(crate) fn par_sum(
    items: usize,
    len: usize,
    f: impl Fn(usize, &mut [f32]) + Send + Sync,
) -> Vec<f32> {
    let parts = items.div_ceil(SUM_CHUNK).max(1);
    let mut partial = vec![0.0f32; parts * len];
    par_chunks(&mut partial, len, |c, acc| {
        for i in c * SUM_CHUNK..items.min((c + 1) * SUM_CHUNK) {
            f(i, acc);
        }
    });
    let mut parts = partial.chunks(len.max(1));
    let mut out = parts.next().map(<[f32]>::to_vec).unwrap_or_default();
    for p in parts {
        out.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    out.resize(len, 0.0);
    out
}

/// How many cores the CPU backend spreads work over (1 in wasm).
pub(crate) fn cores() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    return rayon::current_num_threads();
    #[cfg(target_arch = "wasm32")]
    1
}

/// Runs `f` with this thread's scratch buffer of at least `len` values (contents
/// unspecified), reused across calls so steady-state ops do not allocate it again.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => {
            if s.len() < len {
                s.resize(len, 0.0);
            }
            f(&mut s[..len])
        }
        // in use further up this thread's stack (a task stolen while waiting): a fresh one
        Err(_) => f(&mut vec![0.0; len]),
    })
}
