// The bias-and-ReLU epilogue of matmul: y = C[m, n] + bias (matmul/bias.wgsl) is stored in
// C, and max(y, 0) in `activated`, so a layer and the ReLU after it take one pass and both
// outputs stay visible. Only whole products (no split K) run it: a partial sum has no ReLU.

@group(0) @binding(5) var<storage, read_write> activated: array<f32>;

fn store_c(z: u32, m: u32, n: u32, v: f32) {
    let y = biased(z, m, n, v);
    let i = c_index(z, m, n);
    c[i] = y;
    // as the unary ReLU: NaN stays NaN
    activated[i] = select(y, 0.0, y < 0.0);
}
