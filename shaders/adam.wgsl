// One step of torch.optim.Adam / AdamW on a flat parameter, in place (flags: 1 decoupled
// weight decay (AdamW), 2 maximize, 4 AMSGrad):
//   g = maximize ? -grad : grad
//   AdamW: param *= 1 - lr * weight_decay;   Adam: g += weight_decay * param
//   m += (g - m) * (1 - beta1);   v = beta2 * v + (1 - beta2) * g^2
//   AMSGrad: vmax = max(vmax, v), used in place of v below
//   param -= lr / bias_correction1 * m / (sqrt(v) / bias_correction2_sqrt + eps)
// Dispatch: one invocation per element, ceil(len / WG) workgroups folded as (x, y).

override WG: u32 = 256u;

struct Params {
    len: u32,
    flags: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    bias_correction1: f32,
    bias_correction2_sqrt: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
// the AMSGrad maximum (a one-element stand-in without AMSGrad)
@group(0) @binding(5) var<storage, read_write> vmax: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    var g = select(grad[i], -grad[i], (p.flags & 2u) != 0u);
    var w = param[i];
    if ((p.flags & 1u) != 0u) {
        w *= 1.0 - p.lr * p.weight_decay;
    } else {
        g += p.weight_decay * w;
    }
    let mi = m[i] + (g - m[i]) * (1.0 - p.beta1);
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    var second = vi;
    if ((p.flags & 4u) != 0u) {
        second = max(vmax[i], vi);
        vmax[i] = second;
    }
    let denom = sqrt(second) / p.bias_correction2_sqrt + p.eps;
    param[i] = w - p.lr / p.bias_correction1 * mi / denom;
}
