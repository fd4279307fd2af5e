//! The WGSL sources and the pipeline cache, keyed by kernel, entry point and `override` values.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Every kernel file under `shaders/`, by name. The naga test validates each one.
pub const SHADERS: &[(&str, &str)] = &[
    ("fill", include_str!("../../../../shaders/fill.wgsl")),
    ("random", include_str!("../../../../shaders/random.wgsl")),
    ("unary", include_str!("../../../../shaders/unary.wgsl")),
    ("binary", include_str!("../../../../shaders/binary.wgsl")),
    ("select", include_str!("../../../../shaders/select.wgsl")),
    ("reduce", include_str!("../../../../shaders/reduce.wgsl")),
    ("softmax", include_str!("../../../../shaders/softmax.wgsl")),
    ("matmul", include_str!("../../../../shaders/matmul.wgsl")),
    (
        "matmul_subgroup",
        include_str!("../../../../shaders/matmul_subgroup.wgsl"),
    ),
    ("copy", include_str!("../../../../shaders/copy.wgsl")),
    (
        "conv2d_fwd_igemm",
        include_str!("../../../../shaders/conv2d_fwd_igemm.wgsl"),
    ),
    (
        "conv2d_dgrad",
        include_str!("../../../../shaders/conv2d_dgrad.wgsl"),
    ),
    (
        "conv2d_wgrad",
        include_str!("../../../../shaders/conv2d_wgrad.wgsl"),
    ),
    ("im2col", include_str!("../../../../shaders/im2col.wgsl")),
    ("pool2d", include_str!("../../../../shaders/pool2d.wgsl")),
    (
        "resize_bilinear",
        include_str!("../../../../shaders/resize_bilinear.wgsl"),
    ),
    (
        "batch_norm",
        include_str!("../../../../shaders/batch_norm.wgsl"),
    ),
    (
        "cross_entropy",
        include_str!("../../../../shaders/cross_entropy.wgsl"),
    ),
    ("sgd", include_str!("../../../../shaders/sgd.wgsl")),
    ("adam", include_str!("../../../../shaders/adam.wgsl")),
];

/// What identifies a compiled pipeline: the file, the entry point and every specialisation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KernelKey {
    /// shader name in [`SHADERS`]
    pub shader: &'static str,
    /// entry point
    pub entry: &'static str,
    /// `override` constants as (name, value bits of the f64)
    pub constants: Vec<(&'static str, u64)>,
}

impl KernelKey {
    /// A key with `main` as entry and the given overrides.
    pub fn new(shader: &'static str, constants: &[(&'static str, f64)]) -> Self {
        Self::entry(shader, "main", constants)
    }

    /// A key with a named entry point.
    pub fn entry(
        shader: &'static str,
        entry: &'static str,
        constants: &[(&'static str, f64)],
    ) -> Self {
        let constants = constants.iter().map(|&(n, v)| (n, v.to_bits())).collect();
        Self {
            shader,
            entry,
            constants,
        }
    }
}

/// Compiled modules and pipelines, created on first use and kept for the device's lifetime.
#[derive(Default)]
pub struct PipelineCache {
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<KernelKey, Arc<wgpu::ComputePipeline>>>,
}

impl PipelineCache {
    /// The pipeline for `key`, compiling it the first time.
    pub fn get(&self, device: &wgpu::Device, key: &KernelKey) -> Arc<wgpu::ComputePipeline> {
        if let Some(p) = self
            .pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
        {
            return p.clone();
        }
        let module = {
            let mut modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
            modules
                .entry(key.shader)
                .or_insert_with(|| {
                    let src = SHADERS
                        .iter()
                        .find(|(n, _)| *n == key.shader)
                        .map(|(_, s)| *s)
                        .unwrap_or_else(|| panic!("unknown kernel `{}`", key.shader));
                    if std::env::var_os("FOVEA_PRINT_WGSL").is_some() {
                        eprintln!("// ---- {}.wgsl\n{src}", key.shader);
                    }
                    let desc = wgpu::ShaderModuleDescriptor {
                        label: Some(key.shader),
                        source: wgpu::ShaderSource::Wgsl(src.into()),
                    };
                    let mode = std::env::var("FOVEA_CHECKS").unwrap_or_default();
                    let checks = wgpu::ShaderRuntimeChecks {
                        bounds_checks: !mode.contains("nobounds"),
                        force_loop_bounding: !mode.contains("noloop"),
                        ..wgpu::ShaderRuntimeChecks::checked()
                    };
                    unsafe { device.create_shader_module_trusted(desc, checks) }
                })
                .clone()
        };
        let constants: Vec<(&str, f64)> = key
            .constants
            .iter()
            .map(|&(n, bits)| (n, f64::from_bits(bits)))
            .collect();
        let pipeline = Arc::new(
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(key.shader),
                layout: None,
                module: &module,
                entry_point: Some(key.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    // Every kernel writes its workgroup tiles before reading them.
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            }),
        );
        self.pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), pipeline.clone());
        pipeline
    }

    /// Number of pipelines compiled so far.
    pub fn len(&self) -> usize {
        self.pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Whether nothing has been compiled yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
