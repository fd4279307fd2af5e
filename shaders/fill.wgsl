// Fill / arange: out[i] = start + f32(i) * step   (a constant fill has step = 0).
// One invocation per element; WG invocations per workgroup.
// Dispatch: ceil(len / WG) workgroups, folded as (x, y) past the per-dimension limit.

override WG: u32 = 256u;

struct Params {
    len: u32,
    start: f32,
    step: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    out[i] = p.start + f32(i) * p.step;
}
