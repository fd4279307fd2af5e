// The GEMM core, subgroup variant: C = op(A) · op(B) for the op composed before it
// (matmul/*.wgsl, conv2d/*.wgsl), through gemm/tiles.wgsl's staging and the op's hooks. Used
// only when the adapter has subgroups of a fixed size of at least 8; gemm/core.wgsl is the
// plain path and stays the reference on every other adapter.
//
// Tiling as in gemm/core.wgsl: THREADS_X x THREADS_Y invocations compute a TILE_M x TILE_N
// block (TILE_M = 16 THREADS_Y, TILE_N = 8 THREADS_X), K walked in slabs of TILE_K (a
// multiple of 8) staged K-major in workgroup memory, a 16 x 8 register block per invocation
// (rows 4ty..4ty+3 plus multiples of TILE_M / 4, columns 4tx..4tx+3 and TILE_N / 2 + 4tx..+3).
// The difference: THREADS_X is a multiple of the subgroup size, so every lane of a subgroup
// has the same ty and needs the same op(A) values. For each group of 8 K steps, lane l loads
// the op(A) values of step l only, and step j takes them from lane j with subgroupBroadcast.
// Per K step an invocation then issues 2.5 workgroup-memory vec4 loads for its 128
// multiply-adds; on CPU adapters (lavapipe), where such a load is a per-lane loop and a
// broadcast is a register shuffle, that is what bounds throughput.
//
// Workgroups are one-dimensional (THREADS_X * THREADS_Y), as subgroup builtins require.
// Dispatch: (ceil(N / TILE_N), ceil(M / TILE_M), Z), as gemm/core.wgsl.

override TILE_K: u32 = 16u;
override THREADS_X: u32 = 16u;
override THREADS_Y: u32 = 16u;
override TILE_M: u32 = 16u * THREADS_Y;
override TILE_N: u32 = 8u * THREADS_X;

// The invocation's block of C: acc_<row>_<column half>, one vec4 of four columns each.
var<private> acc_0_0: vec4<f32>;
var<private> acc_0_1: vec4<f32>;
var<private> acc_1_0: vec4<f32>;
var<private> acc_1_1: vec4<f32>;
var<private> acc_2_0: vec4<f32>;
var<private> acc_2_1: vec4<f32>;
var<private> acc_3_0: vec4<f32>;
var<private> acc_3_1: vec4<f32>;
var<private> acc_4_0: vec4<f32>;
var<private> acc_4_1: vec4<f32>;
var<private> acc_5_0: vec4<f32>;
var<private> acc_5_1: vec4<f32>;
var<private> acc_6_0: vec4<f32>;
var<private> acc_6_1: vec4<f32>;
var<private> acc_7_0: vec4<f32>;
var<private> acc_7_1: vec4<f32>;
var<private> acc_8_0: vec4<f32>;
var<private> acc_8_1: vec4<f32>;
var<private> acc_9_0: vec4<f32>;
var<private> acc_9_1: vec4<f32>;
var<private> acc_10_0: vec4<f32>;
var<private> acc_10_1: vec4<f32>;
var<private> acc_11_0: vec4<f32>;
var<private> acc_11_1: vec4<f32>;
var<private> acc_12_0: vec4<f32>;
var<private> acc_12_1: vec4<f32>;
var<private> acc_13_0: vec4<f32>;
var<private> acc_13_1: vec4<f32>;
var<private> acc_14_0: vec4<f32>;
var<private> acc_14_1: vec4<f32>;
var<private> acc_15_0: vec4<f32>;
var<private> acc_15_1: vec4<f32>;

