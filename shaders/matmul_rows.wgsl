// Batched matrix product, row-broadcast variant, for CPU-like adapters (lavapipe, SwiftShader):
//   C[b] = op(A[b]) · op(B[b]),  op(A): [M, K], op(B): [K, N], C: [M, N], row-major f32;
//   TRANS_A reads A stored [K, M], TRANS_B reads B stored [N, K].
//
// Tiling. A workgroup of THREADS invocations computes ROWS (16) rows x TILE_N = 4 THREADS
// columns of C. It walks K in slabs of TILE_K: the slab of op(A) (ROWS x TILE_K) is staged in
// workgroup memory and read at addresses that are the same for every invocation (a broadcast,
// one scalar load on a CPU adapter); each invocation reads its four columns of op(B) straight
// from the storage buffer (columns tid + j THREADS, j < 4), so per K step it issues four
// per-lane loads for 16 vec4 FMAs (64 multiply-adds). On CPU adapters, where a per-lane load
// is a gather, that ratio is what bounds throughput.
// Out-of-range rows and columns read as 0 and are never stored.
//
// Dispatch: (ceil(N / TILE_N), ceil(M / ROWS), batches); workgroup z computes batch batch0 + z,
// reading A at batch * a_stride and B at batch * b_stride (0 broadcasts one matrix) and
// writing C at batch * M * N.

override TILE_K: u32 = 16u;
override THREADS: u32 = 64u;
override TRANS_A: bool = false;
override TRANS_B: bool = false;

const ROWS: u32 = 16u;

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

// a_tile[kk * ROWS + r] = op(A)[row0 + r, k0 + kk]
var<workgroup> a_tile: array<f32, TILE_K * ROWS>;

fn load_b(off: u32, gk: u32, gn: u32) -> f32 {
    if (gn >= p.n) {
        return 0.0;
    }
    if (TRANS_B) {
        return b[off + gn * p.k + gk];
    }
    return b[off + gk * p.n + gn];
}

fn store(off: u32, row: u32, cols: vec4<u32>, v: vec4<f32>) {
    if (row >= p.m) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        if (cols[j] < p.n) {
            c[off + row * p.n + cols[j]] = v[j];
        }
    }
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let batch = p.batch0 + wid.z;
    let a_off = batch * p.a_stride;
    let b_off = batch * p.b_stride;
    let row0 = wid.y * ROWS;
    let cols = wid.x * 4u * THREADS + tid + vec4<u32>(0u, 1u, 2u, 3u) * THREADS;

    var c0 = vec4<f32>(0.0);
    var c1 = vec4<f32>(0.0);
    var c2 = vec4<f32>(0.0);
    var c3 = vec4<f32>(0.0);
    var c4 = vec4<f32>(0.0);
    var c5 = vec4<f32>(0.0);
    var c6 = vec4<f32>(0.0);
    var c7 = vec4<f32>(0.0);
    var c8 = vec4<f32>(0.0);
    var c9 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0);
    var c11 = vec4<f32>(0.0);
    var c12 = vec4<f32>(0.0);
    var c13 = vec4<f32>(0.0);
    var c14 = vec4<f32>(0.0);
    var c15 = vec4<f32>(0.0);

    for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
        for (var e = tid; e < ROWS * TILE_K; e += THREADS) {
            var r = e / TILE_K;
            var kk = e % TILE_K;
            if (TRANS_A) {
                kk = e / ROWS;
                r = e % ROWS;
            }
            let gm = row0 + r;
            let gk = k0 + kk;
            var v = 0.0;
            if (gm < p.m && gk < p.k) {
                if (TRANS_A) {
                    v = a[a_off + gk * p.m + gm];
                } else {
                    v = a[a_off + gm * p.k + gk];
                }
            }
            a_tile[kk * ROWS + r] = v;
        }
        workgroupBarrier();

        let steps = min(TILE_K, p.k - k0);
        for (var kk = 0u; kk < steps; kk++) {
            let gk = k0 + kk;
            let bv = vec4<f32>(load_b(b_off, gk, cols.x), load_b(b_off, gk, cols.y), load_b(b_off, gk, cols.z), load_b(b_off, gk, cols.w));
            let at = kk * ROWS;
            c0 = fma(vec4<f32>(a_tile[at]), bv, c0);
            c1 = fma(vec4<f32>(a_tile[at + 1u]), bv, c1);
            c2 = fma(vec4<f32>(a_tile[at + 2u]), bv, c2);
            c3 = fma(vec4<f32>(a_tile[at + 3u]), bv, c3);
            c4 = fma(vec4<f32>(a_tile[at + 4u]), bv, c4);
            c5 = fma(vec4<f32>(a_tile[at + 5u]), bv, c5);
            c6 = fma(vec4<f32>(a_tile[at + 6u]), bv, c6);
            c7 = fma(vec4<f32>(a_tile[at + 7u]), bv, c7);
            c8 = fma(vec4<f32>(a_tile[at + 8u]), bv, c8);
            c9 = fma(vec4<f32>(a_tile[at + 9u]), bv, c9);
            c10 = fma(vec4<f32>(a_tile[at + 10u]), bv, c10);
            c11 = fma(vec4<f32>(a_tile[at + 11u]), bv, c11);
            c12 = fma(vec4<f32>(a_tile[at + 12u]), bv, c12);
            c13 = fma(vec4<f32>(a_tile[at + 13u]), bv, c13);
            c14 = fma(vec4<f32>(a_tile[at + 14u]), bv, c14);
            c15 = fma(vec4<f32>(a_tile[at + 15u]), bv, c15);
        }
        workgroupBarrier();
    }

    let off = batch * p.m * p.n;
    store(off, row0, cols, c0);
    store(off, row0 + 1u, cols, c1);
    store(off, row0 + 2u, cols, c2);
    store(off, row0 + 3u, cols, c3);
    store(off, row0 + 4u, cols, c4);
    store(off, row0 + 5u, cols, c5);
    store(off, row0 + 6u, cols, c6);
    store(off, row0 + 7u, cols, c7);
    store(off, row0 + 8u, cols, c8);
    store(off, row0 + 9u, cols, c9);
    store(off, row0 + 10u, cols, c10);
    store(off, row0 + 11u, cols, c11);
    store(off, row0 + 12u, cols, c12);
    store(off, row0 + 13u, cols, c13);
    store(off, row0 + 14u, cols, c14);
    store(off, row0 + 15u, cols, c15);
}
