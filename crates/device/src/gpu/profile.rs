//! A kernel profiler for finding where a step's time goes: while it is on, every dispatch
//! and copy is submitted on its own and waited for, and the wall time is summed per kernel
//! and launch size. It serialises the GPU, so totals are slower than a normal run; read the
//! shares. Native only (the web cannot wait for the GPU).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Time spent in one kernel at one launch size while profiling.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// `shader.entry`, or `copy` for buffer copies
    pub kernel: String,
    /// workgroups launched (x, y, z); zero for copies
    pub groups: [u32; 3],
    /// launches recorded
    pub calls: u64,
    /// wall time summed over the launches
    pub time: Duration,
}

/// Launches and summed time, per kernel and launch size.
type Times = HashMap<(String, [u32; 3]), (u64, Duration)>;

/// The profiler's state inside the engine.
#[derive(Default)]
pub(crate) struct Profiler {
    on: std::sync::atomic::AtomicBool,
    times: Mutex<Times>,
}

impl Profiler {
    pub(crate) fn is_on(&self) -> bool {
        self.on.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn set(&self, on: bool) {
        self.on.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn add(&self, kernel: String, groups: [u32; 3], time: Duration) {
        let mut t = self.times.lock().unwrap_or_else(|e| e.into_inner());
        let e = t.entry((kernel, groups)).or_default();
        e.0 += 1;
        e.1 += time;
    }

    /// The times recorded so far, longest first; clears them.
    pub(crate) fn take(&self) -> Vec<KernelTime> {
        let mut t = self.times.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<KernelTime> = t
            .drain()
            .map(|((kernel, groups), (calls, time))| KernelTime {
                kernel,
                groups,
                calls,
                time,
            })
            .collect();
        out.sort_by(|a, b| b.time.cmp(&a.time).then(a.kernel.cmp(&b.kernel)));
        out
    }
}