// One K step: the outer product of this step's op(A) rows (a0..a3, 4 rows each) with this
// invocation's two vec4s of op(B) columns.
fn mac(a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>, kk: u32, tx: u32) {
    let b_row = TILE_N / 4u;
    let b0 = b_tile[kk * b_row + tx];
    let b1 = b_tile[kk * b_row + tx + THREADS_X];
    acc_0_0 = fma(vec4<f32>(a0.x), b0, acc_0_0);
    acc_0_1 = fma(vec4<f32>(a0.x), b1, acc_0_1);
    acc_1_0 = fma(vec4<f32>(a0.y), b0, acc_1_0);
    acc_1_1 = fma(vec4<f32>(a0.y), b1, acc_1_1);
    acc_2_0 = fma(vec4<f32>(a0.z), b0, acc_2_0);
    acc_2_1 = fma(vec4<f32>(a0.z), b1, acc_2_1);
    acc_3_0 = fma(vec4<f32>(a0.w), b0, acc_3_0);
    acc_3_1 = fma(vec4<f32>(a0.w), b1, acc_3_1);
    acc_4_0 = fma(vec4<f32>(a1.x), b0, acc_4_0);
    acc_4_1 = fma(vec4<f32>(a1.x), b1, acc_4_1);
    acc_5_0 = fma(vec4<f32>(a1.y), b0, acc_5_0);
    acc_5_1 = fma(vec4<f32>(a1.y), b1, acc_5_1);
    acc_6_0 = fma(vec4<f32>(a1.z), b0, acc_6_0);
    acc_6_1 = fma(vec4<f32>(a1.z), b1, acc_6_1);
    acc_7_0 = fma(vec4<f32>(a1.w), b0, acc_7_0);
    acc_7_1 = fma(vec4<f32>(a1.w), b1, acc_7_1);
    acc_8_0 = fma(vec4<f32>(a2.x), b0, acc_8_0);
    acc_8_1 = fma(vec4<f32>(a2.x), b1, acc_8_1);
    acc_9_0 = fma(vec4<f32>(a2.y), b0, acc_9_0);
    acc_9_1 = fma(vec4<f32>(a2.y), b1, acc_9_1);
    acc_10_0 = fma(vec4<f32>(a2.z), b0, acc_10_0);
    acc_10_1 = fma(vec4<f32>(a2.z), b1, acc_10_1);
    acc_11_0 = fma(vec4<f32>(a2.w), b0, acc_11_0);
    acc_11_1 = fma(vec4<f32>(a2.w), b1, acc_11_1);
    acc_12_0 = fma(vec4<f32>(a3.x), b0, acc_12_0);
    acc_12_1 = fma(vec4<f32>(a3.x), b1, acc_12_1);
    acc_13_0 = fma(vec4<f32>(a3.y), b0, acc_13_0);
    acc_13_1 = fma(vec4<f32>(a3.y), b1, acc_13_1);
    acc_14_0 = fma(vec4<f32>(a3.z), b0, acc_14_0);
    acc_14_1 = fma(vec4<f32>(a3.z), b1, acc_14_1);
    acc_15_0 = fma(vec4<f32>(a3.w), b0, acc_15_0);
    acc_15_1 = fma(vec4<f32>(a3.w), b1, acc_15_1);
}

