// 2-D pooling over NCHW planes, forward and backward.
//   KIND 0 max:      y = max over the window taps iy = oy*sh - ph + ky*dh (in-bounds only),
//                    ind = plane-local index iy*W + ix of the maximum (first of ties, last NaN).
//   KIND 1 avg:      y = sum over the in-bounds taps / divisor, where divisor is
//                    MODE 0 the in-bounds count, 1 the count clipped to the padded input,
//                    2 the fixed `divisor` (PyTorch's count_include_pad / divisor_override).
//   KIND 2 adaptive: rows floor(oy*H/OH) .. ceil((oy+1)*H/OH), the same for columns; mean.
// Backward is a gather, so no atomics: input pixel (iy, ix) sums the output gradients of
// the windows that contain it (max: only where ind names it). `backward_scatter` is max
// pooling's backward when windows neither overlap nor reach into padding: each output adds
// its gradient at ind, which no other output names, into a zeroed grad_x.
// Dispatch: one invocation per output (forward, backward_scatter) or per input (backward)
// element, ceil(count / WG) workgroups folded as (x, y).

override KIND: u32 = 0u;
override WG: u32 = 256u;

struct Params {
    planes: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    dh: u32,
    dw: u32,
    mode: u32,
    divisor: u32,
    _pad: u32,
}

// NaN and -inf are built at run time from these bits: WGSL makes a constant expression
// that evaluates to NaN or infinity a shader-creation error (browsers' compilers enforce it).
var<private> NEG_INF_BITS: u32 = 0xff800000u;

@group(0) @binding(0) var<uniform> p: Params;
// forward: x; backward: grad_y
@group(0) @binding(1) var<storage, read> src: array<f32>;
// max pooling's argmax indices: written forward, read backward (a dummy otherwise)
@group(0) @binding(2) var<storage, read_write> ind: array<f32>;
// forward: y; backward: grad_x
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Window of output index o along one axis: (start, end) before clipping, taps step by d.
fn span(o: u32, size: u32, osize: u32, k: u32, s: u32, pad: u32, d: u32) -> vec2<i32> {
    if (KIND == 2u) {
        return vec2<i32>(i32(o * size / osize), i32(((o + 1u) * size + osize - 1u) / osize));
    }
    let start = i32(o * s) - i32(pad);
    return vec2<i32>(start, start + i32((k - 1u) * d + 1u));
}

fn divisor(ys: vec2<i32>, xs: vec2<i32>) -> f32 {
    if (KIND == 1u && p.mode == 2u) {
        return f32(p.divisor);
    }
    if (KIND == 1u && p.mode == 1u) {
        let ye = min(ys.y, i32(p.h + p.ph));
        let xe = min(xs.y, i32(p.w + p.pw));
        return f32((ye - ys.x) * (xe - xs.x));
    }
    let hy = min(ys.y, i32(p.h)) - max(ys.x, 0);
    let hx = min(xs.y, i32(p.w)) - max(xs.x, 0);
    return f32(hy * hx);
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
    let ox = o % p.ow;
    let oy = (o / p.ow) % p.oh;
    let base = (o / (p.ow * p.oh)) * p.h * p.w;
    let ys = span(oy, p.h, p.oh, p.kh, p.sh, p.ph, p.dh);
    let xs = span(ox, p.w, p.ow, p.kw, p.sw, p.pw, p.dw);
    let step = select(vec2<i32>(i32(p.dh), i32(p.dw)), vec2<i32>(1, 1), KIND != 0u);
    var best = bitcast<f32>(NEG_INF_BITS);
    var at = -1;
    var acc = 0.0;
    for (var iy = ys.x; iy < ys.y; iy += step.x) {
        if (iy < 0 || iy >= i32(p.h)) {
            continue;
        }
        for (var ix = xs.x; ix < xs.y; ix += step.y) {
            if (ix < 0 || ix >= i32(p.w)) {
                continue;
            }
            let i = iy * i32(p.w) + ix;
            let v = src[base + u32(i)];
            if (KIND == 0u) {
                if (at < 0 || v > best || is_nan(v)) {
                    best = v;
                    at = i;
                }
            } else {
                acc += v;
            }
        }
    }
    if (KIND == 0u) {
        out[o] = best;
        ind[o] = f32(max(at, 0));
    } else {
        out[o] = acc / divisor(ys, xs);
    }
}

// Output indices along one axis whose window holds input index i: [lo, hi).
fn covering(i: u32, size: u32, osize: u32) -> vec2<u32> {
    let lo = i * osize / size;
    let hi = min(((i + 1u) * osize + size - 1u) / size, osize);
    return vec2<u32>(lo, hi);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= p.planes * p.h * p.w) {
        return;
    }
    let ix = i % p.w;
    let iy = (i / p.w) % p.h;
    let plane = i / (p.w * p.h);
    let obase = plane * p.oh * p.ow;
    let here = f32(iy * p.w + ix);
    var acc = 0.0;
    if (KIND == 2u) {
        let ry = covering(iy, p.h, p.oh);
        let rx = covering(ix, p.w, p.ow);
        for (var oy = ry.x; oy < ry.y; oy++) {
            let ys = span(oy, p.h, p.oh, 0u, 0u, 0u, 0u);
            if (i32(iy) < ys.x || i32(iy) >= ys.y) {
                continue;
            }
            for (var ox = rx.x; ox < rx.y; ox++) {
                let xs = span(ox, p.w, p.ow, 0u, 0u, 0u, 0u);
                if (i32(ix) < xs.x || i32(ix) >= xs.y) {
                    continue;
                }
                acc += src[obase + oy * p.ow + ox] / divisor(ys, xs);
            }
        }
        out[i] = acc;
        return;
    }
    for (var ky = 0u; ky < p.kh; ky++) {
        let ty = i32(iy + p.ph) - i32(ky * p.dh);
        if (ty < 0 || ty % i32(p.sh) != 0 || ty / i32(p.sh) >= i32(p.oh)) {
            continue;
        }
        let oy = u32(ty) / p.sh;
        for (var kx = 0u; kx < p.kw; kx++) {
            let tx = i32(ix + p.pw) - i32(kx * p.dw);
            if (tx < 0 || tx % i32(p.sw) != 0 || tx / i32(p.sw) >= i32(p.ow)) {
                continue;
            }
            let ox = u32(tx) / p.sw;
            let o = obase + oy * p.ow + ox;
            if (KIND == 0u) {
                if (ind[o] == here) {
                    acc += src[o];
                }
            } else {
                let ys = span(oy, p.h, p.oh, p.kh, p.sh, p.ph, 1u);
                let xs = span(ox, p.w, p.ow, p.kw, p.sw, p.pw, 1u);
                acc += src[o] / divisor(ys, xs);
            }
        }
    }
    out[i] = acc;
}

@compute @workgroup_size(WG)
fn backward_scatter(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = flat(gid, nwg);
    if (o >= p.planes * p.oh * p.ow) {
        return;
    }
    let at = o / (p.oh * p.ow) * p.h * p.w + u32(ind[o]);
    out[at] += src[o];
}
