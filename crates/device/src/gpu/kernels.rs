//! The WGSL sources and the pipeline cache, keyed by kernel, entry point and `override` values.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A WGSL file under `shaders/`: its path there and its text.
pub type Part = (&'static str, &'static str);

/// [`Part`] of a path under `shaders/`, its text compiled in.
macro_rules! part {
    ($path:literal) => {
        ($path, include_str!(concat!("../../../../shaders/", $path)))
    };
}

const CONV_PARAMS: Part = part!("conv2d/params.wgsl");
const CONV_FWD: Part = part!("conv2d/fwd_igemm.wgsl");
const CONV_DGRAD: Part = part!("conv2d/dgrad.wgsl");
const CONV_WGRAD: Part = part!("conv2d/wgrad.wgsl");
const CONV_TAP: Part = part!("conv2d/tap.wgsl");
const MATMUL: Part = part!("matmul/operands.wgsl");
const MATMUL_STORE: Part = part!("matmul/store.wgsl");
const MATMUL_BIAS: Part = part!("matmul/bias.wgsl");
const MATMUL_STORE_BIAS: Part = part!("matmul/store_bias.wgsl");
const MATMUL_STORE_BIAS_RELU: Part = part!("matmul/store_bias_relu.wgsl");
const GEMM_TILES: Part = part!("gemm/tiles.wgsl");
const GEMM_CORE: Part = part!("gemm/core.wgsl");
const GEMM_CORE_SUBGROUP: Part = part!("gemm/core_subgroup.wgsl");
const GEMM_CORE_TALL: Part = part!("gemm/core_subgroup_tall.wgsl");
const GEMM_CORE_NARROW: Part = part!("gemm/core_subgroup_narrow.wgsl");
const PER_ELEMENT: Part = part!("per_element.wgsl");

