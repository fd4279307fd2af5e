// One step of torch.optim.SGD on a flat parameter, in place (flags: 1 nesterov,
// 2 maximize, 4 first step, 8 momentum buffer in use):
//   g = (maximize ? -grad : grad) + weight_decay * param
//   with momentum: buf = first ? g : momentum * buf + (1 - dampening) * g
//                  g = nesterov ? g + momentum * buf : buf
//   param -= lr * g
// Dispatch: one invocation per element, ceil(len / WG) workgroups folded as (x, y).

override WG: u32 = 256u;

struct Params {
    len: u32,
    flags: u32,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    _pad: vec2<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
// the momentum buffer (a one-element stand-in without momentum)
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    var g = select(grad[i], -grad[i], (p.flags & 2u) != 0u);
    g += p.weight_decay * param[i];
    if ((p.flags & 8u) != 0u) {
        var b = g;
        if ((p.flags & 4u) == 0u) {
            b = p.momentum * buf[i] + (1.0 - p.dampening) * g;
        }
        buf[i] = b;
        g = select(b, g + p.momentum * b, (p.flags & 1u) != 0u);
    }
    param[i] -= p.lr * g;
}
