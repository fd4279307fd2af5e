// Reduction of the middle axis of x viewed as [outer, len, inner]; out is [outer, inner].
// OP codes (ReduceOp::code): 0 sum (times `scale`, so a mean is a sum with scale 1/len)
//   1 max  2 min  3 argmax  4 argmin   (extremes propagate NaN; arg ops give the first
//   index of the extreme, as f32)
// Entry `rows`: one workgroup per output; its WG invocations (a power of two) stride over
//   len, then combine in a tree in workgroup memory.
//   Dispatch: outer * inner workgroups, folded as (x, y).
// Entry `cols`: one invocation per output looping over len, for short reductions.
//   Dispatch: ceil(outer * inner / WG) workgroups, folded as (x, y).

override OP: u32 = 0u;
override WG: u32 = 256u;

const NONE: u32 = 0xffffffffu;

struct Params {
    outer: u32,
    len: u32,
    inner: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> vals: array<f32, WG>;
var<workgroup> idxs: array<u32, WG>;

fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Whether candidate (v, i) replaces the current best (b, j): NaN beats numbers, the more
// extreme value wins, and ties go to the lower index. `j == NONE` means no best yet.
fn wins(b: f32, j: u32, v: f32, i: u32) -> bool {
    if (j == NONE) {
        return true;
    }
    if (is_nan(b)) {
        return is_nan(v) && i < j;
    }
    if (is_nan(v)) {
        return true;
    }
    if (OP == 1u || OP == 3u) {
        return v > b || (v == b && i < j);
    }
    return v < b || (v == b && i < j);
}

fn finish(v: f32, i: u32) -> f32 {
    switch OP {
        case 0u: { return v * p.scale; }
        case 3u, 4u: { return f32(i); }
        default: { return v; }
    }
}

@compute @workgroup_size(WG)
fn rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let o = wid.x + wid.y * nwg.x;
    if (o >= p.outer * p.inner) {
        return;
    }
    let base = (o / p.inner) * p.len * p.inner + o % p.inner;
    var best = 0.0;
    var bi = NONE;
    for (var j = lid; j < p.len; j += WG) {
        let v = x[base + j * p.inner];
        if (OP == 0u) {
            best += v;
            bi = j;
        } else if (wins(best, bi, v, j)) {
            best = v;
            bi = j;
        }
    }
    vals[lid] = best;
    idxs[lid] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            let v = vals[lid + s];
            let i = idxs[lid + s];
            if (OP == 0u) {
                vals[lid] += v;
            } else if (i != NONE && wins(vals[lid], idxs[lid], v, i)) {
                vals[lid] = v;
                idxs[lid] = i;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        out[o] = finish(vals[0], idxs[0]);
    }
}

@compute @workgroup_size(WG)
fn cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = gid.x + gid.y * nwg.x * WG;
    if (o >= p.outer * p.inner) {
        return;
    }
    let base = (o / p.inner) * p.len * p.inner + o % p.inner;
    var best = 0.0;
    var bi = NONE;
    for (var j = 0u; j < p.len; j++) {
        let v = x[base + j * p.inner];
        if (OP == 0u) {
            best += v;
        } else if (wins(best, bi, v, j)) {
            best = v;
            bi = j;
        }
    }
    out[o] = finish(best, bi);
}
