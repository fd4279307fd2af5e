//! Parses and validates every kernel's WGSL module (its `shaders/` files joined) with naga,
//! and checks that the kernel table uses every file (so no kernel escapes this test).

use super::kernels::{source, SHADERS};

#[test]
fn every_shader_parses_and_validates() {
    for (name, _) in SHADERS {
        let src = &source(name).unwrap();
        let module = naga::front::wgsl::parse_str(src)
            .unwrap_or_else(|e| panic!("kernel {name}: {}", e.emit_to_string(src)));
        let mut v = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::SUBGROUP | naga::valid::Capabilities::SHADER_FLOAT16,
        );
        v.validate(&module)
            .unwrap_or_else(|e| panic!("kernel {name} does not validate: {e:?}"));
    }
}

#[test]
fn kernel_table_covers_the_shader_folder() {
    fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|x| x == "wgsl") {
                let rel = path.strip_prefix(base).unwrap().to_string_lossy();
                out.push(rel.replace('\\', "/"));
            }
        }
    }
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shaders"));
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    let mut used: Vec<String> = SHADERS
        .iter()
        .flat_map(|(_, parts)| parts.iter().map(|(path, _)| path.to_string()))
        .collect();
    used.sort();
    used.dedup();
    assert_eq!(files, used, "shaders/ and gpu::kernels::SHADERS disagree");
}

/// WGSL makes a constant expression that evaluates to NaN or infinity a shader-creation
/// error. naga accepts `bitcast<f32>(0x7fc00000u)`, but browsers' compilers (Tint) refuse
/// the shader, so NaN and infinities must come from bits held in a variable.
#[test]
fn no_shader_builds_nan_or_infinity_from_a_constant() {
    for (path, src) in SHADERS.iter().flat_map(|(_, parts)| parts.iter()) {
        for (i, line) in src.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default().replace(' ', "");
            assert!(
                !code.contains("bitcast<f32>(0x") && !code.contains("bitcast<f32>(-"),
                "shaders/{path}:{}: a constant bitcast to f32 (NaN or infinity is a \
                 shader-creation error in WGSL); read the bits from a `var<private>`: {line}",
                i + 1
            );
        }
    }
}
