//! Kernel parameters defined once: each kernel's uniform block is a named Rust struct declared
//! with `uniform!`, which derives its byte layout (`#[repr(C)]`, `Pod`) and a
//! table of its fields. The test below compares every table, field by field, with the
//! `var<uniform>` struct naga reflects from the kernel's WGSL, so the two sides cannot drift.

// The tables exist for the layout test only; release builds carry just the structs.

/// One field of a uniform block as Rust lays it out.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// the field's name, as the WGSL struct must spell it
    pub name: &'static str,
    /// byte offset from the start of the block
    pub offset: usize,
    /// bytes the field takes
    pub size: usize,
    /// its scalar type, `"u32"`, `"i32"` or `"f32"` (of every element, for arrays)
    pub scalar: &'static str,
}

/// A kernel's uniform block: the kernels that read it and its fields.
#[cfg(test)]
pub trait Uniform: bytemuck::Pod {
    /// Names in [`SHADERS`](super::kernels::SHADERS) of the kernels whose `var<uniform>` this is.
    const KERNELS: &'static [&'static str];
    /// The fields in declaration order.
    const FIELDS: &'static [Field];
}

/// The scalar type of a field: `u32`, `i32`, `f32`, or arrays of them.
#[cfg(test)]
pub trait Scalar {
    /// `"u32"`, `"i32"` or `"f32"`.
    const NAME: &'static str;
}

#[cfg(test)]
impl Scalar for u32 {
    const NAME: &'static str = "u32";
}
#[cfg(test)]
impl Scalar for i32 {
    const NAME: &'static str = "i32";
}
#[cfg(test)]
impl Scalar for f32 {
    const NAME: &'static str = "f32";
}
#[cfg(test)]
impl<T: Scalar, const N: usize> Scalar for [T; N] {
    const NAME: &'static str = T::NAME;
}

