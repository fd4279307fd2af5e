//! Opening a device in the page: WebGPU with the adapter's own limits, or Fovea's CPU
//! backend (single-threaded in wasm) with the reason it was chosen.

use crate::Result;
use fovea_device::{Device, GpuOptions};
use serde::Serialize;
use std::collections::BTreeMap;

/// Which device to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// WebGPU (a native GPU off the web), or fail saying why.
    Gpu,
    /// The CPU backend.
    Cpu,
    /// WebGPU when an adapter opens, else the CPU backend with the reason.
    Best,
}

impl Want {
    /// `"gpu"`, `"cpu"` or `"best"`, as `fovea train --device` spells them.
    pub fn parse(name: &str) -> Result<Want> {
        match name {
            "gpu" | "webgpu" => Ok(Want::Gpu),
            "cpu" => Ok(Want::Cpu),
            "best" | "" => Ok(Want::Best),
            other => Err(format!(
                "device `{other}` is not one of gpu, cpu, best; pass \"best\" to use WebGPU when \
                 the browser has it"
            )),
        }
    }
}

/// What was opened, for the page's device badge.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceReport {
    /// `"webgpu"` in a browser (the wgpu backend's name natively) or `"cpu"`
    pub backend: String,
    /// the adapter's name, or `"CPU backend"`
    pub adapter: String,
    /// wgpu's device type (`DiscreteGpu`, `Cpu` for software adapters, ...)
    pub device_type: String,
    /// whether the adapter renders in software (SwiftShader, llvmpipe): slow, correct
    pub software: bool,
    /// why the CPU backend runs when WebGPU was asked for or preferred
    pub fallback_reason: Option<String>,
    /// the limits the device was opened with (the adapter's own), by WebGPU's names
    pub limits: BTreeMap<String, u64>,
    /// the optional features enabled (`shader-f16`, `subgroups`)
    pub features: Vec<String>,
}

/// An open device and its report.
#[derive(Clone, Debug)]
pub struct Session {
    /// the device every model and array of the session lives on
    pub device: Device,
    /// what it is
    pub report: DeviceReport,
}

impl Session {
    /// Opens the device `want` asks for. `Want::Best` never fails: without WebGPU it opens
    /// the CPU backend and says why in [`DeviceReport::fallback_reason`].
    pub async fn open(want: Want) -> Result<Session> {
        if want == Want::Cpu {
            return Ok(Session::cpu(None));
        }
        match open_gpu().await {
            Ok(device) => {
                #[allow(unused_mut)]
                let mut s = Session::gpu(device);
                // Browsers may hide the adapter's name (SwiftShader's is empty): ask WebGPU's
                // own adapter info for what it does tell.
                #[cfg(target_arch = "wasm32")]
                if s.report.adapter == "WebGPU adapter" {
                    if let Some(label) = js_adapter_label().await {
                        s.report.adapter = label;
                    }
                }
                Ok(s)
            }
            Err(why) if want == Want::Best => Ok(Session::cpu(Some(why))),
            Err(why) => Err(format!(
                "{why}; open the session with device \"best\" or \"cpu\" to use the CPU backend"
            )),
        }
    }

    fn cpu(reason: Option<String>) -> Session {
        Session {
            device: Device::cpu(),
            report: DeviceReport {
                backend: "cpu".into(),
                adapter: "CPU backend".into(),
                device_type: "Cpu".into(),
                software: true,
                fallback_reason: reason,
                limits: BTreeMap::new(),
                features: Vec::new(),
            },
        }
    }

    fn gpu(device: Device) -> Session {
        let engine = device.engine().expect("a GPU device has an engine");
        let info = engine.adapter_info();
        let l = engine.limits();
        let limits = BTreeMap::from(
            [
                ("maxBufferSize", l.max_buffer_size),
                (
                    "maxStorageBufferBindingSize",
                    l.max_storage_buffer_binding_size,
                ),
                (
                    "maxComputeWorkgroupStorageSize",
                    l.max_compute_workgroup_storage_size as u64,
                ),
                (
                    "maxComputeInvocationsPerWorkgroup",
                    l.max_compute_invocations_per_workgroup as u64,
                ),
                (
                    "maxComputeWorkgroupsPerDimension",
                    l.max_compute_workgroups_per_dimension as u64,
                ),
                (
                    "maxStorageBuffersPerShaderStage",
                    l.max_storage_buffers_per_shader_stage as u64,
                ),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        let mut features = Vec::new();
        if engine.features().contains(wgpu::Features::SHADER_F16) {
            features.push("shader-f16".to_string());
        }
        if engine.features().contains(wgpu::Features::SUBGROUP) {
            features.push("subgroups".to_string());
        }
        let adapter = if info.name.is_empty() {
            "WebGPU adapter".to_string()
        } else {
            info.name.clone()
        };
        Session {
            report: DeviceReport {
                backend: match info.backend {
                    wgpu::Backend::BrowserWebGpu => "webgpu".into(),
                    other => format!("{other:?}").to_lowercase(),
                },
                adapter,
                device_type: format!("{:?}", info.device_type),
                software: info.device_type == wgpu::DeviceType::Cpu,
                fallback_reason: None,
                limits,
                features,
            },
            device,
        }
    }
}

/// The GPU device, or why there is none.
async fn open_gpu() -> std::result::Result<Device, String> {
    #[cfg(target_arch = "wasm32")]
    {
        let gpu = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
            .and_then(|n| js_sys::Reflect::get(&n, &"gpu".into()))
            .unwrap_or(wasm_bindgen::JsValue::UNDEFINED);
        if gpu.is_undefined() || gpu.is_null() {
            return Err("this browser offers no WebGPU (navigator.gpu is missing)".into());
        }
    }
    Device::new_gpu(&GpuOptions::default()).await.map_err(|e| {
        format!(
            "no WebGPU adapter opened ({e}); Chromium on Linux needs \
                 --enable-unsafe-webgpu, other browsers a recent version"
        )
    })
}

/// `"<vendor> <architecture>"` from `navigator.gpu.requestAdapter()`'s `info` (for example
/// `"google swiftshader"`), when the browser tells.
#[cfg(target_arch = "wasm32")]
async fn js_adapter_label() -> Option<String> {
    use js_sys::{Function, Promise, Reflect};
    use wasm_bindgen::JsCast;
    let get = |o: &wasm_bindgen::JsValue, k: &str| Reflect::get(o, &k.into()).ok();
    let gpu = get(&get(&js_sys::global(), "navigator")?, "gpu")?;
    let request: Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let promise: Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let info = get(&adapter, "info")?;
    let parts: Vec<String> = ["vendor", "architecture", "description"]
        .iter()
        .filter_map(|k| get(&info, k)?.as_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}
