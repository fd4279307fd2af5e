// Matmul for a product with at most four rows (a batch-1 classifier's [1, 25088] x
// [25088, 4096]), on CPU adapters: each invocation owns one column n of C and walks all of
// K, with the op(A) values read at the same address by every lane (one load, broadcast)
// and op(B) read once per element. The GEMM core's smallest tile is 16 rows, so a one-row
// product would do 16 times the work, and stage op(B) through workgroup memory on the way.
// Composed after matmul/operands.wgsl and an epilogue (matmul/store.wgsl or
// matmul/store_bias.wgsl), whose hooks it calls; no split of K.
//
// Dispatch: (ceil(N / WG), ceil(M / 4), batches).

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let z = wid.z;
    let dims = gemm_dims(z);
    let n = wid.x * WG + lid;
    let m0 = wid.y * 4u;
    if (n >= dims.y) {
        return;
    }
    // Rows past M read row M - 1 (in range) and are not stored.
    let last = dims.x - 1u;
    let m1 = min(m0 + 1u, last);
    let m2 = min(m0 + 2u, last);
    let m3 = min(m0 + 3u, last);
    var c = vec4<f32>(0.0);
    for (var k = 0u; k < dims.z; k++) {
        let bv = load_b(z, k, n);
        let av = vec4<f32>(load_a(z, m0, k), load_a(z, m1, k), load_a(z, m2, k), load_a(z, m3, k));
        c = fma(av, vec4<f32>(bv), c);
    }
    for (var r = 0u; r < 4u; r++) {
        if (m0 + r < dims.x) {
            store_c(z, m0 + r, n, c[r]);
        }
    }
}
