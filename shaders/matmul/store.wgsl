// The plain epilogue of matmul: C[m, n] stored as computed. Goes after matmul/operands.wgsl.

fn store_c(z: u32, m: u32, n: u32, v: f32) {
    c[c_index(z, m, n)] = v;
}
