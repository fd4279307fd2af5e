// The GEMM core's shared part: staging one K slab of op(A) and op(B) in workgroup memory, and
// storing four columns of a register row through the op's epilogue. Composed last: after the
// op's file (which defines the hooks below) and after gemm/core.wgsl or
// gemm/core_subgroup.wgsl, which declare TILE_M, TILE_N and TILE_K (declared after their use
// in the arrays below, naga 30 loses the overrides' names and panics at pipeline creation).
//   a_tile[kk * TILE_M / 4 + m / 4][m % 4] = op(A)[row0 + m, k0 + kk]
//   b_tile[kk * TILE_N / 4 + n / 4][n % 4] = op(B)[k0 + kk, col0 + n]
// Elements outside (M, N, K) are staged as 0 and never stored. The `threads` invocations
// share the loads, each taking every threads-th element along the stored tensor's fastest
// axis (a_along_m, b_along_k), so neighbouring invocations read neighbouring addresses.
//
// Hooks the op defines, z being workgroup_id.z (a batch, a channel group):
//   fn gemm_dims(z: u32) -> vec3<u32>           (M, N, K)
//   fn load_a(z: u32, m: u32, k: u32) -> f32    op(A)[m, k], called in range only
//   fn load_b(z: u32, k: u32, n: u32) -> f32    op(B)[k, n], called in range only
//   fn store_c(z: u32, m: u32, n: u32, v: f32)  the epilogue of C[m, n], in range only
//   fn a_along_m() -> bool                      A is stored with m fastest (K-major)
//   fn b_along_k() -> bool                      B is stored with k fastest (N-major)

var<workgroup> a_tile: array<vec4<f32>, TILE_K * TILE_M / 4u>;
var<workgroup> b_tile: array<vec4<f32>, TILE_K * TILE_N / 4u>;

fn stage_tiles(z: u32, dims: vec3<u32>, row0: u32, col0: u32, k0: u32, tid: u32, threads: u32) {
    let a_row = TILE_M / 4u;
    let b_row = TILE_N / 4u;
    for (var e = tid; e < TILE_M * TILE_K; e += threads) {
        var mm = e / TILE_K;
        var kk = e % TILE_K;
        if (a_along_m()) {
            kk = e / TILE_M;
            mm = e % TILE_M;
        }
        var v = 0.0;
        if (row0 + mm < dims.x && k0 + kk < dims.z) {
            v = load_a(z, row0 + mm, k0 + kk);
        }
        a_tile[kk * a_row + mm / 4u][mm % 4u] = v;
    }
    for (var e = tid; e < TILE_N * TILE_K; e += threads) {
        var kk = e / TILE_N;
        var nn = e % TILE_N;
        if (b_along_k()) {
            nn = e / TILE_K;
            kk = e % TILE_K;
        }
        var v = 0.0;
        if (col0 + nn < dims.y && k0 + kk < dims.z) {
            v = load_b(z, k0 + kk, col0 + nn);
        }
        b_tile[kk * b_row + nn / 4u][nn % 4u] = v;
    }
}

fn store4(z: u32, dims: vec3<u32>, row: u32, col: u32, v: vec4<f32>) {
    if (row >= dims.x) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        if (col + j < dims.y) {
            store_c(z, row, col + j, v[j]);
        }
    }
}
