//! The layers: PyTorch names and initialisation (seeded, per-thread and own generators),
//! train/eval behaviour, and the errors a newcomer meets first.

mod common;

use common::{SeedNet, SmallVgg};
use fovea_device::{Array, Device};
use fovea_nn::{
    manual_seed, with_generator, BatchNorm2d, Conv2d, Dropout, Error, Flatten, Generator, Linear,
    MaxPool2d, Module, ModuleExt, ReLU, Sequential, Tensor,
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

#[test]
fn default_init_is_pytorchs_and_seedable() {
    manual_seed(7);
    let a = Conv2d::new(16, 32, 3);
    manual_seed(7);
    let b = Conv2d::new(16, 32, 3);
    assert_eq!(a.weight.to_vec().unwrap(), b.weight.to_vec().unwrap());
    let c = Conv2d::new(16, 32, 3);
    assert_ne!(a.weight.to_vec().unwrap(), c.weight.to_vec().unwrap());
    // Kaiming-uniform with a = sqrt(5) and the bias: both uniform in +-1/sqrt(fan_in).
    let fan_in = 16.0 * 9.0f32;
    let bound = 1.0 / fan_in.sqrt();
    let w = a.weight.to_vec().unwrap();
    let bias = a.bias.as_ref().unwrap().to_vec().unwrap();
    assert!(w.iter().chain(&bias).all(|v| v.abs() <= bound));
    let var = w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32;
    let want = bound * bound / 3.0;
    assert!(
        (var - want).abs() < 0.1 * want,
        "variance {var}, uniform gives {want}"
    );
    let lin = Linear::new(4608, 10);
    let wmax = lin
        .weight
        .to_vec()
        .unwrap()
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(wmax <= 1.0 / 4608f32.sqrt() && wmax > 0.9 / 4608f32.sqrt());
}

#[test]
fn a_generator_of_your_own_builds_the_same_weights_as_the_same_seed() {
    let mut g = Generator::new(11);
    let a = with_generator(&mut g, || Conv2d::new(3, 8, 3));
    let b = with_generator(&mut g, || Conv2d::new(3, 8, 3));
    manual_seed(11);
    let c = Conv2d::new(3, 8, 3);
    let w = |l: &Conv2d| l.weight.to_vec().unwrap();
    assert_eq!(
        w(&a),
        w(&c),
        "Generator::new(11) draws what manual_seed(11) draws"
    );
    assert_ne!(w(&a), w(&b), "the generator keeps its state between calls");
}

#[test]
fn threads_seeding_in_parallel_do_not_disturb_each_other() {
    let build = |seed| {
        std::thread::spawn(move || {
            (0..20)
                .map(|_| {
                    manual_seed(seed);
                    Linear::new(64, 32).weight.to_vec().unwrap()
                })
                .collect::<Vec<_>>()
        })
    };
    let (a, b) = (build(1), build(2));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert!(
        a.windows(2).all(|w| w[0] == w[1]),
        "seed 1 gave different weights"
    );
    assert!(
        b.windows(2).all(|w| w[0] == w[1]),
        "seed 2 gave different weights"
    );
    assert_ne!(a[0], b[0]);
}
