//! Size-bucketed pool of storage buffers: a dropped array's buffer is kept for reuse, not freed.
//!
//! Buckets are powers of two (at least [`MIN_BUCKET`] bytes). Reuse is safe without waiting for
//! the GPU because every write to a buffer is encoded in the same queue order as the reads
//! that came before it (uploads go through a copy in the shared encoder, not `write_buffer`).
//!
//! Memory stays flat: a cached buffer that no request has taken for [`IDLE_ACQUIRES`]
//! acquisitions is freed (a least-recently-used trim, swept every [`SWEEP_EVERY`]), so shapes
//! seen once (a test pass, a visualization, the last short batch) do not stay cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Smallest bucket, in bytes.
pub const MIN_BUCKET: u64 = 256;

/// A cached buffer is freed once this many acquisitions pass without it being reused. A
/// training step makes tens to hundreds, so buffers of the steady state are never trimmed.
pub const IDLE_ACQUIRES: u64 = 4096;

/// Acquisitions between two sweeps of the free lists.
pub const SWEEP_EVERY: u64 = 256;

/// Buffers usable by every kernel, copy source and destination.
pub const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Counters for tests, `describe` and `fovea train`'s per-epoch memory line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// buffers created on the device
    pub created: u64,
    /// requests served from the free lists
    pub reused: u64,
    /// cached buffers freed after sitting idle (or by [`BufferPool::trim`])
    pub freed: u64,
    /// bytes held in the free lists now
    pub free_bytes: u64,
    /// bytes on loan to live arrays now
    pub in_use_bytes: u64,
    /// the most bytes on loan at once since the pool opened or [`BufferPool::reset_peak`]
    pub peak_in_use_bytes: u64,
}

impl PoolStats {
    /// Bytes the pool holds on the device: in use plus cached.
    pub fn total_bytes(&self) -> u64 {
        self.in_use_bytes + self.free_bytes
    }
}

/// Free lists per bucket size, each buffer with the acquisition count when it was returned.
#[derive(Debug, Default)]
struct State {
    free: HashMap<u64, Vec<(wgpu::Buffer, u64)>>,
    stats: PoolStats,
    acquires: u64,
}

impl State {
    /// Frees every cached buffer returned before acquisition `before`.
    fn free_idle(&mut self, before: u64) {
        let mut freed = (0u64, 0u64);
        for list in self.free.values_mut() {
            // Dropping a buffer frees it once no submitted work still uses it.
            list.retain(|(b, at)| {
                let keep = *at >= before;
                if !keep {
                    freed.0 += 1;
                    freed.1 += b.size();
                }
                keep
            });
        }
        self.free.retain(|_, l| !l.is_empty());
        self.stats.freed += freed.0;
        self.stats.free_bytes -= freed.1;
    }
}

/// The pool: free lists per bucket size.
#[derive(Debug)]
pub struct BufferPool {
    device: wgpu::Device,
    max_bucket: u64,
    state: Mutex<State>,
}

/// A buffer on loan from the pool; it goes back to its free list when dropped.
#[derive(Debug)]
pub struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    bytes: u64,
    pool: Arc<BufferPool>,
}

impl PooledBuffer {
    /// The wgpu buffer (its size is the bucket's, at least what was asked for).
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buffer
            .as_ref()
            .expect("a pooled buffer holds its buffer until dropped")
    }

    /// The bytes asked for (a multiple of 4, at least 4): what kernels bind.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The whole requested range, so a bucket's slack never counts against the adapter's
    /// maximum binding size.
    pub fn whole(&self) -> Slice<'_> {
        Slice {
            buf: self,
            offset: 0,
            bytes: self.bytes,
        }
    }

    /// Elements `start .. start + len` (f32), for kernels that work range by range on an
    /// array larger than one binding.
    pub fn slice(&self, start: usize, len: usize) -> Slice<'_> {
        Slice {
            buf: self,
            offset: start as u64 * 4,
            bytes: (len as u64 * 4).max(4),
        }
    }
}

/// A byte range of a pooled buffer, bound to one kernel slot.
#[derive(Clone, Copy, Debug)]
pub struct Slice<'a> {
    /// the buffer
    pub buf: &'a PooledBuffer,
    /// first byte
    pub offset: u64,
    /// bytes in the range
    pub bytes: u64,
}

impl Slice<'_> {
    /// The storage binding of this range.
    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: self.buf.buffer(),
            offset: self.offset,
            size: std::num::NonZeroU64::new(self.bytes),
        })
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.pool.release(b);
        }
    }
}

/// The bucket that holds `bytes`.
pub fn bucket(bytes: u64) -> u64 {
    bytes.max(MIN_BUCKET).next_power_of_two()
}

impl BufferPool {
    /// A pool for `device`. Requests whose power-of-two bucket would exceed `max_bucket`
    /// bytes get a buffer of their exact size instead.
    pub fn new(device: wgpu::Device, max_bucket: u64) -> Arc<Self> {
        Arc::new(Self {
            device,
            max_bucket,
            state: Mutex::new(Default::default()),
        })
    }

    /// A buffer of at least `bytes` bytes, reused when one is free.
    pub fn acquire(self: &Arc<Self>, bytes: u64) -> PooledBuffer {
        let bytes = bytes.max(4).next_multiple_of(4);
        let mut size = bucket(bytes);
        if size > self.max_bucket {
            size = bytes.max(MIN_BUCKET);
        }
        let reused = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.acquires += 1;
            if st.acquires.is_multiple_of(SWEEP_EVERY) {
                let before = st.acquires.saturating_sub(IDLE_ACQUIRES);
                st.free_idle(before);
            }
            let hit = st.free.get_mut(&size).and_then(Vec::pop).map(|(b, _)| b);
            if hit.is_some() {
                st.stats.reused += 1;
                st.stats.free_bytes -= size;
            } else {
                st.stats.created += 1;
            }
            st.stats.in_use_bytes += size;
            st.stats.peak_in_use_bytes = st.stats.peak_in_use_bytes.max(st.stats.in_use_bytes);
            hit
        };
        let buffer = reused.unwrap_or_else(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("fovea.pool"),
                size,
                usage: USAGE,
                mapped_at_creation: false,
            })
        });
        PooledBuffer {
            buffer: Some(buffer),
            bytes,
            pool: self.clone(),
        }
    }

    fn release(&self, b: wgpu::Buffer) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let at = st.acquires;
        st.stats.free_bytes += b.size();
        st.stats.in_use_bytes -= b.size();
        st.free.entry(b.size()).or_default().push((b, at));
    }

    /// Current counters.
    pub fn stats(&self) -> PoolStats {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stats
    }

    /// Starts a new high-water mark of bytes in use from what is in use now.
    pub fn reset_peak(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.stats.peak_in_use_bytes = st.stats.in_use_bytes;
    }

    /// Frees every idle buffer now.
    #[cfg(test)]
    pub fn trim(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let all = st.acquires + 1;
        st.free_idle(all);
    }
}
