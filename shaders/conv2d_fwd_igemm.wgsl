// Convolution forward as an implicit GEMM, one GEMM per channel group g:
//   y[n, g*cog + m, oy, ox] = bias[g*cog + m] + sum_k A[m, k] B[k, col]
//   M = cog = c_out / groups,  N = n * oh * ow (col = (n, oy, ox)),  K = cig * kh * kw
//   A[m, k] = weight[g*cog + m, k]   (the weight's rows, k = (ci, ky, kx), contiguous)
//   B[k, col] = x[n, g*cig + ci, oy*stride_h + ky*dil_h - pad_h, ox*stride_w + kx*dil_w - pad_w]
//               (0 outside the image: zero padding)
// Tiling as in matmul.wgsl: a workgroup of THREADS_X x THREADS_Y invocations computes a
// TILE_M x TILE_N block of the GEMM (TILE_M = 8 THREADS_Y, TILE_N = 8 THREADS_X), walking K in
// slabs of TILE_K staged K-major in workgroup memory as vec4s; each invocation accumulates an
// 8 x 8 register block. A and B are never materialised: load_a / load_b compute each element
// from the tensors (implicit GEMM), out-of-range elements read as 0.
// Dispatch: (ceil(GEMM N / TILE_N), ceil(GEMM M / TILE_M), groups); workgroup z is the group.
override TILE_K: u32 = 16u;
override THREADS_X: u32 = 16u;
override THREADS_Y: u32 = 16u;
override TILE_M: u32 = 8u * THREADS_Y;
override TILE_N: u32 = 8u * THREADS_X;

