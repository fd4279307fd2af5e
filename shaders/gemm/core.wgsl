// The GEMM core, plain WGSL: C = op(A) · op(B) for the op composed before it (matmul/*.wgsl,
// conv2d/*.wgsl), through gemm/tiles.wgsl's staging and the op's load and store hooks.
//
// Tiling. A workgroup of THREADS_X x THREADS_Y invocations computes a TILE_M x TILE_N block
// of C (TILE_M = 8 THREADS_Y, TILE_N = 8 THREADS_X). It walks K in slabs of TILE_K: the
// slab of op(A) and of op(B) is staged in workgroup memory K-major, as vec4s along M and N,
// then each invocation accumulates an 8 x 8 register block: rows 4ty..4ty+3 and
// TILE_M/2 + 4ty..+3, columns 4tx..4tx+3 and TILE_N/2 + 4tx..+3. Per K step an invocation
// reads four vec4s and issues sixteen vec4 FMAs (64 multiply-adds), which keeps the
// load-to-FMA ratio low both on GPUs and on CPU implementations such as lavapipe, where
// every workgroup-memory load is a per-lane gather.
//
// Dispatch: (ceil(N / TILE_N), ceil(M / TILE_M), Z); workgroup z computes the op's GEMM z.

override TILE_K: u32 = 16u;
override THREADS_X: u32 = 16u;
override THREADS_Y: u32 = 16u;
override TILE_M: u32 = 8u * THREADS_Y;
override TILE_N: u32 = 8u * THREADS_X;

@compute @workgroup_size(THREADS_X, THREADS_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let z = wid.z;
    let dims = gemm_dims(z);
    let row0 = wid.y * TILE_M;
    let col0 = wid.x * TILE_N;
    let tid = lid.y * THREADS_X + lid.x;
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
        stage_tiles(z, dims, row0, col0, k0, tid, THREADS_X * THREADS_Y);
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
    store4(z, dims, r_lo, n_lo, c00);
    store4(z, dims, r_lo, n_hi, c01);
    store4(z, dims, r_lo + 1u, n_lo, c10);
    store4(z, dims, r_lo + 1u, n_hi, c11);
    store4(z, dims, r_lo + 2u, n_lo, c20);
    store4(z, dims, r_lo + 2u, n_hi, c21);
    store4(z, dims, r_lo + 3u, n_lo, c30);
    store4(z, dims, r_lo + 3u, n_hi, c31);
    store4(z, dims, r_hi, n_lo, c40);
    store4(z, dims, r_hi, n_hi, c41);
    store4(z, dims, r_hi + 1u, n_lo, c50);
    store4(z, dims, r_hi + 1u, n_hi, c51);
    store4(z, dims, r_hi + 2u, n_lo, c60);
    store4(z, dims, r_hi + 2u, n_hi, c61);
    store4(z, dims, r_hi + 3u, n_lo, c70);
    store4(z, dims, r_hi + 3u, n_hi, c71);
}
