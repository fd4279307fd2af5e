//! The layers: PyTorch names and initialisation, train/eval behaviour, and the errors a
//! newcomer meets first.

mod common;

use common::{SeedNet, SmallVgg};
use fovea_device::{Array, Device};
use fovea_nn::{
    BatchNorm2d, Conv2d, Dropout, Error, Flatten, MaxPool2d, Module, ModuleExt, ReLU, Sequential,
    Tensor,
};

fn batch(n: usize, c: usize, h: usize, w: usize) -> Tensor {
    Tensor::new(Array::rand(&Device::cpu(), &[n, c, h, w], 3).unwrap())
}

#[test]
fn the_courses_wrong_linear_size_is_explained() {
    // The course's Net declares Linear(32 * 4, 10) after a 5x5 conv and a 2x2 pool on 28x28.
    let net = SeedNet::with_fc_in(32 * 4);
    let err = net.call(&batch(2, 1, 28, 28)).unwrap_err();
    assert!(matches!(err, Error::Layer { .. }));
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "fc1 (Linear) expects 128 input features, got 4608 from input of shape [N, 32, 12, 12]"
        ),
        "{msg}"
    );
    assert!(msg.contains("set in_features to 4608"), "{msg}");
}

#[test]
fn other_layers_name_themselves_and_the_shapes() {
    let net = SmallVgg::new(0.5);
    let msg = net.call(&batch(2, 3, 28, 28)).unwrap_err().to_string();
    assert!(
        msg.starts_with("features.0 (Conv2d) expects 1 input channels, got 3 from input of shape [N, 3, 28, 28]"),
        "{msg}"
    );
    let msg = net
        .call(&Tensor::new(
            Array::rand(&Device::cpu(), &[28, 28], 1).unwrap(),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("features.0 (Conv2d) expects a 4-D input"),
        "{msg}"
    );
    let bn = Sequential::new().add(BatchNorm2d::new(4));
    let msg = bn.call(&batch(2, 3, 4, 4)).unwrap_err().to_string();
    assert!(
        msg.starts_with("0 (BatchNorm2d) expects 4 channels, got 3"),
        "{msg}"
    );
    let tiny = Sequential::new()
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(1, 1, 5));
    let msg = tiny.call(&batch(1, 1, 6, 6)).unwrap_err().to_string();
    assert!(msg.starts_with("1 (Conv2d) failed: conv2d"), "{msg}");
    assert!(matches!(Dropout::try_new(1.5), Err(Error::Config { .. })));
}

#[test]
fn state_dict_names_follow_pytorch() {
    let names =
        |m: &dyn Module| -> Vec<String> { m.state_dict().into_iter().map(|(n, _)| n).collect() };
    assert_eq!(
        names(&SeedNet::new()),
        ["conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias"]
    );
    let vgg = names(&SmallVgg::new(0.5));
    assert_eq!(
        &vgg[..7],
        [
            "features.0.weight",
            "features.0.bias",
            "features.1.weight",
            "features.1.bias",
            "features.1.running_mean",
            "features.1.running_var",
            "features.1.num_batches_tracked"
        ]
    );
    assert_eq!(vgg.last().unwrap(), "classifier.3.bias");
    assert_eq!(vgg.len(), 4 * 2 + 4 * 5 + 4);
    let params: Vec<String> = SmallVgg::new(0.5)
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(!params.iter().any(|n| n.contains("running")));
}

#[test]
fn train_and_eval_switch_dropout_and_batch_norm() {
    let net = Sequential::new()
        .add(BatchNorm2d::new(2))
        .add(Flatten::new())
        .add(Dropout::new(0.5));
    let x = batch(4, 2, 3, 3);
    let y_train = net.call(&x).unwrap().to_vec().unwrap();
    assert!(
        y_train.iter().filter(|v| **v == 0.0).count() > 10,
        "dropout zeroes about half"
    );
    let bn = net.state_dict();
    let tracked = bn
        .iter()
        .find(|(n, _)| n == "0.num_batches_tracked")
        .unwrap()
        .1
        .item()
        .unwrap();
    assert_eq!(tracked, 1.0);
    let mean_after = bn
        .iter()
        .find(|(n, _)| n == "0.running_mean")
        .unwrap()
        .1
        .to_vec()
        .unwrap();
    assert!(mean_after.iter().all(|m| *m != 0.0), "running mean moved");
    net.eval();
    assert!(!net.get(2).unwrap().is_training());
    let y1 = net.call(&x).unwrap().to_vec().unwrap();
    let y2 = net.call(&x).unwrap().to_vec().unwrap();
    assert_eq!(y1, y2, "evaluation is deterministic");
    let tracked = net.state_dict()[4].1.item().unwrap();
    assert_eq!(
        tracked, 1.0,
        "evaluation leaves the running statistics alone"
    );
    net.train();
    assert!(net.get(0).unwrap().is_training());
}

#[test]
fn relu_module_and_sequential_taps() {
    let net = Sequential::new().add(ReLU::new()).add(Flatten::new());
    let x = batch(2, 1, 2, 2).add_scalar(-0.5).unwrap();
    let mut shapes = vec![];
    let y = net
        .forward_with(&x, |i, t| {
            shapes.push((i, t.shape().to_vec()));
            Ok(())
        })
        .unwrap();
    assert_eq!(shapes, [(0, vec![2, 1, 2, 2]), (1, vec![2, 4])]);
    assert!(y.to_vec().unwrap().iter().all(|v| *v >= 0.0));
}

/// Gradients move with their parameters (`module.to(device)` moves `.grad` too), so a
/// backward pass after the move does not mix devices.
#[test]
fn gradients_follow_parameters_to_another_device() {
    // A machine without a Vulkan adapter fails here, naming the driver to install.
    let gpu = common::gpu();
    let cpu = Device::cpu();
    let lin = fovea_nn::Linear::new(3, 2);
    lin.to_device(&cpu).unwrap();
    let x = Tensor::new(Array::from_slice(&cpu, &[1.0, 2.0, 3.0], &[1, 3]).unwrap());
    lin.forward(&x)
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    let before = lin.parameters()[0].grad().unwrap().to_vec().unwrap();
    lin.to_device(&gpu).unwrap();
    for p in lin.parameters() {
        assert_eq!(p.grad().unwrap().device(), &gpu);
    }
    let x = Tensor::new(Array::from_slice(&gpu, &[1.0, 2.0, 3.0], &[1, 3]).unwrap());
    lin.forward(&x)
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    let after = lin.parameters()[0].grad().unwrap().to_vec().unwrap();
    let doubled: Vec<f32> = before.iter().map(|v| 2.0 * v).collect();
    assert_eq!(after, doubled);
}
