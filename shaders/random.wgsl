// Counter-based random fill with Philox4x32-10 (Salmon et al. 2011).
// Invocation t computes block k = block0 + t, philox([k, 0, 0, 0], seed), and writes elements
// 4t..4t+3 of the bound range (a large array is filled range by range, block0 = start / 4):
//   DIST 0 (uniform):  out = a + (b - a) * u,  u = (word >> 8) * 2^-24      in [a, b)
//   DIST 1 (normal):   Box-Muller on word pairs (0,1) and (2,3); out = a + b * z
//   DIST 2 (dropout):  out = u >= a ? b : 0   (a = p, b = 1 / (1 - p), or 0 when p = 1)
// The value of element i depends only on (seed, i), never on dispatch order; the CPU
// reference (crates/device/src/philox.rs) computes the same words.
// Dispatch: ceil(ceil(len / 4) / WG) workgroups, folded as (x, y).

override DIST: u32 = 0u;
override WG: u32 = 256u;

struct Params {
    len: u32,
    seed_lo: u32,
    seed_hi: u32,
    block0: u32,
    a: f32,
    b: f32,
    _pad2: vec2<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

// High and low 32 bits of a 32x32-bit product, from 16-bit halves (WGSL has no u64).
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let cross = (lo_lo >> 16u) + (hi_lo & 0xffffu) + (lo_hi & 0xffffu);
    let hi = hi_hi + (hi_lo >> 16u) + (lo_hi >> 16u) + (cross >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var r = 0u; r < 10u; r++) {
        let p0 = mulhilo(0xD2511F53u, c.x);
        let p1 = mulhilo(0xCD9E8D57u, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
        k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

fn unit(w: u32) -> f32 {
    return f32(w >> 8u) * (1.0 / 16777216.0);
}

fn box_muller(w0: u32, w1: u32) -> vec2<f32> {
    let u1 = f32((w0 >> 8u) + 1u) * (1.0 / 16777216.0);
    let u2 = unit(w1);
    let r = sqrt(-2.0 * log(u1));
    let t = 6.283185307179586 * u2;
    return vec2<f32>(r * cos(t), r * sin(t));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * WG;
    let base = t * 4u;
    if (base >= p.len) {
        return;
    }
    let w = philox(vec4<u32>(p.block0 + t, 0u, 0u, 0u), vec2<u32>(p.seed_lo, p.seed_hi));
    var v: vec4<f32>;
    let u = vec4<f32>(unit(w.x), unit(w.y), unit(w.z), unit(w.w));
    if (DIST == 0u) {
        v = p.a + (p.b - p.a) * u;
    } else if (DIST == 2u) {
        v = select(vec4<f32>(0.0), vec4<f32>(p.b), u >= vec4<f32>(p.a));
    } else {
        let z = vec4<f32>(box_muller(w.x, w.y), box_muller(w.z, w.w));
        v = p.a + p.b * z;
    }
    for (var j = 0u; j < 4u; j++) {
        if (base + j < p.len) {
            out[base + j] = v[j];
        }
    }
}
