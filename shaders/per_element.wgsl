// The grid of the elementwise kernels, joined after one that defines `p.len` and
// `element(i)`. Each invocation takes PER elements a workgroup apart, so neighbouring lanes
// touch neighbouring elements; fewer, fuller workgroups cost less to launch on CPU adapters.
// Dispatch: ceil(len / (WG * PER)) workgroups, folded as (x, y).

override WG: u32 = 256u;
override PER: u32 = 8u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let first = (wid.x + wid.y * nwg.x) * WG * PER + lid;
    for (var k = 0u; k < PER; k++) {
        let i = first + k * WG;
        if (i >= p.len) {
            return;
        }
        element(i);
    }
}
