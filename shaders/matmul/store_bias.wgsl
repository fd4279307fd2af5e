// The bias epilogue of matmul: C[m, n] + bias (matmul/bias.wgsl), stored.

fn store_c(z: u32, m: u32, n: u32, v: f32) {
    c[c_index(z, m, n)] = biased(z, m, n, v);
}
