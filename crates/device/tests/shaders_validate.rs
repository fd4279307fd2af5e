//! Parses and validates every `shaders/*.wgsl` with naga, and checks that the kernel table
//! lists every file (so no kernel escapes this test).

use fovea_device::gpu::kernels::SHADERS;

#[test]
fn every_shader_parses_and_validates() {
    for (name, src) in SHADERS {
        let module = naga::front::wgsl::parse_str(src)
            .unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(src)));
        let mut v = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::SUBGROUP | naga::valid::Capabilities::SHADER_FLOAT16,
        );
        v.validate(&module)
            .unwrap_or_else(|e| panic!("{name}.wgsl does not validate: {e:?}"));
    }
}

#[test]
fn kernel_table_covers_the_shader_folder() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shaders");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".wgsl").map(str::to_owned))
        .collect();
    files.sort();
    let mut listed: Vec<String> = SHADERS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "shaders/ and gpu::kernels::SHADERS disagree");
}

/// WGSL makes a constant expression that evaluates to NaN or infinity a shader-creation
/// error. naga accepts `bitcast<f32>(0x7fc00000u)`, but browsers' compilers (Tint) refuse
/// the shader, so NaN and infinities must come from bits held in a variable.
#[test]
fn no_shader_builds_nan_or_infinity_from_a_constant() {
    for (name, src) in SHADERS {
        for (i, line) in src.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default().replace(' ', "");
            assert!(
                !code.contains("bitcast<f32>(0x") && !code.contains("bitcast<f32>(-"),
                "{name}.wgsl:{}: a constant bitcast to f32 (NaN or infinity is a \
                 shader-creation error in WGSL); read the bits from a `var<private>`: {line}",
                i + 1
            );
        }
    }
}
