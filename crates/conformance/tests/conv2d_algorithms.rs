//! PyTorch's conv2d conformance cases on the CPU reference and on the GPU with every
//! convolution algorithm.

#[path = "../../device/tests/common/mod.rs"]
mod common;

use common::conv_variants;
use fovea_device::Device;

/// PyTorch's conv2d cases (`tests/fixtures/ops/conv2d_{0,1,2}.safetensors`: padding 1,
/// the course's 5x5 layer, stride 2): forward, grad_x, grad_weight and grad_bias on the CPU
/// reference and on the GPU with each algorithm, within the format's tolerance.
#[test]
fn conv2d_matches_pytorch_on_the_reference_and_every_gpu_algorithm() {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/ops"
    ));
    let cases: Vec<fovea_conformance::Case> = (0..3)
        .map(|i| {
            let path = dir.join(format!("conv2d_{i}.safetensors"));
            fovea_conformance::Case::load(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect();
    let check = |dev: &Device, variant: &str| {
        for case in &cases {
            assert_eq!(case.op, "conv2d", "{}", case.path.display());
            let report = case.check(dev);
            let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(
                names,
                ["grad_bias", "grad_weight", "grad_x", "y"],
                "{variant}: {}",
                report.line()
            );
            assert!(report.passed(), "{variant}: {}", report.line());
        }
    };
    check(&Device::cpu(), "CPU reference");
    for (variant, dev) in conv_variants() {
        check(&dev, &format!("GPU {variant}"));
    }
}