@compute @workgroup_size(THREADS_X * THREADS_Y)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let z = wid.z;
    let dims = gemm_dims(z);
    let row0 = wid.y * TILE_M;
    let col0 = wid.x * TILE_N;
    // Subgroups take consecutive invocation indices, so with THREADS_X a multiple of the
    // subgroup size all lanes of a subgroup share ty (subgroup builtins need a 1-D workgroup).
    let lid = vec2<u32>(tid % THREADS_X, tid / THREADS_X);
    let a_row = TILE_M / 4u;

    for (var k0 = 0u; k0 < dims.z; k0 += TILE_K) {
        stage_tiles(z, dims, row0, col0, k0, tid, THREADS_X * THREADS_Y);
        workgroupBarrier();

        for (var k8 = 0u; k8 < TILE_K; k8 += 8u) {
            let mine = (k8 + lane % 8u) * a_row + lid.y;
            let a0 = a_tile[mine + 0u * THREADS_Y];
            let a1 = a_tile[mine + 1u * THREADS_Y];
            let a2 = a_tile[mine + 2u * THREADS_Y];
            let a3 = a_tile[mine + 3u * THREADS_Y];
            mac(subgroupBroadcast(a0, 0u), subgroupBroadcast(a1, 0u), subgroupBroadcast(a2, 0u), subgroupBroadcast(a3, 0u), k8 + 0u, lid.x);
            mac(subgroupBroadcast(a0, 1u), subgroupBroadcast(a1, 1u), subgroupBroadcast(a2, 1u), subgroupBroadcast(a3, 1u), k8 + 1u, lid.x);
            mac(subgroupBroadcast(a0, 2u), subgroupBroadcast(a1, 2u), subgroupBroadcast(a2, 2u), subgroupBroadcast(a3, 2u), k8 + 2u, lid.x);
            mac(subgroupBroadcast(a0, 3u), subgroupBroadcast(a1, 3u), subgroupBroadcast(a2, 3u), subgroupBroadcast(a3, 3u), k8 + 3u, lid.x);
            mac(subgroupBroadcast(a0, 4u), subgroupBroadcast(a1, 4u), subgroupBroadcast(a2, 4u), subgroupBroadcast(a3, 4u), k8 + 4u, lid.x);
            mac(subgroupBroadcast(a0, 5u), subgroupBroadcast(a1, 5u), subgroupBroadcast(a2, 5u), subgroupBroadcast(a3, 5u), k8 + 5u, lid.x);
            mac(subgroupBroadcast(a0, 6u), subgroupBroadcast(a1, 6u), subgroupBroadcast(a2, 6u), subgroupBroadcast(a3, 6u), k8 + 6u, lid.x);
            mac(subgroupBroadcast(a0, 7u), subgroupBroadcast(a1, 7u), subgroupBroadcast(a2, 7u), subgroupBroadcast(a3, 7u), k8 + 7u, lid.x);
        }
        workgroupBarrier();
    }

    let n0 = col0 + 4u * lid.x;
    let n1 = n0 + TILE_N / 2u;
    store4(z, dims, row0 + 4u * lid.y + 0u * TILE_M / 4u + 0u, n0, acc_0_0);
    store4(z, dims, row0 + 4u * lid.y + 0u * TILE_M / 4u + 0u, n1, acc_0_1);
    store4(z, dims, row0 + 4u * lid.y + 0u * TILE_M / 4u + 1u, n0, acc_1_0);
    store4(z, dims, row0 + 4u * lid.y + 0u * TILE_M / 4u + 1u, n1, acc_1_1);
    store4(z, dims, row0 + 4u * lid.y + 0u * TILE_M / 4u + 2u, n0, acc_2_0);
    store4(z, dims, row0 + 4u * lid.y + 0u * TILE_M / 4u + 2u, n1, acc_2_1);
    store4(z, dims, row0 + 4u * lid.y + 0u * TILE_M / 4u + 3u, n0, acc_3_0);
    store4(z, dims, row0 + 4u * lid.y + 0u * TILE_M / 4u + 3u, n1, acc_3_1);
    store4(z, dims, row0 + 4u * lid.y + 1u * TILE_M / 4u + 0u, n0, acc_4_0);
    store4(z, dims, row0 + 4u * lid.y + 1u * TILE_M / 4u + 0u, n1, acc_4_1);
    store4(z, dims, row0 + 4u * lid.y + 1u * TILE_M / 4u + 1u, n0, acc_5_0);
    store4(z, dims, row0 + 4u * lid.y + 1u * TILE_M / 4u + 1u, n1, acc_5_1);
    store4(z, dims, row0 + 4u * lid.y + 1u * TILE_M / 4u + 2u, n0, acc_6_0);
    store4(z, dims, row0 + 4u * lid.y + 1u * TILE_M / 4u + 2u, n1, acc_6_1);
    store4(z, dims, row0 + 4u * lid.y + 1u * TILE_M / 4u + 3u, n0, acc_7_0);
    store4(z, dims, row0 + 4u * lid.y + 1u * TILE_M / 4u + 3u, n1, acc_7_1);
    store4(z, dims, row0 + 4u * lid.y + 2u * TILE_M / 4u + 0u, n0, acc_8_0);
    store4(z, dims, row0 + 4u * lid.y + 2u * TILE_M / 4u + 0u, n1, acc_8_1);
    store4(z, dims, row0 + 4u * lid.y + 2u * TILE_M / 4u + 1u, n0, acc_9_0);
    store4(z, dims, row0 + 4u * lid.y + 2u * TILE_M / 4u + 1u, n1, acc_9_1);
    store4(z, dims, row0 + 4u * lid.y + 2u * TILE_M / 4u + 2u, n0, acc_10_0);
    store4(z, dims, row0 + 4u * lid.y + 2u * TILE_M / 4u + 2u, n1, acc_10_1);
    store4(z, dims, row0 + 4u * lid.y + 2u * TILE_M / 4u + 3u, n0, acc_11_0);
    store4(z, dims, row0 + 4u * lid.y + 2u * TILE_M / 4u + 3u, n1, acc_11_1);
    store4(z, dims, row0 + 4u * lid.y + 3u * TILE_M / 4u + 0u, n0, acc_12_0);
    store4(z, dims, row0 + 4u * lid.y + 3u * TILE_M / 4u + 0u, n1, acc_12_1);
    store4(z, dims, row0 + 4u * lid.y + 3u * TILE_M / 4u + 1u, n0, acc_13_0);
    store4(z, dims, row0 + 4u * lid.y + 3u * TILE_M / 4u + 1u, n1, acc_13_1);
    store4(z, dims, row0 + 4u * lid.y + 3u * TILE_M / 4u + 2u, n0, acc_14_0);
    store4(z, dims, row0 + 4u * lid.y + 3u * TILE_M / 4u + 2u, n1, acc_14_1);
    store4(z, dims, row0 + 4u * lid.y + 3u * TILE_M / 4u + 3u, n0, acc_15_0);
    store4(z, dims, row0 + 4u * lid.y + 3u * TILE_M / 4u + 3u, n1, acc_15_1);
}
