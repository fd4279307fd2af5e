// The bias of matmul's biased epilogues: bias[n] over a linear layer's output features
// (BIAS_ALONG_M false) or bias[m] over a convolution's output channels (true: rows of
// W · cols). With split K only split 0 adds it, so the sum of the splits holds it once.
// Goes after matmul/operands.wgsl, before matmul/store_bias.wgsl or store_bias_relu.wgsl.

override BIAS_ALONG_M: bool = false;

@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn biased(z: u32, m: u32, n: u32, v: f32) -> f32 {
    if ((p.z0 + z) % p.splits == 0u) {
        return v + bias[select(n, m, BIAS_ALONG_M)];
    }
    return v;
}
