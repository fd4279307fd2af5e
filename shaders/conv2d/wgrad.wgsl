// Convolution gradient w.r.t. the weight, as an implicit GEMM per channel group g:
//   grad_w[g*cog + m, col] = sum_k A[m, k] B[k, col]
//   M = cog = c_out / groups,  N = cig * kh * kw (col = (ci, ky, kx)),  K = n * oh * ow
//   A[m, k] = grad_y[n, g*cog + m, oy, ox]             with k = (n, oy, ox)
//   B[k, col] = x[n, g*cig + ci, oy*stride_h + ky*dil_h - pad_h, ox*stride_w + kx*dil_w - pad_w]
//               (0 outside the image)
// This file holds the operands (computed from the tensors: implicit GEMM, A and B never
// materialised, out-of-range elements read as 0) and the epilogue. conv2d/params.wgsl goes
// before it and the GEMM core after it: gemm/core.wgsl, or gemm/core_subgroup.wgsl (the
// `_subgroup` kernel), then gemm/tiles.wgsl.
// Dispatch: (ceil(GEMM N / TILE_N), ceil(GEMM M / TILE_M), groups); workgroup z is the group.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> grad_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad_w: array<f32>;

// (M, N, K) of the per-group GEMM.
fn gemm_dims(grp: u32) -> vec3<u32> {
    let cig = p.c_in / p.groups;
    return vec3<u32>(p.c_out / p.groups, cig * p.kh * p.kw, p.n * p.oh * p.ow);
}

fn load_a(grp: u32, m: u32, k: u32) -> f32 {
    let cog = p.c_out / p.groups;
    let plane = p.oh * p.ow;
    let nb = k / plane;
    return grad_y[(nb * p.c_out + grp * cog + m) * plane + k % plane];
}

fn load_b(grp: u32, k: u32, col: u32) -> f32 {
    let cig = p.c_in / p.groups;
    let area = p.kh * p.kw;
    let ci = col / area;
    let ky = (col % area) / p.kw;
    let kx = col % p.kw;
    let plane = p.oh * p.ow;
    let nb = k / plane;
    let oy = (k % plane) / p.ow;
    let ox = k % p.ow;
    return tap(grp * cig + ci, ky, kx, nb, oy, ox);
}

fn store_c(grp: u32, m: u32, col: u32, v: f32) {
    let cog = p.c_out / p.groups;
    let taps = (p.c_in / p.groups) * p.kh * p.kw;
    grad_w[(grp * cog + m) * taps + col] = v;
}

fn a_along_m() -> bool {
    return false;
}

fn b_along_k() -> bool {
    return false;
}
