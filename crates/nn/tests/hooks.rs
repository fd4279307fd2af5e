//! Forward hooks keyed by `state_dict` path, `forward_until`, and layer paths that are set when
//! a layer is registered and never rewritten by running the module.

mod common;

use common::SmallVgg;
use fovea_device::{Array, Device};
use fovea_nn::{
    BatchNorm2d, Conv2d, Error, Flatten, Geometry, Linear, MaxPool2d, Module, ModuleExt, ReLU,
    Sequential, Tensor,
};
use std::sync::{Arc, Mutex};

fn batch(n: usize, c: usize, h: usize, w: usize) -> Tensor {
    Tensor::new(Array::rand(&Device::cpu(), &[n, c, h, w], 3).unwrap())
}

#[test]
fn hooks_see_the_output_of_the_module_at_their_path_until_dropped() {
    let net = SmallVgg::new(0.5);
    net.eval();
    let seen: Arc<Mutex<Vec<Vec<usize>>>> = Arc::default();
    let s = seen.clone();
    let handle = net
        .register_forward_hook("features.3", move |t| {
            s.lock().unwrap().push(t.shape().to_vec())
        })
        .unwrap();
    let x = batch(2, 1, 28, 28);
    net.call(&x).unwrap();
    net.call(&x).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![vec![2, 32, 28, 28]; 2]);
    drop(handle);
    net.call(&x).unwrap();
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "a dropped handle removes its hook"
    );
}

#[test]
fn a_hook_on_a_missing_path_is_refused_with_the_paths_there_are() {
    let net = SmallVgg::new(0.5);
    let err = net
        .register_forward_hook("features.99", |_| {})
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(msg.contains("no module `features.99`"), "{msg}");
    assert!(
        msg.contains("features.3") && msg.contains("classifier.0"),
        "{msg}"
    );
}

#[test]
fn forward_until_stops_before_the_layers_after_it() {
    // fc expects 10 features but gets 2 * 2 * 2 = 8: running it fails.
    let net = Sequential::new()
        .add(Conv2d::new(1, 2, 3))
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(10, 3));
    let x = batch(1, 1, 6, 6);
    assert!(matches!(net.call(&x), Err(Error::Layer { .. })));
    let y = net.forward_until(&x, "2").unwrap();
    assert_eq!(y.shape(), &[1, 2, 2, 2]);
    let relu = net.forward_until(&x, "1").unwrap();
    assert_eq!(relu.shape(), &[1, 2, 4, 4]);
    assert!(relu.to_vec().unwrap().iter().all(|v| *v >= 0.0));
    assert!(net.forward_until(&x, "7").is_err());
}

#[test]
fn running_a_module_never_renames_its_layers() {
    let net = SmallVgg::new(0.5);
    net.features.get(0).unwrap().set_path("stem");
    let msg = net.call(&batch(2, 3, 28, 28)).unwrap_err().to_string();
    assert!(
        msg.starts_with("stem (Conv2d) expects 1 input channels"),
        "{msg}"
    );
    // a traversal from the root registers the paths again
    net.name_layers();
    let msg = net.call(&batch(2, 3, 28, 28)).unwrap_err().to_string();
    assert!(msg.starts_with("features.0 (Conv2d)"), "{msg}");
}

#[test]
fn layers_report_their_geometry() {
    let conv = Conv2d::new(3, 8, 5).padding(2).stride(2);
    assert_eq!(
        conv.geometry(),
        Geometry::Window {
            kernel: (5, 5),
            stride: (2, 2),
            padding: (2, 2),
            dilation: (1, 1)
        }
    );
    assert_eq!(ReLU::new().geometry(), Geometry::Pointwise);
    assert_eq!(Linear::new(4, 2).geometry(), Geometry::Opaque);
    assert_eq!(
        MaxPool2d::new(3).stride(2).geometry(),
        Geometry::Window {
            kernel: (3, 3),
            stride: (2, 2),
            padding: (0, 0),
            dilation: (1, 1)
        }
    );
}

/// A hook's record: the layer's path and the output it saw.
type Seen = (String, Vec<f32>);

#[test]
fn a_layer_and_its_relu_fused_still_show_both_outputs_to_hooks() {
    // Sequential runs Conv2d + ReLU, BatchNorm2d + ReLU and Linear + ReLU as one pass each
    // (on the GPU, one pass writes both outputs); hooks and forward_until see each layer's
    // own output, with its negative values, exactly as unfused.
    let gpu = Device::gpu().expect("a GPU adapter (install mesa-vulkan-drivers for lavapipe)");
    for dev in [Device::cpu(), gpu] {
        let net = Sequential::new()
            .add(Conv2d::new(1, 3, 3))
            .add(ReLU::new())
            .add(Conv2d::new(3, 3, 1))
            .add(BatchNorm2d::new(3))
            .add(ReLU::new())
            .add(Flatten::new())
            .add(Linear::new(48, 5))
            .add(ReLU::new());
        net.to_device(&dev).unwrap();
        let x = Tensor::new(Array::randn(&dev, &[2, 1, 6, 6], 5).unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let mut handles = vec![];
        let paths = ["0", "1", "3", "4", "6", "7"];
        for path in paths {
            let s = seen.clone();
            handles.push(
                net.register_forward_hook(path, move |t| {
                    s.lock()
                        .unwrap()
                        .push((path.to_string(), t.to_vec().unwrap()))
                })
                .unwrap(),
            );
        }
        let out = net.call(&x).unwrap().to_vec().unwrap();
        let seen = seen.lock().unwrap().clone();
        let order: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(order, paths, "{}", dev.name());
        // each layer by itself, unfused
        let layer = |i: usize, x: &Tensor| net.get(i).unwrap().forward(x).unwrap();
        let conv = layer(0, &x);
        let bn = layer(3, &layer(2, &conv.relu().unwrap()));
        let fc = layer(6, &bn.relu().unwrap().flatten(1, -1).unwrap());
        let want: Vec<Vec<f32>> = [&conv, &bn, &fc]
            .iter()
            .flat_map(|t| [t.to_vec().unwrap(), t.relu().unwrap().to_vec().unwrap()])
            .collect();
        for ((path, got), want) in seen.iter().zip(&want) {
            for (a, b) in got.iter().zip(want) {
                let what = dev.name();
                assert!((a - b).abs() < 1e-4, "{what} layer {path}: {a} vs {b}");
            }
        }
        for (k, layer) in [(0, "conv"), (2, "batch norm")] {
            let negative = seen[k].1.iter().any(|v| *v < 0.0);
            assert!(negative, "the {layer} hook sees negatives");
        }
        assert_eq!(out, seen[5].1);
        let pre = net.forward_until(&x, "0").unwrap().to_vec().unwrap();
        let what = dev.name();
        assert_eq!(pre, seen[0].1, "{what}: forward_until stops at the conv");
    }
}
