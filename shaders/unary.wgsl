// Elementwise unary op: out[i] = f(x[i]), f chosen by the OP override (codes: UnaryOp::code).
//   0 neg  1 abs  2 exp  3 log  4 sqrt  5 tanh  6 sigmoid  7 relu  8 pow(x, s)  9 x + s  10 x * s
// tanh and sigmoid use forms that cannot overflow; pow follows PyTorch for negative bases.
// `element(i)` computes element i; shaders/per_element.wgsl, joined after, runs it over `p.len`.

override OP: u32 = 0u;
struct Params {
    len: u32,
    scalar: f32,
    _pad: vec2<u32>,
}

// NaN and -inf are built at run time from these bits: WGSL makes a constant expression
// that evaluates to NaN or infinity a shader-creation error (browsers' compilers enforce it).
var<private> NAN_BITS: u32 = 0x7fc00000u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn nan() -> f32 {
    return bitcast<f32>(NAN_BITS);
}

fn powf(v: f32, e: f32) -> f32 {
    if (e == 0.0) {
        return 1.0;
    }
    let r = pow(abs(v), e);
    if (v < 0.0) {
        if (fract(e) != 0.0) {
            return nan();
        }
        if (fract(e * 0.5) != 0.0) {
            return -r;
        }
    }
    return r;
}

fn apply(v: f32, s: f32) -> f32 {
    switch OP {
        case 0u: { return -v; }
        case 1u: { return abs(v); }
        case 2u: { return exp(v); }
        case 3u: { return log(v); }
        case 4u: { return sqrt(v); }
        case 5u: {
            let e = exp(-2.0 * abs(v));
            return sign(v) * (1.0 - e) / (1.0 + e);
        }
        case 6u: {
            let e = exp(-abs(v));
            return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
        }
        case 7u: { return select(v, 0.0, v < 0.0); }
        case 8u: { return powf(v, s); }
        case 9u: { return v + s; }
        case 10u: { return v * s; }
        default: { return v; }
    }
}

fn element(i: u32) {
    out[i] = apply(x[i], p.scalar);
}
