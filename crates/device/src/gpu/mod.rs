//! The wgpu backend: WGSL kernels run on Vulkan, Metal, DX12, GL or the browser's WebGPU.
//!
//! Engine room: [`buffer_pool`] reuses buffers, [`kernels`] caches pipelines, and [`Engine`]
//! records every dispatch into one shared command encoder, submitted in batches; the only
//! waits are reads to the host and [`Engine::sync`]. Kernel parameters go through a uniform
//! ring (one slot per dispatch of a batch, written once at submit). The ops themselves live in
//! `ops/<op>/gpu.rs`, as methods on [`Engine`].

#[macro_use]
pub(crate) mod uniform;
pub(crate) mod buffer_pool;
pub(crate) mod kernels;
mod profile;
mod readback;
#[cfg(test)]
mod shader_tests;
pub(crate) mod strided;

use crate::error::{Error, Result};
use crate::ops::conv2d::ConvAlgo;
use buffer_pool::{BufferPool, PooledBuffer, Slice};
use kernels::{KernelKey, PipelineCache};
pub use profile::KernelTime;
use profile::Profiler;
use std::sync::{Arc, Mutex};

/// Bytes of the uniform ring; a batch that fills it is submitted early.
const UNIFORM_RING_BYTES: u64 = 64 * 1024;
/// Dispatches per submission: enough to amortise a submit, few enough to keep the GPU fed.
const MAX_BATCH: usize = 64;
/// Invocations per workgroup of the one-dimensional kernels (their `WG` override).
pub const WG: u32 = 256;
/// Elements per invocation of the elementwise kernels (`shaders/per_element.wgsl`'s `PER`).
pub(crate) const PER: u32 = 8;

/// How to pick an adapter and how the device computes, fixed when it opens (a device's
/// options never change afterwards). [`GpuOptions::from_env`] reads `FOVEA_BACKEND` and
/// `FOVEA_ADAPTER`; every other field defaults to the adapter's best choice.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Restrict to these wgpu backends (all if `None`).
    pub backends: Option<wgpu::Backends>,
    /// Case-insensitive substring the adapter's name must contain.
    pub adapter: Option<String>,
    /// How convolutions are computed (`None`: [`ConvAlgo::Im2col`], which falls back to the
    /// implicit GEMM where im2col does not fit).
    pub conv: Option<ConvAlgo>,
    /// The GEMM core variant (`None`: the subgroup core where the adapter has fixed-size
    /// subgroups of at least 8, else the plain one). Opening fails when the adapter cannot
    /// run the variant asked for.
    pub matmul: Option<MatmulKernel>,
    /// Act as if a storage binding held at most this many elements (at least 1024): drives
    /// the range-by-range paths (elementwise ops, optimizer steps, split matmul) on small
    /// arrays, for tests. Results do not change.
    pub binding_cap: Option<usize>,
    /// The GEMM core's tiling (`None`: [`MATMUL_TILE`](crate::MATMUL_TILE)), for tuning; a
    /// tile whose workgroup the adapter cannot run fails when the first GEMM compiles.
    pub matmul_tile: Option<crate::MatmulTile>,
}

impl GpuOptions {
    /// Options from `FOVEA_BACKEND` (vulkan|metal|dx12|gl|webgpu) and `FOVEA_ADAPTER`.
    pub fn from_env() -> Result<Self> {
        let backends = match std::env::var("FOVEA_BACKEND")
            .ok()
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => None,
            Some(b) => Some(match b.as_str() {
                "vulkan" => wgpu::Backends::VULKAN,
                "metal" => wgpu::Backends::METAL,
                "dx12" => wgpu::Backends::DX12,
                "gl" | "gles" => wgpu::Backends::GL,
                "webgpu" => wgpu::Backends::BROWSER_WEBGPU,
                other => {
                    return Err(Error::NoAdapter(format!(
                        "FOVEA_BACKEND={other} is not one of vulkan, metal, dx12, gl, webgpu"
                    )))
                }
            }),
        };
        let adapter = std::env::var("FOVEA_ADAPTER")
            .ok()
            .filter(|s| !s.is_empty());
        Ok(Self {
            backends,
            adapter,
            ..Self::default()
        })
    }
}