/// Declares a uniform block: `uniform! { /// doc  pub(super) struct P for ["kernel", ...] {
/// field: u32, ... } }` expands to the `#[repr(C)]` `Pod` struct and its [`Uniform`] table.
macro_rules! uniform {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident for [$($kernel:literal),+ $(,)?] {
            $($(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name {
            $($(#[$fmeta])* $fvis $field: $ty),*
        }

        #[cfg(test)]
        impl $crate::gpu::uniform::Uniform for $name {
            const KERNELS: &'static [&'static str] = &[$($kernel),+];
            const FIELDS: &'static [$crate::gpu::uniform::Field] = &[$(
                $crate::gpu::uniform::Field {
                    name: stringify!($field),
                    offset: std::mem::offset_of!($name, $field),
                    size: std::mem::size_of::<$ty>(),
                    scalar: <$ty as $crate::gpu::uniform::Scalar>::NAME,
                }
            ),*];
        }
    };
}

#[cfg(test)]
mod tests {
    use super::super::kernels::{source, SHADERS};
    use super::{Field, Uniform};
    use crate::gpu::strided;
    use crate::ops::{
        batch_norm, conv2d, cross_entropy, elementwise, fill, matmul, optim, pool2d, reduce, resize,
    };
    use naga::{AddressSpace, ScalarKind, TypeInner};

    /// Every uniform block of the wgpu backend, as (name, kernels, fields, size).
    fn blocks() -> Vec<(
        &'static str,
        &'static [&'static str],
        &'static [Field],
        usize,
    )> {
        fn b<T: Uniform>() -> (
            &'static str,
            &'static [&'static str],
            &'static [Field],
            usize,
        ) {
            (
                std::any::type_name::<T>(),
                T::KERNELS,
                T::FIELDS,
                std::mem::size_of::<T>(),
            )
        }
        vec![
            b::<fill::gpu::FillParams>(),
            b::<fill::gpu::RandomParams>(),
            b::<elementwise::gpu::UnaryParams>(),
            b::<strided::StridedParams>(),
            b::<reduce::gpu::ReduceParams>(),
            b::<matmul::gpu::MatmulParams>(),
            b::<conv2d::gpu::ConvParams>(),
            b::<pool2d::gpu::PoolParams>(),
            b::<resize::gpu::ResizeParams>(),
            b::<batch_norm::gpu::ChannelParams>(),
            b::<cross_entropy::gpu::CrossEntropyParams>(),
            b::<optim::gpu::SgdParams>(),
            b::<optim::gpu::AdamParams>(),
        ]
    }

    /// The fields and size of kernel `kernel`'s `var<uniform>` struct, as naga lays it out;
    /// `None` when the kernel has no uniform.
    fn reflect(kernel: &str) -> Option<(Vec<Field>, usize)> {
        let src = source(kernel).unwrap();
        let module = naga::front::wgsl::parse_str(&src).unwrap();
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        let var = module
            .global_variables
            .iter()
            .find(|(_, v)| v.space == AddressSpace::Uniform)?
            .1;
        let TypeInner::Struct { members, span } = &module.types[var.ty].inner else {
            panic!("kernel {kernel}: its uniform is not a struct");
        };
        let scalar = |mut ty: naga::Handle<naga::Type>| loop {
            match &module.types[ty].inner {
                TypeInner::Scalar(s) | TypeInner::Vector { scalar: s, .. } => {
                    break match (s.kind, s.width) {
                        (ScalarKind::Uint, 4) => "u32",
                        (ScalarKind::Sint, 4) => "i32",
                        (ScalarKind::Float, 4) => "f32",
                        other => panic!("kernel {kernel}: unexpected scalar {other:?}"),
                    };
                }
                TypeInner::Array { base, .. } => ty = *base,
                other => panic!("kernel {kernel}: unexpected uniform member type {other:?}"),
            }
        };
        let fields = members
            .iter()
            .map(|m| Field {
                name: Box::leak(m.name.clone().unwrap_or_default().into_boxed_str()),
                offset: m.offset as usize,
                size: layouter[m.ty].size as usize,
                scalar: scalar(m.ty),
            })
            .collect();
        Some((fields, *span as usize))
    }

    /// Where a Rust block and the WGSL struct differ, in words; empty when they agree.
    fn differences(rust: &[Field], rust_size: usize, wgsl: &[Field], span: usize) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..rust.len().max(wgsl.len()) {
            match (rust.get(i), wgsl.get(i)) {
                (Some(r), Some(w)) if r != w => out.push(format!(
                    "field {i}: Rust `{}: {}` at byte {} ({} bytes), WGSL `{}: {}` at byte {} ({} bytes)",
                    r.name, r.scalar, r.offset, r.size, w.name, w.scalar, w.offset, w.size
                )),
                (Some(r), None) => out.push(format!("field {i}: Rust `{}` has no WGSL twin", r.name)),
                (None, Some(w)) => out.push(format!("field {i}: WGSL `{}` has no Rust twin", w.name)),
                _ => {}
            }
        }
        if rust_size != span {
            out.push(format!("size: Rust {rust_size} bytes, WGSL {span} bytes"));
        }
        out
    }

    #[test]
    fn every_uniform_struct_matches_its_wgsl_field_by_field() {
        let mut problems = Vec::new();
        for (name, kernels, fields, size) in blocks() {
            for kernel in kernels {
                let (wgsl, span) = reflect(kernel)
                    .unwrap_or_else(|| panic!("{name}: kernel {kernel} has no var<uniform>"));
                for d in differences(fields, size, &wgsl, span) {
                    problems.push(format!("{name} vs kernel {kernel}'s Params: {d}"));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn every_kernel_with_a_uniform_has_a_checked_rust_struct() {
        let checked: Vec<&str> = blocks().iter().flat_map(|b| b.1.iter().copied()).collect();
        for (kernel, _) in SHADERS {
            if reflect(kernel).is_some() {
                assert!(
                    checked.contains(kernel),
                    "kernel {kernel} reads a uniform that no `uniform!` struct lists"
                );
            }
        }
    }

    #[test]
    fn a_mismatch_is_reported() {
        let rust = [Field {
            name: "len",
            offset: 0,
            size: 4,
            scalar: "u32",
        }];
        let wgsl = [Field {
            name: "len",
            offset: 0,
            size: 4,
            scalar: "f32",
        }];
        let d = differences(&rust, 16, &wgsl, 16);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("Rust `len: u32`") && d[0].contains("WGSL `len: f32`"));
    }
}
