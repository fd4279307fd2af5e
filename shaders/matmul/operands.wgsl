// Batched matrix product  C[b] = op(A[b]) · op(B[b]),  op(A): [M, K], op(B): [K, N], C: [M, N],
// all row-major f32. TRANS_A reads A stored as [K, M], TRANS_B reads B stored as [N, K]:
// transposes are folded into the tile loads, never materialised.
// This file holds the operands; the epilogue (matmul/store.wgsl, matmul/store_bias.wgsl or
// store_bias_relu.wgsl, after matmul/bias.wgsl)
// follows it, then the GEMM core: gemm/core.wgsl (kernels `matmul`, `matmul_bias`) or
// gemm/core_subgroup.wgsl (`*_subgroup`), then gemm/tiles.wgsl.
//
// Split K. With `splits` > 1, workgroup z computes, for batch z / splits, the partial product
// over K range s * k_chunk .. (s + 1) * k_chunk of split s = z % splits, and writes it as
// matrix z of C (so C holds [batch, splits, M, N]; the caller sums the splits). A thin
// product with a long K (a classifier's [64, 4608] x [4608, 10]) then runs as several
// workgroups instead of one.
//
// Dispatch: (ceil(N / TILE_N), ceil(M / TILE_M), batches * splits); workgroup z computes
// product z0 + z, reading A at batch * a_stride and B at batch * b_stride (a stride of 0
// broadcasts one matrix to every batch) and writing C at (z0 + z) * M * N.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// C is written transposed, [N, M]: how a product with a thin N runs as its transpose,
// C^T = op(B)^T op(A)^T, in tiles that fit the thin side.
override TRANS_C: bool = false;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    z0: u32,
    a_stride: u32,
    b_stride: u32,
    splits: u32,
    k_chunk: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// The batch and the first K index of workgroup z.
fn product(z: u32) -> vec2<u32> {
    let g = p.z0 + z;
    return vec2<u32>(g / p.splits, (g % p.splits) * p.k_chunk);
}

fn gemm_dims(z: u32) -> vec3<u32> {
    let k0 = product(z).y;
    return vec3<u32>(p.m, p.n, min(p.k - k0, p.k_chunk));
}

fn a_along_m() -> bool {
    return TRANS_A;
}

fn b_along_k() -> bool {
    return TRANS_B;
}

fn load_a(z: u32, m: u32, k: u32) -> f32 {
    let pr = product(z);
    let off = pr.x * p.a_stride;
    if (TRANS_A) {
        return a[off + (pr.y + k) * p.m + m];
    }
    return a[off + m * p.k + pr.y + k];
}

fn load_b(z: u32, k: u32, n: u32) -> f32 {
    let pr = product(z);
    let off = pr.x * p.b_stride;
    if (TRANS_B) {
        return b[off + n * p.k + pr.y + k];
    }
    return b[off + (pr.y + k) * p.n + n];
}

// Where C[m, n] of workgroup z goes.
fn c_index(z: u32, m: u32, n: u32) -> u32 {
    if (TRANS_C) {
        return (p.z0 + z) * p.m * p.n + n * p.m + m;
    }
    return (p.z0 + z) * p.m * p.n + m * p.n + n;
}
