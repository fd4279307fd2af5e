// Per-channel work on an NCHW array seen as [n, c, hw] (batch norm forward and backward).
//   moments, MODE 0: out[c] = mean(x[:, c]), out[C + c] = mean((x[:, c] - out[c])^2)
//            (two passes over the channel, so the variance does not cancel)
//   moments, MODE 1: out[c] = sum(z[:, c]), out[C + c] = sum(z[:, c] * (x[:, c] - center[c]))
//   affine:  out = coef[c] * x + coef[C + c] (+ coef[2C + c] * z when HAS_Z = 1)
//   affine_relu: the same, and max(out, 0) in `activated` (batch norm followed by a ReLU)
// Batch norm's forward is one affine map (scale, shift) after the moments; its backward is
// one MODE 1 moments pass and one affine map with z = grad_y.
// Dispatch: moments, one workgroup (WG a power of two) per channel, tree-reduced in
// workgroup memory; affine, ceil(n * c * hw / WG) workgroups folded as (x, y).

override MODE: u32 = 0u;
override HAS_Z: u32 = 0u;
override WG: u32 = 256u;

struct Params {
    n: u32,
    c: u32,
    hw: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// MODE 1 / HAS_Z: the second operand (grad_y); a stand-in otherwise
@group(0) @binding(2) var<storage, read> z: array<f32>;
// moments: the per-channel center (MODE 1); affine: 3 * C coefficients
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<f32, WG>;
var<workgroup> red2: array<f32, WG>;

fn at(c: u32, j: u32) -> u32 {
    return ((j / p.hw) * p.c + c) * p.hw + j % p.hw;
}

// Sums red and red2 over the workgroup; the totals end in slot 0.
fn reduce2(lid: u32) {
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            red[lid] += red[lid + s];
            red2[lid] += red2[lid + s];
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WG)
fn moments(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let c = wid.x + wid.y * nwg.x;
    if (c >= p.c) {
        return;
    }
    let m = p.n * p.hw;
    if (MODE == 0u) {
        var s = 0.0;
        for (var j = lid; j < m; j += WG) {
            s += x[at(c, j)];
        }
        red[lid] = s;
        red2[lid] = 0.0;
        reduce2(lid);
        let mean = red[0] / f32(m);
        workgroupBarrier();
        var q = 0.0;
        for (var j = lid; j < m; j += WG) {
            let d = x[at(c, j)] - mean;
            q += d * d;
        }
        red[lid] = 0.0;
        red2[lid] = q;
        reduce2(lid);
        if (lid == 0u) {
            out[c] = mean;
            out[p.c + c] = red2[0] / f32(m);
        }
    } else {
        let mu = coef[c];
        var s = 0.0;
        var q = 0.0;
        for (var j = lid; j < m; j += WG) {
            let i = at(c, j);
            s += z[i];
            q += z[i] * (x[i] - mu);
        }
        red[lid] = s;
        red2[lid] = q;
        reduce2(lid);
        if (lid == 0u) {
            out[c] = red[0];
            out[p.c + c] = red2[0];
        }
    }
}

// affine_relu only: the ReLU of `out`
@group(0) @binding(5) var<storage, read_write> activated: array<f32>;

fn affine_at(i: u32) -> f32 {
    let c = (i / p.hw) % p.c;
    var v = coef[c] * x[i] + coef[p.c + c];
    if (HAS_Z == 1u) {
        v += coef[2u * p.c + c] * z[i];
    }
    return v;
}

@compute @workgroup_size(WG)
fn affine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.n * p.c * p.hw) {
        return;
    }
    out[i] = affine_at(i);
}

@compute @workgroup_size(WG)
fn affine_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.n * p.c * p.hw) {
        return;
    }
    let v = affine_at(i);
    out[i] = v;
    // as the unary ReLU: NaN stays NaN
    activated[i] = select(v, 0.0, v < 0.0);
}
