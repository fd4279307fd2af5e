// The input value one kernel tap reads, for the convolution kernels that gather from x
// (forward and the weight gradient; composed after their file):
//   x[nb, c, oy*stride_h + ky*dil_h - pad_h, ox*stride_w + kx*dil_w - pad_w], 0 outside the
//   image (zero padding).

fn tap(c: u32, ky: u32, kx: u32, nb: u32, oy: u32, ox: u32) -> f32 {
    let iy = i32(oy * p.stride_h + ky * p.dil_h) - i32(p.pad_h);
    let ix = i32(ox * p.stride_w + kx * p.dil_w) - i32(p.pad_w);
    if (iy < 0 || ix < 0 || iy >= i32(p.h) || ix >= i32(p.w)) {
        return 0.0;
    }
    return x[((nb * p.c_in + c) * p.h + u32(iy)) * p.w + u32(ix)];
}
