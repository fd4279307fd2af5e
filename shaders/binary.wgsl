// Elementwise binary op with NumPy broadcasting: out[i] = f(a[ia], b[ib]).
// The output index i is unravelled over `shape`; ia and ib use the operands' strides, which are
// 0 along broadcast axes. When PLAIN is set both operands are laid out like the output.
// OP codes (BinaryOp::code): 0 add 1 sub 2 mul 3 div 4 maximum 5 minimum
//   6 eq 7 ne 8 lt 9 le 10 gt 11 ge   (comparisons give 1.0 or 0.0; max/min propagate NaN)
//   12 relu_grad: x * (y > 0), ReLU's gradient x where its output y is positive
// `element(i)` computes element i; shaders/per_element.wgsl, joined after, runs it over `p.len`.

override OP: u32 = 0u;
// Both operands laid out like the output: no index arithmetic.
override PLAIN: bool = false;

struct Params {
    len: u32,
    rank: u32,
    _pad: vec2<u32>,
    offsets: vec4<u32>,
    shape: array<vec4<u32>, 2>,
    strides: array<array<vec4<u32>, 2>, 3>,
}

// NaN and -inf are built at run time from these bits: WGSL makes a constant expression
// that evaluates to NaN or infinity a shader-creation error (browsers' compilers enforce it).
var<private> NAN_BITS: u32 = 0x7fc00000u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn flag(c: bool) -> f32 {
    return select(0.0, 1.0, c);
}

fn apply(x: f32, y: f32) -> f32 {
    switch OP {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        case 3u: { return x / y; }
        case 4u: { return select(max(x, y), bitcast<f32>(NAN_BITS), is_nan(x) || is_nan(y)); }
        case 5u: { return select(min(x, y), bitcast<f32>(NAN_BITS), is_nan(x) || is_nan(y)); }
        case 6u: { return flag(x == y); }
        case 7u: { return flag(x != y); }
        case 8u: { return flag(x < y); }
        case 9u: { return flag(x <= y); }
        case 10u: { return flag(x > y); }
        case 11u: { return flag(x >= y); }
        case 12u: { return x * flag(y > 0.0); }
        default: { return x; }
    }
}

fn element(i: u32) {
    var ia = i;
    var ib = i;
    if (!PLAIN) {
        ia = 0u;
        ib = 0u;
        var rem = i;
        for (var d = i32(p.rank) - 1; d >= 0; d--) {
            let n = p.shape[d / 4][d % 4];
            let c = rem % n;
            rem = rem / n;
            ia += c * p.strides[0][d / 4][d % 4];
            ib += c * p.strides[1][d / 4][d % 4];
        }
    }
    out[i] = apply(a[ia], b[ib]);
}
