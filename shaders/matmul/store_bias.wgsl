// The bias epilogue of matmul: C[m, n] + bias[n] (BIAS_ALONG_M false: a linear layer's bias
// over output features) or + bias[m] (true: a convolution's bias over output channels, rows
// of W · cols). With split K only split 0 adds it, so the sum of the splits holds it once.
// Goes after matmul/operands.wgsl.

override BIAS_ALONG_M: bool = false;

@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn store_c(z: u32, m: u32, n: u32, v: f32) {
    var out = v;
    if ((p.z0 + z) % p.splits == 0u) {
        out += bias[select(n, m, BIAS_ALONG_M)];
    }
    c[c_index(z, m, n)] = out;
}
