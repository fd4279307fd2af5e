// Bilinear resize of NCHW planes from H x W to OH x OW, PyTorch's `interpolate(mode=
// "bilinear")`. Along each axis, output index o reads source coordinate
//   align_corners:  s = scale * o,                       scale = (in - 1) / (out - 1)
//   otherwise:      s = max(scale * (o + 0.5) - 0.5, 0), scale = in / out
// from i0 = floor(s) and i1 = min(i0 + 1, in - 1) with weights 1 - (s - i0) and s - i0;
// the 2-D weight is the product of the row and column weights.
// Backward is a gather: input (iy, ix) sums w * grad_y over the outputs whose taps include
// it; those lie in a short range of o found by inverting s, then checked exactly.
// Dispatch: one invocation per output (forward) or input (backward) element,
// ceil(count / WG) workgroups folded as (x, y).

override WG: u32 = 256u;

struct Params {
    planes: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    align: u32,
    scale_y: f32,
    scale_x: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

struct Taps {
    i0: u32,
    i1: u32,
    w0: f32,
    w1: f32,
}

fn taps(o: u32, size: u32, scale: f32) -> Taps {
    var s: f32;
    if (p.align == 1u) {
        s = scale * f32(o);
    } else {
        s = max(scale * (f32(o) + 0.5) - 0.5, 0.0);
    }
    let i0 = min(u32(s), size - 1u);
    let i1 = select(i0, i0 + 1u, i0 + 1u < size);
    let l1 = s - f32(i0);
    return Taps(i0, i1, 1.0 - l1, l1);
}

// Weight of input index i in output o along one axis.
fn weight(t: Taps, i: u32) -> f32 {
    return select(0.0, t.w0, t.i0 == i) + select(0.0, t.w1, t.i1 == i);
}

// Outputs [lo, hi) along one axis that may read input index i.
fn outputs(i: u32, osize: u32, scale: f32) -> vec2<u32> {
    if (scale == 0.0) {
        return vec2<u32>(0u, osize);
    }
    let shift = select(0.5, 0.0, p.align == 1u);
    let lo = floor((f32(i) - 1.0 + shift) / scale - shift) - 1.0;
    let hi = ceil((f32(i) + 1.0 + shift) / scale - shift) + 2.0;
    return vec2<u32>(u32(max(lo, 0.0)), u32(clamp(hi, 0.0, f32(osize))));
}

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = flat(gid, nwg);
    if (o >= p.planes * p.oh * p.ow) {
        return;
    }
    let ty = taps((o / p.ow) % p.oh, p.h, p.scale_y);
    let tx = taps(o % p.ow, p.w, p.scale_x);
    let base = (o / (p.ow * p.oh)) * p.h * p.w;
    let r0 = base + ty.i0 * p.w;
    let r1 = base + ty.i1 * p.w;
    out[o] = ty.w0 * (tx.w0 * src[r0 + tx.i0] + tx.w1 * src[r0 + tx.i1])
        + ty.w1 * (tx.w0 * src[r1 + tx.i0] + tx.w1 * src[r1 + tx.i1]);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= p.planes * p.h * p.w) {
        return;
    }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let obase = (i / (p.w * p.h)) * p.oh * p.ow;
    let ry = outputs(iy, p.oh, p.scale_y);
    let rx = outputs(ix, p.ow, p.scale_x);
    var acc = 0.0;
    for (var oy = ry.x; oy < ry.y; oy++) {
        let wy = weight(taps(oy, p.h, p.scale_y), iy);
        if (wy == 0.0) {
            continue;
        }
        var row = 0.0;
        for (var ox = rx.x; ox < rx.y; ox++) {
            row += weight(taps(ox, p.w, p.scale_x), ix) * src[obase + oy * p.ow + ox];
        }
        acc += wy * row;
    }
    out[i] = acc;
}
