// Softmax (LOG = 0) or log-softmax (LOG = 1) along the middle axis of [outer, len, inner]:
//   m = max_j x_j,  s = sum_j exp(x_j - m),
//   y_j = exp(x_j - m) / s      or      y_j = x_j - m - log(s)
// Subtracting the max keeps exp in range for logits of any magnitude.
// One workgroup (WG invocations, a power of two) per row; max and sum are tree-reduced in
// workgroup memory. Dispatch: outer * inner workgroups, folded as (x, y).

override LOG: u32 = 0u;
override WG: u32 = 256u;

struct Params {
    outer: u32,
    len: u32,
    inner: u32,
    scale: f32, // reduce.wgsl's; unused here (the two share one Rust block)
}

// NaN and -inf are built at run time from these bits: WGSL makes a constant expression
// that evaluates to NaN or infinity a shader-creation error (browsers' compilers enforce it).
var<private> NEG_INF_BITS: u32 = 0xff800000u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let o = wid.x + wid.y * nwg.x;
    if (o >= p.outer * p.inner) {
        return;
    }
    let base = (o / p.inner) * p.len * p.inner + o % p.inner;

    var m = bitcast<f32>(NEG_INF_BITS);
    for (var j = lid; j < p.len; j += WG) {
        m = max(m, x[base + j * p.inner]);
    }
    red[lid] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            red[lid] = max(red[lid], red[lid + s]);
        }
        workgroupBarrier();
    }
    let mx = red[0];
    workgroupBarrier();

    var acc = 0.0;
    for (var j = lid; j < p.len; j += WG) {
        acc += exp(x[base + j * p.inner] - mx);
    }
    red[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            red[lid] += red[lid + s];
        }
        workgroupBarrier();
    }
    let total = red[0];

    for (var j = lid; j < p.len; j += WG) {
        let z = x[base + j * p.inner] - mx;
        if (LOG == 1u) {
            out[base + j * p.inner] = z - log(total);
        } else {
            out[base + j * p.inner] = exp(z) / total;
        }
    }
}
