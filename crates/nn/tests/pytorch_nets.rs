//! The seed Net and the small VGG with BatchNorm against PyTorch
//! (`tests/fixtures/{seed_net,vgg_small_bn}_torch.safetensors`): logits, loss, every
//! gradient and the state after one SGD step (running statistics included) within the
//! fixtures' 1e-4 criterion, and the 5-step loss trajectory within 1e-3, on the GPU and the
//! CPU reference.

mod common;

use common::{assert_close_vec, assert_matches, fixture, SeedNet, SmallVgg};
use fovea_device::{Array, CrossEntropyOptions, Device};
use fovea_nn::checkpoint::{load_state, NamedTensor};
use fovea_nn::loss::cross_entropy;
use fovea_nn::{Module, ModuleExt, Optimizer, Sgd, Tensor};
use std::collections::HashMap;

const TOL: f32 = 1e-4;
const TRAJECTORY_TOL: f32 = 1e-3;

fn with_prefix(fx: &HashMap<String, NamedTensor>, prefix: &str) -> Vec<NamedTensor> {
    fx.values()
        .filter_map(|t| {
            t.name.strip_prefix(prefix).map(|n| NamedTensor {
                name: n.to_string(),
                ..t.clone()
            })
        })
        .collect()
}

fn check_net(file: &str, net: &dyn Module, lr: f32, momentum: f32, dev: &Device) {
    let fx = fixture(file);
    load_state(net, &with_prefix(&fx, "init."), true, file).unwrap();
    net.to_device(dev).unwrap();
    net.train();
    let input = &fx["input"];
    let x = Tensor::new(Array::from_slice(dev, &input.data, &input.shape).unwrap());
    let labels = Array::from_slice(dev, &fx["labels"].data, &[fx["labels"].data.len()]).unwrap();
    let mut opt = Sgd::new(net.parameters(), lr).momentum(momentum);
    let trajectory = &fx["loss_trajectory"].data;
    let mut losses = Vec::new();
    for step in 0..trajectory.len() {
        let logits = net.forward(&x).unwrap();
        let loss = cross_entropy(&logits, &labels, CrossEntropyOptions::default()).unwrap();
        opt.zero_grad();
        loss.backward().unwrap();
        if step == 0 {
            let tag = |what: &str| format!("{file} on {dev}: {what}");
            assert_matches(&tag("logits"), &logits.array(), &fx["logits"], TOL);
            assert_matches(&tag("loss"), &loss.array(), &fx["loss"], TOL);
            for (name, p) in net.named_parameters() {
                let grad = p.grad().unwrap_or_else(|| panic!("{name} has no gradient"));
                assert_matches(
                    &tag(&format!("grad.{name}")),
                    &grad,
                    &fx[&format!("grad.{name}")],
                    TOL,
                );
            }
        }
        opt.step().unwrap();
        if step == 0 {
            for (name, t) in net.state_dict() {
                let want = &fx[&format!("step1.{name}")];
                assert_matches(
                    &format!("{file} on {dev}: step1.{name}"),
                    &t.array(),
                    want,
                    TOL,
                );
            }
        }
        losses.push(loss.item().unwrap());
    }
    assert_close_vec(
        &format!("{file} on {dev}: loss trajectory {losses:?}"),
        &losses,
        trajectory,
        TRAJECTORY_TOL,
    );
}

#[test]
fn seed_net_matches_pytorch_on_gpu_and_cpu() {
    for dev in common::devices() {
        check_net(
            "seed_net_torch.safetensors",
            &SeedNet::new(),
            0.1,
            0.9,
            &dev,
        );
    }
}

#[test]
fn small_vgg_with_batchnorm_matches_pytorch_on_gpu_and_cpu() {
    for dev in common::devices() {
        check_net(
            "vgg_small_bn_torch.safetensors",
            &SmallVgg::new(0.0),
            0.01,
            0.9,
            &dev,
        );
    }
}
