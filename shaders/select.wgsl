// where / select with broadcasting: out[i] = cond[ic] != 0 ? a[ia] : b[ib].
// Indices are unravelled over `shape` and mapped through each operand's strides (0 along
// broadcast axes); with PLAIN set all three are laid out like the output.
// `element(i)` computes element i; shaders/per_element.wgsl, joined after, runs it over `p.len`.

override PLAIN: bool = false;

struct Params {
    len: u32,
    rank: u32,
    _pad: vec2<u32>,
    offsets: vec4<u32>,
    shape: array<vec4<u32>, 2>,
    strides: array<array<vec4<u32>, 2>, 3>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cond: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn element(i: u32) {
    var idx = vec3<u32>(i, i, i);
    if (!PLAIN) {
        idx = vec3<u32>(0u);
        var rem = i;
        for (var d = i32(p.rank) - 1; d >= 0; d--) {
            let n = p.shape[d / 4][d % 4];
            let c = rem % n;
            rem = rem / n;
            idx += c * vec3<u32>(p.strides[0][d / 4][d % 4], p.strides[1][d / 4][d % 4], p.strides[2][d / 4][d % 4]);
        }
    }
    out[i] = select(b[idx.z], a[idx.y], cond[idx.x] != 0.0);
}
