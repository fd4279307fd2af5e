// Strided copy: element i of the iteration space `shape` moves from
//   src[offsets.x + sum_d c_d * strides[0][d]]   to   dst[offsets.y + sum_d c_d * strides[1][d]]
// where c is i unravelled over `shape`. Permute, slice, concat and pad are built from it.
// `element(i)` computes element i; shaders/per_element.wgsl, joined after, runs it over `p.len`.

struct Params {
    len: u32,
    rank: u32,
    _pad: vec2<u32>,
    offsets: vec4<u32>,
    shape: array<vec4<u32>, 2>,
    strides: array<array<vec4<u32>, 2>, 3>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn element(i: u32) {
    var s = p.offsets.x;
    var t = p.offsets.y;
    var rem = i;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
        let n = p.shape[d / 4][d % 4];
        let c = rem % n;
        rem = rem / n;
        s += c * p.strides[0][d / 4][d % 4];
        t += c * p.strides[1][d / 4][d % 4];
    }
    dst[t] = src[s];
}
