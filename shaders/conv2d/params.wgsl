// The convolution's geometry, the uniform every conv2d kernel reads (Rust: `ConvParams`).
// n0 and nb are im2col's batch chunk (first image, images); the implicit-GEMM kernels
// ignore them.

struct Params {
    n: u32,
    c_in: u32,
    h: u32,
    w: u32,
    c_out: u32,
    kh: u32,
    kw: u32,
    oh: u32,
    ow: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    dil_h: u32,
    dil_w: u32,
    groups: u32,
    has_bias: u32,
    n0: u32,
    nb: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
