// Convolution gradient w.r.t. the input, as an implicit GEMM per channel group g:
//   grad_x[n, g*cig + m, iy, ix] = sum_k A[m, k] B[k, col]
//   M = cig = c_in / groups,  N = n * h * w (col = (n, iy, ix)),  K = cog * kh * kw
//   A[m, k] = weight[g*cog + co, m, ky, kx]            with k = (co, ky, kx)
//   B[k, col] = grad_y[n, g*cog + co, oy, ox]  where oy*stride_h = iy + pad_h - ky*dil_h and
//               ox*stride_w = ix + pad_w - kx*dil_w have whole, in-range solutions, else 0
//   (the transposed convolution: each input pixel gathers the outputs it fed).
// This file holds the operands (computed from the tensors: implicit GEMM, A and B never
// materialised, out-of-range elements read as 0) and the epilogue. conv2d/params.wgsl goes
// before it and the GEMM core after it: gemm/core.wgsl, or gemm/core_subgroup.wgsl (the
// `_subgroup` kernel), then gemm/tiles.wgsl.
// Dispatch: (ceil(GEMM N / TILE_N), ceil(GEMM M / TILE_M), groups); workgroup z is the group.

@group(0) @binding(1) var<storage, read> grad_y: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_x: array<f32>;

// (M, N, K) of the per-group GEMM.
fn gemm_dims(grp: u32) -> vec3<u32> {
    let cog = p.c_out / p.groups;
    return vec3<u32>(p.c_in / p.groups, p.n * p.h * p.w, cog * p.kh * p.kw);
}

fn load_a(grp: u32, m: u32, k: u32) -> f32 {
    let cig = p.c_in / p.groups;
    let cog = p.c_out / p.groups;
    let area = p.kh * p.kw;
    let co = k / area;
    return weight[((grp * cog + co) * cig + m) * area + k % area];
}

fn load_b(grp: u32, k: u32, col: u32) -> f32 {
    let cog = p.c_out / p.groups;
    let area = p.kh * p.kw;
    let co = k / area;
    let ky = (k % area) / p.kw;
    let kx = k % p.kw;
    let plane = p.h * p.w;
    let nb = col / plane;
    let iy = (col % plane) / p.w;
    let ix = col % p.w;
    let ty = i32(iy + p.pad_h) - i32(ky * p.dil_h);
    let tx = i32(ix + p.pad_w) - i32(kx * p.dil_w);
    if (ty < 0 || tx < 0 || u32(ty) % p.stride_h != 0u || u32(tx) % p.stride_w != 0u) {
        return 0.0;
    }
    let oy = u32(ty) / p.stride_h;
    let ox = u32(tx) / p.stride_w;
    if (oy >= p.oh || ox >= p.ow) {
        return 0.0;
    }
    return grad_y[((nb * p.c_out + grp * cog + co) * p.oh + oy) * p.ow + ox];
}

fn store_c(grp: u32, m: u32, col: u32, v: f32) {
    let cig = p.c_in / p.groups;
    let plane = p.h * p.w;
    let nb = col / plane;
    grad_x[(nb * p.c_in + grp * cig + m) * plane + col % plane] = v;
}

fn a_along_m() -> bool {
    return false;
}

fn b_along_k() -> bool {
    return false;
}