/// Every kernel by name, as the files its module joins, in order. The GEMM kernels are an
/// operand file (loads), an epilogue (the store), then the one GEMM core (plain or subgroup), then its
/// tile staging, which must follow the core's `override` declarations. The naga test
/// validates each joined module.
pub const SHADERS: &[(&str, &[Part])] = &[
    ("fill", &[part!("fill.wgsl")]),
    ("random", &[part!("random.wgsl")]),
    ("unary", &[part!("unary.wgsl"), PER_ELEMENT]),
    ("binary", &[part!("binary.wgsl"), PER_ELEMENT]),
    ("select", &[part!("select.wgsl"), PER_ELEMENT]),
    ("reduce", &[part!("reduce.wgsl")]),
    ("softmax", &[part!("softmax.wgsl")]),
    ("matmul", &[MATMUL, MATMUL_STORE, GEMM_CORE, GEMM_TILES]),
    (
        "matmul_subgroup",
        &[MATMUL, MATMUL_STORE, GEMM_CORE_SUBGROUP, GEMM_TILES],
    ),
    (
        "matmul_bias",
        &[
            MATMUL,
            MATMUL_BIAS,
            MATMUL_STORE_BIAS,
            GEMM_CORE,
            GEMM_TILES,
        ],
    ),
    (
        "matmul_bias_subgroup",
        &[
            MATMUL,
            MATMUL_BIAS,
            MATMUL_STORE_BIAS,
            GEMM_CORE_SUBGROUP,
            GEMM_TILES,
        ],
    ),
    (
        "matmul_subgroup_tall",
        &[MATMUL, MATMUL_STORE, GEMM_CORE_TALL, GEMM_TILES],
    ),
    (
        "matmul_bias_subgroup_tall",
        &[
            MATMUL,
            MATMUL_BIAS,
            MATMUL_STORE_BIAS,
            GEMM_CORE_TALL,
            GEMM_TILES,
        ],
    ),
    (
        "matmul_subgroup_narrow",
        &[MATMUL, MATMUL_STORE, GEMM_CORE_NARROW, GEMM_TILES],
    ),
    (
        "matmul_bias_subgroup_narrow",
        &[
            MATMUL,
            MATMUL_BIAS,
            MATMUL_STORE_BIAS,
            GEMM_CORE_NARROW,
            GEMM_TILES,
        ],
    ),
    (
        "matmul_bias_relu",
        &[
            MATMUL,
            MATMUL_BIAS,
            MATMUL_STORE_BIAS_RELU,
            GEMM_CORE,
            GEMM_TILES,
        ],
    ),
    (
        "matmul_bias_relu_subgroup",
        &[
            MATMUL,
            MATMUL_BIAS,
            MATMUL_STORE_BIAS_RELU,
            GEMM_CORE_SUBGROUP,
            GEMM_TILES,
        ],
    ),
    (
        "matmul_bias_relu_subgroup_tall",
        &[
            MATMUL,
            MATMUL_BIAS,
            MATMUL_STORE_BIAS_RELU,
            GEMM_CORE_TALL,
            GEMM_TILES,
        ],
    ),
    (
        "matmul_bias_relu_subgroup_narrow",
        &[
            MATMUL,
            MATMUL_BIAS,
            MATMUL_STORE_BIAS_RELU,
            GEMM_CORE_NARROW,
            GEMM_TILES,
        ],
    ),
    ("copy", &[part!("copy.wgsl"), PER_ELEMENT]),
    (
        "conv2d_fwd_igemm",
        &[CONV_PARAMS, CONV_FWD, CONV_TAP, GEMM_CORE, GEMM_TILES],
    ),
    (
        "conv2d_fwd_igemm_subgroup",
        &[
            CONV_PARAMS,
            CONV_FWD,
            CONV_TAP,
            GEMM_CORE_SUBGROUP,
            GEMM_TILES,
        ],
    ),
    (
        "conv2d_dgrad",
        &[CONV_PARAMS, CONV_DGRAD, GEMM_CORE, GEMM_TILES],
    ),
    (
        "conv2d_dgrad_subgroup",
        &[CONV_PARAMS, CONV_DGRAD, GEMM_CORE_SUBGROUP, GEMM_TILES],
    ),
    (
        "conv2d_wgrad",
        &[CONV_PARAMS, CONV_WGRAD, CONV_TAP, GEMM_CORE, GEMM_TILES],
    ),
    (
        "conv2d_wgrad_subgroup",
        &[
            CONV_PARAMS,
            CONV_WGRAD,
            CONV_TAP,
            GEMM_CORE_SUBGROUP,
            GEMM_TILES,
        ],
    ),
    ("im2col", &[CONV_PARAMS, part!("conv2d/im2col.wgsl")]),
    ("pool2d", &[part!("pool2d.wgsl")]),
    ("resize_bilinear", &[part!("resize_bilinear.wgsl")]),
    ("batch_norm", &[part!("batch_norm.wgsl")]),
    ("cross_entropy", &[part!("cross_entropy.wgsl")]),
    ("sgd", &[part!("sgd.wgsl")]),
    ("adam", &[part!("adam.wgsl")]),
];

/// The WGSL module of kernel `name`: its files joined in order, each after a
/// `// ---- shaders/<path>` line (what `FOVEA_PRINT_WGSL` prints).
pub fn source(name: &str) -> Option<String> {
    let (_, parts) = SHADERS.iter().find(|(n, _)| *n == name)?;
    Some(
        parts
            .iter()
            .map(|(path, text)| format!("// ---- shaders/{path}\n{text}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

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
                    let src = source(key.shader)
                        .unwrap_or_else(|| panic!("unknown kernel `{}`", key.shader));
                    if std::env::var_os("FOVEA_PRINT_WGSL").is_some() {
                        eprintln!("// ==== kernel {}\n{src}", key.shader);
                    }
                    let desc = wgpu::ShaderModuleDescriptor {
                        label: Some(key.shader),
                        source: wgpu::ShaderSource::Wgsl(src.into()),
                    };
                    // Always with wgpu's bounds checks: no setting trades memory safety
                    // for speed.
                    device.create_shader_module(desc)
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
}
