// Batched matrix product  C[b] = op(A[b]) · op(B[b]),  op(A): [M, K], op(B): [K, N], C: [M, N],
// all row-major f32. TRANS_A reads A stored as [K, M], TRANS_B reads B stored as [N, K]:
// transposes are folded into the tile loads, never materialised.
//
// Tiling: a workgroup of THREADS_X x THREADS_Y invocations computes a TILE_M x TILE_N block of
// C. It walks K in slabs of TILE_K: the slab of op(A) (TILE_K x TILE_M) and of op(B)
// (TILE_K x TILE_N) is staged in workgroup memory, then every invocation accumulates its
// (TILE_M / THREADS_Y) x (TILE_N / THREADS_X) outputs in registers: rows ty + i*THREADS_Y and
// columns tx + j*THREADS_X, strided so that neighbouring invocations read neighbouring words.
// Out-of-range rows, columns and K are loaded as 0 and never stored.
// Constraints: TILE_M / THREADS_Y and TILE_N / THREADS_X are whole and at most MAX_REG.
//
// Dispatch: (ceil(N / TILE_N), ceil(M / TILE_M), batches); workgroup z computes batch
// batch0 + z, reading A at batch * a_stride and B at batch * b_stride (a stride of 0
// broadcasts one matrix to every batch) and writing C at batch * M * N.

override TILE_M: u32 = 64u;
override TILE_N: u32 = 64u;
override TILE_K: u32 = 16u;
override THREADS_X: u32 = 16u;
override THREADS_Y: u32 = 16u;
override TRANS_A: bool = false;
override TRANS_B: bool = false;

const MAX_REG: u32 = 8u;

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

var<workgroup> a_tile: array<f32, TILE_K * TILE_M>;
var<workgroup> b_tile: array<f32, TILE_K * TILE_N>;

@compute @workgroup_size(THREADS_X, THREADS_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let rows_per = TILE_M / THREADS_Y;
    let cols_per = TILE_N / THREADS_X;
    let batch = p.batch0 + wid.z;
    let a_off = batch * p.a_stride;
    let b_off = batch * p.b_stride;
    let c_off = batch * p.m * p.n;
    let row0 = wid.y * TILE_M;
    let col0 = wid.x * TILE_N;
    let tid = lid.y * THREADS_X + lid.x;
    let threads = THREADS_X * THREADS_Y;

    var acc: array<array<f32, MAX_REG>, MAX_REG>;
    for (var i = 0u; i < MAX_REG; i++) {
        for (var j = 0u; j < MAX_REG; j++) {
            acc[i][j] = 0.0;
        }
    }

    for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
        for (var e = tid; e < TILE_M * TILE_K; e += threads) {
            var mm = e / TILE_K;
            var kk = e % TILE_K;
            if (TRANS_A) {
                kk = e / TILE_M;
                mm = e % TILE_M;
            }
            let gm = row0 + mm;
            let gk = k0 + kk;
            var v = 0.0;
            if (gm < p.m && gk < p.k) {
                if (TRANS_A) {
                    v = a[a_off + gk * p.m + gm];
                } else {
                    v = a[a_off + gm * p.k + gk];
                }
            }
            a_tile[kk * TILE_M + mm] = v;
        }
        for (var e = tid; e < TILE_N * TILE_K; e += threads) {
            var kk = e / TILE_N;
            var nn = e % TILE_N;
            if (TRANS_B) {
                nn = e / TILE_K;
                kk = e % TILE_K;
            }
            let gn = col0 + nn;
            let gk = k0 + kk;
            var v = 0.0;
            if (gn < p.n && gk < p.k) {
                if (TRANS_B) {
                    v = b[b_off + gn * p.k + gk];
                } else {
                    v = b[b_off + gk * p.n + gn];
                }
            }
            b_tile[kk * TILE_N + nn] = v;
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TILE_K; kk++) {
            var av: array<f32, MAX_REG>;
            var bv: array<f32, MAX_REG>;
            for (var i = 0u; i < rows_per; i++) {
                av[i] = a_tile[kk * TILE_M + lid.y + i * THREADS_Y];
            }
            for (var j = 0u; j < cols_per; j++) {
                bv[j] = b_tile[kk * TILE_N + lid.x + j * THREADS_X];
            }
            for (var i = 0u; i < rows_per; i++) {
                for (var j = 0u; j < cols_per; j++) {
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < rows_per; i++) {
        let gm = row0 + lid.y + i * THREADS_Y;
        for (var j = 0u; j < cols_per; j++) {
            let gn = col0 + lid.x + j * THREADS_X;
            if (gm < p.m && gn < p.n) {
                c[c_off + gm * p.n + gn] = acc[i][j];
            }
        }
    }
}
