// Softmax cross-entropy from logits [rows, classes] and class-index labels (stored as f32),
// with label smoothing e. Per row r with label y, lse = m + log(sum_j exp(z_j - m)),
// m = max_j z_j (so logits of any magnitude stay finite):
//   loss[r]    = lse - (1 - e) * z_y - e * mean_j z_j
//   grad[r, j] = exp(z_j - lse) - (e / classes + (1 - e) * [j == y])
// (the gradient of the row loss; the caller scales it for the reduction). A row whose label
// equals ignore_index gives 0 and 0; a label that is not a class index gives NaN.
// Dispatch: one invocation per row, ceil(rows / WG) workgroups folded as (x, y).

override WG: u32 = 64u;

struct Params {
    rows: u32,
    classes: u32,
    smoothing: f32,
    ignore_index: f32,
}

// NaN and -inf are built at run time from these bits: WGSL makes a constant expression
// that evaluates to NaN or infinity a shader-creation error (browsers' compilers enforce it).
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> NEG_INF_BITS: u32 = 0xff800000u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * WG;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.classes;
    let label = labels[r];
    if (label == p.ignore_index) {
        loss[r] = 0.0;
        for (var j = 0u; j < p.classes; j++) {
            grad[base + j] = 0.0;
        }
        return;
    }
    if (label != floor(label) || label < 0.0 || label >= f32(p.classes)) {
        let nan = bitcast<f32>(NAN_BITS);
        loss[r] = nan;
        for (var j = 0u; j < p.classes; j++) {
            grad[base + j] = nan;
        }
        return;
    }
    let y = u32(label);
    var m = bitcast<f32>(NEG_INF_BITS);
    var total = 0.0;
    for (var j = 0u; j < p.classes; j++) {
        let v = logits[base + j];
        m = max(m, v);
        total += v;
    }
    var s = 0.0;
    for (var j = 0u; j < p.classes; j++) {
        s += exp(logits[base + j] - m);
    }
    let lse = m + log(s);
    let e = p.smoothing;
    loss[r] = lse - (1.0 - e) * logits[base + y] - e * total / f32(p.classes);
    for (var j = 0u; j < p.classes; j++) {
        let want = e / f32(p.classes) + select(0.0, 1.0 - e, j == y);
        grad[base + j] = exp(logits[base + j] - lse) - want;
    }
}
