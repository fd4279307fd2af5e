//! `Device`: a cheap, clonable handle on either the wgpu backend or the CPU reference,
//! chosen at run time like `torch.device`.

use crate::cpu::Cpu;
#[cfg(not(target_arch = "wasm32"))]
use crate::error::Error;
use crate::error::Result;
use crate::gpu::{Engine, GpuOptions};
use std::sync::{Arc, OnceLock};

/// The backend behind a device: each op's `cpu.rs` adds its methods to [`Cpu`], its `gpu.rs`
/// the same methods to [`Engine`].
pub(crate) enum Backend<'a> {
    /// the CPU reference
    Cpu(&'a Cpu),
    /// the wgpu engine
    Gpu(&'a Engine),
}

// One `Inner` exists per device, behind an `Arc`: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Inner {
    Cpu(Cpu),
    Gpu(Engine),
}

/// A compute device. Clones share the device; arrays remember the device they live on.
#[derive(Clone, Debug)]
pub struct Device {
    inner: Arc<Inner>,
}

impl PartialEq for Device {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Device {}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.inner {
            Inner::Cpu(_) => write!(f, "cpu"),
            Inner::Gpu(e) => write!(f, "gpu [{}]", e.name()),
        }
    }
}

impl Device {
    /// The process-wide CPU reference device.
    pub fn cpu() -> Device {
        static CPU: OnceLock<Device> = OnceLock::new();
        CPU.get_or_init(|| Device {
            inner: Arc::new(Inner::Cpu(Cpu)),
        })
        .clone()
    }

    /// Opens a new GPU device with explicit options (each call opens its own device).
    pub async fn new_gpu(opts: &GpuOptions) -> Result<Device> {
        Ok(Device {
            inner: Arc::new(Inner::Gpu(Engine::new(opts).await?)),
        })
    }

    /// Opens a new GPU device with explicit options, blocking (off wasm): a device whose
    /// convolution algorithm, GEMM core or binding cap differ from the default one.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn gpu_with(opts: &GpuOptions) -> Result<Device> {
        crate::block_on(Device::new_gpu(opts))
    }

    /// The process-wide default GPU device: the best adapter, or the one `FOVEA_BACKEND`
    /// and `FOVEA_ADAPTER` select. Opened on first use; later calls share it, so every
    /// pipeline compiles once per process.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn gpu() -> Result<Device> {
        static GPU: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
        GPU.get_or_init(|| {
            let opts = GpuOptions::from_env().map_err(|e| e.to_string())?;
            pollster::block_on(Device::new_gpu(&opts)).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(Error::NoAdapter)
    }

    /// The fastest device this machine has, with a one-line notice on stderr saying which
    /// and why (see [`Device::best_with_reason`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn best() -> Device {
        let (dev, why) = Device::best_with_reason();
        eprintln!("{why}");
        dev
    }

    /// The fastest device and one line saying why it was chosen: a hardware GPU when one is
    /// present; otherwise the CPU backend, since a software adapter (wgpu device type `Cpu`:
    /// llvmpipe, SwiftShader, WARP) is slower than it. `FOVEA_BACKEND` / `FOVEA_ADAPTER`
    /// narrow the adapters considered; [`Device::gpu`] opens one whatever its type.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn best_with_reason() -> (Device, String) {
        let opts = match GpuOptions::from_env() {
            Ok(o) => o,
            Err(e) => return (Device::cpu(), format!("device: CPU backend ({e})")),
        };
        let adapters = pollster::block_on(crate::gpu::list_adapters(&opts));
        if adapters.iter().any(|a| !a.is_software()) {
            return match Device::gpu() {
                Ok(d) => {
                    let why = format!("device: {} (a hardware GPU)", d.name());
                    (d, why)
                }
                Err(e) => (
                    Device::cpu(),
                    format!("device: CPU backend (the GPU did not open: {e})"),
                ),
            };
        }
        let why = if adapters.is_empty() {
            "device: CPU backend (no GPU adapter found)".to_string()
        } else {
            // One adapter often shows up once per API (llvmpipe on Vulkan and on GL).
            let mut named: Vec<(String, Vec<String>)> = Vec::new();
            for a in &adapters {
                let api = format!("{:?}", a.backend);
                match named.iter_mut().find(|(n, _)| *n == a.name) {
                    Some((_, apis)) => apis.push(api),
                    None => named.push((a.name.clone(), vec![api])),
                }
            }
            let list: Vec<String> = named
                .iter()
                .map(|(n, apis)| format!("{n} on {}", apis.join(" and ")))
                .collect();
            let (which, kind) = match named.len() {
                1 => ("the only GPU adapter", "a software renderer"),
                _ => ("the GPU adapters", "all software renderers"),
            };
            format!(
                "device: CPU backend, faster here than {which}, {}, {kind} (--device gpu uses \
                 the GPU anyway)",
                list.join("; ")
            )
        };
        (Device::cpu(), why)
    }

    /// Every GPU adapter `FOVEA_BACKEND` / `FOVEA_ADAPTER` allow (all when unset).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn adapters() -> Result<Vec<crate::gpu::AdapterSummary>> {
        let opts = GpuOptions::from_env()?;
        Ok(pollster::block_on(crate::gpu::list_adapters(&opts)))
    }

    /// Parses `gpu`, `cpu` or `best`, as the command line spells them (see
    /// [`Device::choose`] for the reason too).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_name(name: &str) -> Result<Device> {
        Device::choose(name).map(|(d, _)| d)
    }

    /// The device `name` (`gpu`, `cpu` or `best`) stands for, and one line saying which it is
    /// and why, e.g. `device: CPU backend (--device cpu)`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn choose(name: &str) -> Result<(Device, String)> {
        match name {
            "gpu" => {
                let d = Device::gpu()?;
                let why = format!("device: {} (--device gpu)", d.name());
                Ok((d, why))
            }
            "cpu" => Ok((Device::cpu(), "device: CPU backend (--device cpu)".into())),
            "best" | "auto" => Ok(Device::best_with_reason()),
            other => Err(Error::NoAdapter(format!(
                "unknown device `{other}`; use gpu, cpu or best"
            ))),
        }
    }

    /// Whether this is the CPU reference.
    pub fn is_cpu(&self) -> bool {
        matches!(&*self.inner, Inner::Cpu(_))
    }

    /// The wgpu engine, if this is a GPU device (pool statistics, limits, async reads).
    pub fn engine(&self) -> Option<&Engine> {
        match &*self.inner {
            Inner::Gpu(e) => Some(e),
            Inner::Cpu(_) => None,
        }
    }

    /// The backend implementing the ops (see [`on_backend!`](crate::on_backend)).
    pub(crate) fn backend(&self) -> Backend<'_> {
        match &*self.inner {
            Inner::Cpu(c) => Backend::Cpu(c),
            Inner::Gpu(e) => Backend::Gpu(e),
        }
    }

    /// One line: adapter name, backend and device type.
    pub fn name(&self) -> String {
        on_backend!(self, name())
    }

    /// Adapter name, backend, device type and the limits that matter.
    pub fn describe(&self) -> String {
        on_backend!(self, describe())
    }

    /// Waits for all enqueued work on this device.
    pub fn sync(&self) -> Result<()> {
        match self.backend() {
            Backend::Cpu(_) => Ok(()),
            Backend::Gpu(e) => e.sync(),
        }
    }
}
