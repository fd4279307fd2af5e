// Column matrices of a one-group convolution, for convolution as a batched matmul over
// images b = 0 .. nb of a batch chunk starting at image n0:
//   im2col: cols[b, k, p] = x[n0 + b, ci, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw] (0 outside)
//           with k = (ci*kh + ky)*kw + kx, p = oy*ow + ox, K = c_in*kh*kw, P = oh*ow
//   col2im: grad_x[n0 + b, ci, iy, ix] = sum over (ky, kx) of cols[b, k, p] for the output p
//           that read (iy, ix) through tap (ky, kx) (a gather, no atomics)
// Forward:  y[b] = W[c_out, K] cols[b];  backward data: cols = W^T grad_y[b], then col2im;
// backward weight: grad_W = sum_b grad_y[b] cols[b]^T.
// Integer division is the expensive part on CPU adapters (no vector divide), so every
// division is uniform across a workgroup: workgroup (x, y) owns one row k of cols (im2col) or
// one channel ci of grad_x (col2im) of image y of the chunk, and its WG lanes walk the
// columns p (or pixels) of that row in order, so neighbouring lanes touch neighbouring
// addresses.
// Dispatch: (K or c_in, nb) workgroups of WG invocations. conv2d/params.wgsl goes before
// this file.

override WG: u32 = 32u;

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn im2col(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let k = wid.x;
    let b = wid.y;
    let kx = k % p.kw;
    let ky = (k / p.kw) % p.kh;
    let ci = k / (p.kw * p.kh);
    let pp = p.oh * p.ow;
    let kk = p.c_in * p.kh * p.kw;
    let src_base = ((p.n0 + b) * p.c_in + ci) * p.h * p.w;
    let dst_base = (b * kk + k) * pp;
    let off_y = i32(ky * p.dil_h) - i32(p.pad_h);
    let off_x = i32(kx * p.dil_w) - i32(p.pad_w);
    for (var oy = 0u; oy < p.oh; oy++) {
        let iy = i32(oy * p.stride_h) + off_y;
        let row_ok = iy >= 0 && iy < i32(p.h);
        for (var ox = lid; ox < p.ow; ox += WG) {
            let ix = i32(ox * p.stride_w) + off_x;
            var v = 0.0;
            if (row_ok && ix >= 0 && ix < i32(p.w)) {
                v = src[src_base + u32(iy) * p.w + u32(ix)];
            }
            out[dst_base + oy * p.ow + ox] = v;
        }
    }
}

// Output index along one axis read by input index i through tap t, or -1.
fn source(i: u32, pad: u32, tap: u32, stride: u32, osize: u32) -> i32 {
    let d = i32(i + pad) - i32(tap);
    if (d < 0) {
        return -1;
    }
    var o = d;
    if (stride != 1u) {
        if (d % i32(stride) != 0) {
            return -1;
        }
        o = d / i32(stride);
    }
    return select(-1, o, o < i32(osize));
}

@compute @workgroup_size(WG)
fn col2im(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let ci = wid.x;
    let b = wid.y;
    let pp = p.oh * p.ow;
    let kk = p.c_in * p.kh * p.kw;
    let cols_base = (b * kk + ci * p.kh * p.kw) * pp;
    let dst_base = ((p.n0 + b) * p.c_in + ci) * p.h * p.w;
    for (var iy = 0u; iy < p.h; iy++) {
        for (var ix = lid; ix < p.w; ix += WG) {
            var acc = 0.0;
            for (var ky = 0u; ky < p.kh; ky++) {
                let oy = source(iy, p.pad_h, ky * p.dil_h, p.stride_h, p.oh);
                if (oy < 0) {
                    continue;
                }
                for (var kx = 0u; kx < p.kw; kx++) {
                    let ox = source(ix, p.pad_w, kx * p.dil_w, p.stride_w, p.ow);
                    if (ox < 0) {
                        continue;
                    }
                    acc += src[cols_base + (ky * p.kw + kx) * pp + u32(oy) * p.ow + u32(ox)];
                }
            }
            out[dst_base + iy * p.w + ix] = acc;
        }
    }
}
