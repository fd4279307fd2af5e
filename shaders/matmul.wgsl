// Batched matrix product  C[b] = op(A[b]) · op(B[b]),  op(A): [M, K], op(B): [K, N], C: [M, N],
// all row-major f32. TRANS_A reads A stored as [K, M], TRANS_B reads B stored as [N, K]:
// transposes are folded into the tile loads, never materialised.
// This file holds the operands and the epilogue; the tiling is the GEMM core's, composed
// after it: gemm/core.wgsl (kernel `matmul`) or gemm/core_subgroup.wgsl (kernel
// `matmul_subgroup`), then gemm/tiles.wgsl.
//
// Dispatch: (ceil(N / TILE_N), ceil(M / TILE_M), batches); workgroup z computes batch
// batch0 + z, reading A at batch * a_stride and B at batch * b_stride (a stride of 0
// broadcasts one matrix to every batch) and writing C at batch * M * N.

override TRANS_A: bool = false;
override TRANS_B: bool = false;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch0: u32,
    a_stride: u32,
    b_stride: u32,
    _pad: vec2<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn gemm_dims(z: u32) -> vec3<u32> {
    return vec3<u32>(p.m, p.n, p.k);
}

fn a_along_m() -> bool {
    return TRANS_A;
}

fn b_along_k() -> bool {
    return TRANS_B;
}

fn load_a(z: u32, m: u32, k: u32) -> f32 {
    let off = (p.batch0 + z) * p.a_stride;
    if (TRANS_A) {
        return a[off + k * p.m + m];
    }
    return a[off + m * p.k + k];
}

fn load_b(z: u32, k: u32, n: u32) -> f32 {
    let off = (p.batch0 + z) * p.b_stride;
    if (TRANS_B) {
        return b[off + n * p.k + k];
    }
    return b[off + k * p.n + n];
}

fn store_c(z: u32, m: u32, n: u32, v: f32) {
    c[(p.batch0 + z) * p.m * p.n + m * p.n + n] = v;
}
