// Convolution forward as an implicit GEMM, one GEMM per channel group g:
//   y[n, g*cog + m, oy, ox] = bias[g*cog + m] + sum_k A[m, k] B[k, col]
//   M = cog = c_out / groups,  N = n * oh * ow (col = (n, oy, ox)),  K = cig * kh * kw
//   A[m, k] = weight[g*cog + m, k]   (the weight's rows, k = (ci, ky, kx), contiguous)
//   B[k, col] = x[n, g*cig + ci, oy*stride_h + ky*dil_h - pad_h, ox*stride_w + kx*dil_w - pad_w]
//               (0 outside the image: zero padding)
// This file holds the operands (computed from the tensors: implicit GEMM, A and B never
// materialised, out-of-range elements read as 0) and the epilogue. conv2d/params.wgsl goes
// before it and the GEMM core after it: gemm/core.wgsl, or gemm/core_subgroup.wgsl (the
// `_subgroup` kernel), then gemm/tiles.wgsl.
// Dispatch: (ceil(GEMM N / TILE_N), ceil(GEMM M / TILE_M), groups); workgroup z is the group.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// (M, N, K) of the per-group GEMM.
fn gemm_dims(grp: u32) -> vec3<u32> {
    let cig = p.c_in / p.groups;
    return vec3<u32>(p.c_out / p.groups, p.n * p.oh * p.ow, cig * p.kh * p.kw);
}

fn load_a(grp: u32, m: u32, k: u32) -> f32 {
    let cog = p.c_out / p.groups;
    let taps = (p.c_in / p.groups) * p.kh * p.kw;
    return weight[(grp * cog + m) * taps + k];
}

fn load_b(grp: u32, k: u32, col: u32) -> f32 {
    let cig = p.c_in / p.groups;
    let area = p.kh * p.kw;
    let ci = k / area;
    let ky = (k % area) / p.kw;
    let kx = k % p.kw;
    let plane = p.oh * p.ow;
    let nb = col / plane;
    let oy = (col % plane) / p.ow;
    let ox = col % p.ow;
    return tap(grp * cig + ci, ky, kx, nb, oy, ox);
}

fn store_c(grp: u32, m: u32, col: u32, v: f32) {
    let cog = p.c_out / p.groups;
    let co = grp * cog + m;
    let plane = p.oh * p.ow;
    let nb = col / plane;
    var b = 0.0;
    if (p.has_bias != 0u) {
        b = bias[co];
    }
    y[(nb * p.c_out + co) * plane + col % plane] = v + b;
}

fn a_along_m() -> bool {
    return false;
}

fn b_along_k() -> bool {
    return false;
}