struct Params {
    n: u32,
    c_in: u32,
    h: u32,
    w: u32,
    c_out: u32,
    kh: u32,
    kw: u32,
    oh: u32,
    ow: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    dil_h: u32,
    dil_w: u32,
    groups: u32,
    has_bias: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// (M, N, K) of the per-group GEMM.
fn gemm_dims() -> vec3<u32> {
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
    let iy = i32(oy * p.stride_h + ky * p.dil_h) - i32(p.pad_h);
    let ix = i32(ox * p.stride_w + kx * p.dil_w) - i32(p.pad_w);
    if (iy < 0 || ix < 0 || iy >= i32(p.h) || ix >= i32(p.w)) {
        return 0.0;
    }
    return x[((nb * p.c_in + grp * cig + ci) * p.h + u32(iy)) * p.w + u32(ix)];
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

// a_tile[kk * TILE_M / 4 + m / 4][m % 4] = A[row0 + m, k0 + kk]; b_tile likewise along N.
var<workgroup> a_tile: array<vec4<f32>, TILE_K * TILE_M / 4u>;
var<workgroup> b_tile: array<vec4<f32>, TILE_K * TILE_N / 4u>;

@compute @workgroup_size(THREADS_X, THREADS_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let grp = wid.z;
    let dims = gemm_dims();
    let row0 = wid.y * TILE_M;
    let col0 = wid.x * TILE_N;
    let tid = lid.y * THREADS_X + lid.x;
    let threads = THREADS_X * THREADS_Y;
    let a_row = TILE_M / 4u;
    let b_row = TILE_N / 4u;

    var c00 = vec4<f32>(0.0);
    var c01 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0);
    var c11 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0);
    var c21 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0);
    var c31 = vec4<f32>(0.0);
    var c40 = vec4<f32>(0.0);
    var c41 = vec4<f32>(0.0);
    var c50 = vec4<f32>(0.0);
    var c51 = vec4<f32>(0.0);
    var c60 = vec4<f32>(0.0);
    var c61 = vec4<f32>(0.0);
    var c70 = vec4<f32>(0.0);
    var c71 = vec4<f32>(0.0);

    for (var k0 = 0u; k0 < dims.z; k0 += TILE_K) {
        for (var e = tid; e < TILE_M * TILE_K; e += threads) {
            let mm = e / TILE_K;
            let kk = e % TILE_K;
            var v = 0.0;
            if (row0 + mm < dims.x && k0 + kk < dims.z) {
                v = load_a(grp, row0 + mm, k0 + kk);
            }
            a_tile[kk * a_row + mm / 4u][mm % 4u] = v;
        }
        for (var e = tid; e < TILE_N * TILE_K; e += threads) {
            let kk = e / TILE_N;
            let nn = e % TILE_N;
            var v = 0.0;
            if (col0 + nn < dims.y && k0 + kk < dims.z) {
                v = load_b(grp, k0 + kk, col0 + nn);
            }
            b_tile[kk * b_row + nn / 4u][nn % 4u] = v;
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TILE_K; kk++) {
            let a_lo = a_tile[kk * a_row + lid.y];
            let a_hi = a_tile[kk * a_row + lid.y + THREADS_Y];
            let b_lo = b_tile[kk * b_row + lid.x];
            let b_hi = b_tile[kk * b_row + lid.x + THREADS_X];
            c00 = fma(vec4<f32>(a_lo.x), b_lo, c00);
            c01 = fma(vec4<f32>(a_lo.x), b_hi, c01);
            c10 = fma(vec4<f32>(a_lo.y), b_lo, c10);
            c11 = fma(vec4<f32>(a_lo.y), b_hi, c11);
            c20 = fma(vec4<f32>(a_lo.z), b_lo, c20);
            c21 = fma(vec4<f32>(a_lo.z), b_hi, c21);
            c30 = fma(vec4<f32>(a_lo.w), b_lo, c30);
            c31 = fma(vec4<f32>(a_lo.w), b_hi, c31);
            c40 = fma(vec4<f32>(a_hi.x), b_lo, c40);
            c41 = fma(vec4<f32>(a_hi.x), b_hi, c41);
            c50 = fma(vec4<f32>(a_hi.y), b_lo, c50);
            c51 = fma(vec4<f32>(a_hi.y), b_hi, c51);
            c60 = fma(vec4<f32>(a_hi.z), b_lo, c60);
            c61 = fma(vec4<f32>(a_hi.z), b_hi, c61);
            c70 = fma(vec4<f32>(a_hi.w), b_lo, c70);
            c71 = fma(vec4<f32>(a_hi.w), b_hi, c71);
        }
        workgroupBarrier();
    }

    let r_lo = row0 + 4u * lid.y;
    let r_hi = r_lo + TILE_M / 2u;
    let n_lo = col0 + 4u * lid.x;
    let n_hi = n_lo + TILE_N / 2u;
    store4(grp, dims, r_lo, n_lo, c00);
    store4(grp, dims, r_lo, n_hi, c01);
    store4(grp, dims, r_lo + 1u, n_lo, c10);
    store4(grp, dims, r_lo + 1u, n_hi, c11);
    store4(grp, dims, r_lo + 2u, n_lo, c20);
    store4(grp, dims, r_lo + 2u, n_hi, c21);
    store4(grp, dims, r_lo + 3u, n_lo, c30);
    store4(grp, dims, r_lo + 3u, n_hi, c31);
    store4(grp, dims, r_hi, n_lo, c40);
    store4(grp, dims, r_hi, n_hi, c41);
    store4(grp, dims, r_hi + 1u, n_lo, c50);
    store4(grp, dims, r_hi + 1u, n_hi, c51);
    store4(grp, dims, r_hi + 2u, n_lo, c60);
    store4(grp, dims, r_hi + 2u, n_hi, c61);
    store4(grp, dims, r_hi + 3u, n_lo, c70);
    store4(grp, dims, r_hi + 3u, n_hi, c71);
}

fn store4(grp: u32, dims: vec3<u32>, row: u32, col: u32, v: vec4<f32>) {
    if (row >= dims.x) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        if (col + j < dims.y) {
            store_c(grp, row, col + j, v[j]);
        }
    }
}