/// One adapter wgpu can see, as `fovea info` lists it.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    /// The adapter's name, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub name: String,
    /// The API it runs on.
    pub backend: wgpu::Backend,
    /// Discrete, integrated, virtual, software (`Cpu`) or other.
    pub device_type: wgpu::DeviceType,
    /// Driver name and version.
    pub driver: String,
}

impl AdapterSummary {
    /// Whether this adapter renders in software on the CPU (llvmpipe, SwiftShader, WARP):
    /// slower than Fovea's own CPU backend, so never preferred over it.
    pub fn is_software(&self) -> bool {
        self.device_type == wgpu::DeviceType::Cpu
    }
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({:?}, {:?}; driver {})",
            self.name, self.backend, self.device_type, self.driver
        )
    }
}

/// Every adapter the options allow (`backends`, `adapter` name filter), in wgpu's order.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) async fn list_adapters(opts: &GpuOptions) -> Vec<AdapterSummary> {
    let backends = opts.backends.unwrap_or(wgpu::Backends::all());
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    let want = opts.adapter.as_deref().map(str::to_lowercase);
    instance
        .enumerate_adapters(backends)
        .await
        .into_iter()
        .map(|a| {
            let i = a.get_info();
            AdapterSummary {
                name: i.name,
                backend: i.backend,
                device_type: i.device_type,
                driver: format!("{} {}", i.driver, i.driver_info).trim().to_string(),
            }
        })
        .filter(|a| {
            want.as_ref()
                .is_none_or(|w| a.name.to_lowercase().contains(w))
        })
        .collect()
}

/// Recording state shared by all ops: the open encoder and this batch's uniform bytes.
struct Batch {
    encoder: Option<wgpu::CommandEncoder>,
    uniforms: Vec<u8>,
    dispatches: usize,
}

/// The GPU engine: device, queue, pool, pipelines and the shared encoder.
pub struct Engine {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    features: wgpu::Features,
    pub(crate) pool: Arc<BufferPool>,
    pipelines: PipelineCache,
    ring: wgpu::Buffer,
    uniform_align: usize,
    batch: Mutex<Batch>,
    error: Arc<Mutex<Option<String>>>,
    /// What the engine is recording now (a kernel, an allocation, a submission), so the
    /// first device error names the work that caused it.
    doing: Arc<Mutex<String>>,
    matmul_kernel: MatmulKernel,
    binding_cap: usize,
    conv_algo: ConvAlgo,
    matmul_tile: crate::MatmulTile,
    /// compute dispatches recorded since the device opened
    dispatched: std::sync::atomic::AtomicU64,
    profiler: Profiler,
}

/// Which variant of the GEMM core (matmul and the implicit-GEMM convolutions) the engine
/// dispatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulKernel {
    /// `gemm/core.wgsl`: plain WGSL, every adapter.
    Tiled,
    /// `gemm/core_subgroup.wgsl`: subgroup broadcasts, on adapters whose subgroups have one
    /// fixed size of at least 8 (convolutions use it where the GEMM fills its taller tile).
    Subgroup {
        /// the adapter's subgroup size
        size: u32,
    },
}

impl MatmulKernel {
    /// The best kernel for an adapter.
    fn choose(info: &wgpu::AdapterInfo, features: wgpu::Features) -> Self {
        let fixed = info.subgroup_min_size == info.subgroup_max_size && info.subgroup_min_size >= 8;
        if features.contains(wgpu::Features::SUBGROUP) && fixed {
            MatmulKernel::Subgroup {
                size: info.subgroup_min_size,
            }
        } else {
            MatmulKernel::Tiled
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("adapter", &self.info.name)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the adapter `opts` selects, with the adapter's own limits.
    pub(crate) async fn new(opts: &GpuOptions) -> Result<Self> {
        let backends = opts.backends.unwrap_or(wgpu::Backends::all());
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backends;
        let instance = wgpu::Instance::new(desc);
        let adapter = match &opts.adapter {
            Some(want) => {
                let all = instance.enumerate_adapters(backends).await;
                let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
                all.into_iter()
                    .find(|a| {
                        a.get_info()
                            .name
                            .to_lowercase()
                            .contains(&want.to_lowercase())
                    })
                    .ok_or_else(|| {
                        Error::NoAdapter(format!(
                            "no adapter name contains `{want}` (found: {names:?})"
                        ))
                    })?
            }
            None => instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference: wgpu::PowerPreference::HighPerformance,
                    ..Default::default()
                })
                .await
                .map_err(|e| Error::NoAdapter(e.to_string()))?,
        };
        let info = adapter.get_info();
        let limits = adapter.limits();
        // Optional features are enabled when the adapter has them; kernels that use them
        // are chosen at dispatch time and the plain path is always kept.
        let features = adapter.features() & (wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("fovea"),
                required_limits: limits.clone(),
                required_features: features,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoAdapter(format!("{}: {e}", info.name)))?;
        let error = Arc::new(Mutex::new(None::<String>));
        let doing = Arc::new(Mutex::new(String::from("opening the device")));
        let (sink, during) = (error.clone(), doing.clone());
        // wgpu reports validation and out-of-memory errors while the call that caused them
        // runs, so `doing` still names that kernel or allocation here.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let what = during.lock().unwrap_or_else(|p| p.into_inner()).clone();
            log::error!("wgpu, {what}: {e}");
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| format!("{what}: {e}"));
        }));
        let ring = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("fovea.uniform_ring"),
            size: UNIFORM_RING_BYTES,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let pool = BufferPool::new(
            device.clone(),
            limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size),
        );
        let matmul_kernel = match opts.matmul {
            None => MatmulKernel::choose(&info, features),
            Some(MatmulKernel::Tiled) => MatmulKernel::Tiled,
            Some(asked @ MatmulKernel::Subgroup { size }) => {
                if MatmulKernel::choose(&info, features) != asked {
                    return Err(Error::NoAdapter(format!(
                        "{}: GpuOptions.matmul asks for the subgroup GEMM core with subgroups of \
                         {size}, but this adapter's subgroups are {}..{}{}; leave it None",
                        info.name,
                        info.subgroup_min_size,
                        info.subgroup_max_size,
                        if features.contains(wgpu::Features::SUBGROUP) {
                            ""
                        } else {
                            " (no subgroup feature)"
                        }
                    )));
                }
                asked
            }
        };
        Ok(Self {
            uniform_align: limits.min_uniform_buffer_offset_alignment.max(16) as usize,
            device,
            queue,
            info,
            limits,
            features,
            pool,
            pipelines: PipelineCache::default(),
            ring,
            batch: Mutex::new(Batch {
                encoder: None,
                uniforms: Vec::new(),
                dispatches: 0,
            }),
            error,
            doing,
            matmul_kernel,
            binding_cap: opts.binding_cap.unwrap_or(usize::MAX).max(1024),
            conv_algo: opts.conv.unwrap_or(ConvAlgo::Im2col),
            matmul_tile: opts.matmul_tile.unwrap_or(crate::MATMUL_TILE),
            dispatched: Default::default(),
            profiler: Profiler::default(),
        })
    }

    /// The adapter's name, backend and type on one line.
    pub fn name(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// Whether the adapter is a CPU implementation (lavapipe, SwiftShader, WARP): one core
    /// runs a whole workgroup, lanes in SIMD registers, so workgroup barriers and per-lane
    /// memory accesses cost more than on a GPU and kernels choose accordingly.
    pub fn is_cpu_adapter(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The name plus driver and the limits that matter for kernels.
    pub fn describe(&self) -> String {
        let l = &self.limits;
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        format!(
            "{}\n  driver: {} {}\n  max buffer: {:.0} MiB, max storage binding: {:.0} MiB\n  \
             max workgroup: {} invocations, {}x{}x{}, {} KiB shared, {} workgroups per dimension\n  \
             storage buffers per stage: {}\n  optional features: shader-f16 {}, subgroups {} (sizes {}..{})\n  matmul kernel: {:?}; convolution: {:?}",
            self.name(),
            self.info.driver,
            self.info.driver_info,
            mib(l.max_buffer_size),
            mib(l.max_storage_buffer_binding_size),
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_size_x,
            l.max_compute_workgroup_size_y,
            l.max_compute_workgroup_size_z,
            l.max_compute_workgroup_storage_size / 1024,
            l.max_compute_workgroups_per_dimension,
            l.max_storage_buffers_per_shader_stage,
            yes_no(self.features.contains(wgpu::Features::SHADER_F16)),
            yes_no(self.features.contains(wgpu::Features::SUBGROUP)),
            self.info.subgroup_min_size,
            self.info.subgroup_max_size,
            self.matmul_kernel(),
            self.conv_algo(),
        )
    }

    /// The GEMM core variant in use.
    pub fn matmul_kernel(&self) -> MatmulKernel {
        self.matmul_kernel
    }

    /// The subgroup kernel, if this adapter can run it.
    pub fn subgroup_matmul(&self) -> Option<MatmulKernel> {
        match MatmulKernel::choose(&self.info, self.features) {
            k @ MatmulKernel::Subgroup { .. } => Some(k),
            MatmulKernel::Tiled => None,
        }
    }

    /// Optional features the device was opened with (`SHADER_F16`, `SUBGROUP`).
    pub fn features(&self) -> wgpu::Features {
        self.features
    }

    /// The adapter's own description (name, vendor, backend, type, driver).
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// The limits the device was opened with.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// Starts a new high-water mark of the buffer pool's bytes in use
    /// ([`buffer_pool::PoolStats::peak_in_use_bytes`]).
    pub fn reset_peak_bytes(&self) {
        self.pool.reset_peak();
    }

    /// Buffer-pool counters.
    pub fn pool_stats(&self) -> buffer_pool::PoolStats {
        self.pool.stats()
    }

    /// Number of compiled pipelines.
    pub fn pipeline_count(&self) -> usize {
        self.pipelines.len()
    }

    /// A new op output of `len` f32 elements (see [`Engine::alloc`]).
    pub(crate) fn out(&self, len: usize) -> Result<Arc<PooledBuffer>> {
        Ok(Arc::new(self.alloc(len)?))
    }

    /// A pooled buffer for `len` f32 elements, or an error naming the size and the limit when
    /// the adapter cannot hold it in one buffer. Arrays past the largest storage binding are
    /// allowed: the ops that meet them work range by range (elementwise ops, matmul, the
    /// optimizer steps) or refuse them in [`Engine::dispatch`].
    pub(crate) fn alloc(&self, len: usize) -> Result<PooledBuffer> {
        let bytes = len as u64 * 4;
        let limit = self.limits.max_buffer_size;
        if bytes > limit {
            return Err(Error::invalid(
                "alloc",
                &[len],
                format!(
                    "{:.1} MiB exceeds this adapter's largest buffer ({:.1} MiB); \
                     split the array along its first axis",
                    mib(bytes),
                    mib(limit)
                ),
            ));
        }
        self.set_doing(format_args!("allocating {:.1} MiB", mib(bytes)));
        Ok(self.pool.acquire(bytes))
    }

    /// Notes what the engine records next, for the error handler.
    fn set_doing(&self, what: std::fmt::Arguments<'_>) {
        use std::fmt::Write;
        let mut d = self.doing.lock().unwrap_or_else(|e| e.into_inner());
        d.clear();
        let _ = d.write_fmt(what);
    }

    /// How convolutions are computed ([`GpuOptions::conv`]).
    pub fn conv_algo(&self) -> ConvAlgo {
        self.conv_algo
    }

    /// Compute dispatches recorded since the device opened (for dispatches per step).
    pub fn dispatch_count(&self) -> u64 {
        self.dispatched.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Turns the kernel profiler on or off. While it is on, each dispatch and copy is
    /// submitted alone and waited for, and its wall time is kept per kernel and launch size
    /// for [`Engine::kernel_times`]. Native only: on the web this does nothing.
    pub fn set_profiling(&self, on: bool) -> Result<()> {
        self.sync()?;
        self.profiler.set(on && cfg!(not(target_arch = "wasm32")));
        Ok(())
    }

    /// The kernel times recorded while profiling, longest first; clears them.
    pub fn kernel_times(&self) -> Vec<KernelTime> {
        self.profiler.take()
    }

    /// With the profiler on: submits what `b` holds, waits, and charges the time to `what`.
    fn profile_point(&self, b: &mut Batch, what: impl FnOnce() -> String, groups: [u32; 3]) {
        if !self.profiler.is_on() {
            return;
        }
        let t = std::time::Instant::now();
        self.submit(b);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        self.profiler.add(what(), groups, t.elapsed());
    }

    /// The GEMM core's tiling this device opened with.
    pub fn matmul_tile(&self) -> crate::MatmulTile {
        self.matmul_tile
    }

    /// Elements that fit in one storage binding (or [`GpuOptions::binding_cap`]).
    pub fn max_binding_len(&self) -> usize {
        let real = (self.limits.max_storage_buffer_binding_size / 4) as usize;
        real.min(self.binding_cap)
    }

    /// Ranges `(start, len)` covering `len` elements, each small enough to bind and starting
    /// at a multiple of 1024 elements (aligned for any binding offset rule).
    pub(crate) fn ranges(&self, len: usize) -> Vec<(usize, usize)> {
        let step = (self.max_binding_len() / 1024 * 1024).max(1024);
        if len <= self.max_binding_len() {
            return vec![(0, len)];
        }
        (0..len)
            .step_by(step)
            .map(|s| (s, step.min(len - s)))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a copy of `bytes` bytes into the shared encoder.
    pub(crate) fn copy(
        &self,
        src: &wgpu::Buffer,
        src_off: u64,
        dst: &wgpu::Buffer,
        dst_off: u64,
        bytes: u64,
    ) {
        if bytes == 0 {
            return;
        }
        let mut b = self.lock();
        let enc = self.encoder(&mut b);
        enc.copy_buffer_to_buffer(src, src_off, dst, dst_off, bytes);
        self.profile_point(&mut b, || "copy".to_string(), [0; 3]);
    }

    /// Records zeroing `bytes` bytes of `buf` from `offset` (both multiples of 4): a memset
    /// in the driver, no kernel (on lavapipe 10 times faster than the fill kernel).
    pub(crate) fn clear(&self, buf: &wgpu::Buffer, offset: u64, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let mut b = self.lock();
        let enc = self.encoder(&mut b);
        enc.clear_buffer(buf, offset, Some(bytes));
        self.profile_point(&mut b, || "clear".to_string(), [0; 3]);
    }

    fn encoder<'b>(&self, b: &'b mut Batch) -> &'b mut wgpu::CommandEncoder {
        b.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("fovea.batch"),
                })
        })
    }

    /// Records one dispatch of `key` with `params` in the uniform slot and `buffers` at
    /// bindings 1.. in order. `groups` is the workgroup count; nothing is recorded if it is 0.
    pub(crate) fn dispatch(
        &self,
        key: &KernelKey,
        params: &[u8],
        buffers: &[&PooledBuffer],
        groups: [u32; 3],
    ) -> Result<()> {
        let slices: Vec<Slice> = buffers.iter().map(|b| b.whole()).collect();
        self.dispatch_slices(key, params, &slices, groups)
    }

    /// [`Engine::dispatch`] with explicit ranges. A range past the adapter's largest storage
    /// binding is refused with an error naming the kernel.
    pub(crate) fn dispatch_slices(
        &self,
        key: &KernelKey,
        params: &[u8],
        buffers: &[Slice],
        groups: [u32; 3],
    ) -> Result<()> {
        let limit = self.limits.max_storage_buffer_binding_size;
        if let Some(big) = buffers.iter().find(|b| b.bytes > limit) {
            return Err(Error::invalid(
                key.shader,
                &[(big.bytes / 4) as usize],
                format!(
                    "{:.1} MiB exceeds this adapter's largest storage binding ({:.1} MiB) and \
                     this kernel cannot split it; use a smaller batch",
                    mib(big.bytes),
                    mib(limit)
                ),
            ));
        }
        if groups.contains(&0) {
            return Ok(());
        }
        self.set_doing(format_args!(
            "kernel `{}` entry `{}` ({} workgroups)",
            key.shader,
            key.entry,
            groups.iter().map(|&g| g as u64).product::<u64>()
        ));
        let pipeline = self.pipelines.get(&self.device, key);
        let mut b = self.lock();
        let size = params.len().next_multiple_of(16);
        let mut offset = b.uniforms.len().next_multiple_of(self.uniform_align);
        if (offset + size) as u64 > UNIFORM_RING_BYTES {
            self.submit(&mut b);
            offset = 0;
        }
        b.uniforms.resize(offset, 0);
        b.uniforms.extend_from_slice(params);
        b.uniforms.resize(offset + size, 0);
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &self.ring,
                offset: offset as u64,
                size: std::num::NonZeroU64::new(size as u64),
            }),
        }];
        entries.extend(
            buffers
                .iter()
                .enumerate()
                .map(|(i, buf)| wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: buf.binding(),
                }),
        );
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(key.shader),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        {
            let enc = self.encoder(&mut b);
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(key.shader),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        }
        b.dispatches += 1;
        self.dispatched
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.profile_point(&mut b, || format!("{}.{}", key.shader, key.entry), groups);
        if b.dispatches >= MAX_BATCH {
            self.submit(&mut b);
        }
        Ok(())
    }

    /// Workgroup counts covering `invocations` one-dimensional work items of [`WG`] each,
    /// folded into a second dimension past the per-dimension limit.
    pub(crate) fn groups_1d(&self, invocations: usize) -> [u32; 3] {
        self.groups_flat(invocations.div_ceil(WG as usize))
    }

    /// Workgroup counts for an elementwise kernel over `len` elements, `PER` per invocation.
    pub(crate) fn groups_per_element(&self, len: usize) -> [u32; 3] {
        self.groups_1d(len.div_ceil(PER as usize))
    }

    /// Workgroup counts for `count` workgroups, folded into a second dimension past the
    /// per-dimension limit.
    pub(crate) fn groups_flat(&self, count: usize) -> [u32; 3] {
        let max = self.limits.max_compute_workgroups_per_dimension as usize;
        if count <= max {
            [count as u32, 1, 1]
        } else {
            [max as u32, count.div_ceil(max) as u32, 1]
        }
    }

    fn submit(&self, b: &mut Batch) {
        if let Some(enc) = b.encoder.take() {
            self.set_doing(format_args!(
                "submitting {} recorded dispatches",
                b.dispatches
            ));
            if !b.uniforms.is_empty() {
                self.queue.write_buffer(&self.ring, 0, &b.uniforms);
            }
            self.queue.submit([enc.finish()]);
        }
        b.uniforms.clear();
        b.dispatches = 0;
    }

    /// Submits everything recorded so far without waiting.
    pub fn flush(&self) {
        let mut b = self.lock();
        self.submit(&mut b);
    }

    /// The first error the device reported, if any (validation, out of memory).
    pub(crate) fn take_error(&self) -> Result<()> {
        match self.error.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(e) => Err(Error::Gpu(e)),
            None => Ok(()),
        }
    }

    /// Submits and waits for the GPU to finish (native only; a no-op wait on the web).
    pub fn sync(&self) -> Result<()> {
        self.flush();
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
        self.take_error()
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// A device of its own: the provoked error must not reach other tests' device.
    fn engine() -> crate::Device {
        pollster::block_on(crate::Device::new_gpu(&GpuOptions::default()))
            .expect("a GPU adapter (install mesa-vulkan-drivers for lavapipe)")
    }

    #[test]
    fn a_validation_error_names_the_kernel_that_caused_it() {
        let dev = engine();
        let e = dev.engine().expect("a GPU device");
        let key = KernelKey::new("fill", &[("WG", WG as f64)]);
        // `fill` binds its output at binding 1; leaving it out fails bind-group validation.
        e.dispatch(&key, &[0u8; 16], &[], [1, 1, 1])
            .expect("recording succeeds; the device reports the error");
        let err = e
            .sync()
            .expect_err("the device reports the invalid dispatch")
            .to_string();
        assert!(
            err.contains("kernel `fill` entry `main`"),
            "the error should name the kernel: {err}"
        );
    }

    #[test]
    fn cached_buffers_left_idle_are_freed_and_the_steady_state_is_kept() {
        let dev = engine();
        let pool = &dev.engine().expect("a GPU device").pool;
        drop(pool.acquire(1 << 20)); // a size used once, like a test pass's batch
        assert_eq!(pool.stats().free_bytes, 1 << 20);
        let kept = pool.acquire(64 << 10); // a buffer alive throughout, like a weight
        for _ in 0..buffer_pool::IDLE_ACQUIRES + buffer_pool::SWEEP_EVERY {
            drop(pool.acquire(4096)); // the steady state: taken and returned every step
        }
        let st = pool.stats();
        assert_eq!(
            st.free_bytes, 4096,
            "only the steady-state buffer stays cached: {st:?}"
        );
        assert_eq!(st.in_use_bytes, 64 << 10, "{st:?}");
        assert_eq!(st.freed, 1, "{st:?}");
        drop(kept);
        pool.trim();
        assert_eq!(pool.stats().free_bytes, 0);
    }
}
