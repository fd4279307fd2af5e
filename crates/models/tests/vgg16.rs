//! torchvision's VGG-16: every state_dict name and shape as torchvision lists them
//! (138,357,544 parameters), and a 224x224 forward pass on the GPU.

use fovea_device::{Array, Device};
use fovea_models::{Model, Vgg};
use fovea_nn::{ModuleExt, Tensor};

/// `[(k, tuple(v.shape)) for k, v in torchvision.models.vgg16().state_dict().items()]`
const TORCHVISION_VGG16: &[(&str, &[usize])] = &[
    ("features.0.weight", &[64, 3, 3, 3]),
    ("features.0.bias", &[64]),
    ("features.2.weight", &[64, 64, 3, 3]),
    ("features.2.bias", &[64]),
    ("features.5.weight", &[128, 64, 3, 3]),
    ("features.5.bias", &[128]),
    ("features.7.weight", &[128, 128, 3, 3]),
    ("features.7.bias", &[128]),
    ("features.10.weight", &[256, 128, 3, 3]),
    ("features.10.bias", &[256]),
    ("features.12.weight", &[256, 256, 3, 3]),
    ("features.12.bias", &[256]),
    ("features.14.weight", &[256, 256, 3, 3]),
    ("features.14.bias", &[256]),
    ("features.17.weight", &[512, 256, 3, 3]),
    ("features.17.bias", &[512]),
    ("features.19.weight", &[512, 512, 3, 3]),
    ("features.19.bias", &[512]),
    ("features.21.weight", &[512, 512, 3, 3]),
    ("features.21.bias", &[512]),
    ("features.24.weight", &[512, 512, 3, 3]),
    ("features.24.bias", &[512]),
    ("features.26.weight", &[512, 512, 3, 3]),
    ("features.26.bias", &[512]),
    ("features.28.weight", &[512, 512, 3, 3]),
    ("features.28.bias", &[512]),
    ("classifier.0.weight", &[4096, 25088]),
    ("classifier.0.bias", &[4096]),
    ("classifier.3.weight", &[4096, 4096]),
    ("classifier.3.bias", &[4096]),
    ("classifier.6.weight", &[1000, 4096]),
    ("classifier.6.bias", &[1000]),
];

#[test]
fn vgg16_matches_torchvision_names_shapes_and_runs_224() {
    let vgg = Vgg::new(16, false, 3, 1000).unwrap();
    let got: Vec<(String, Vec<usize>)> = vgg
        .state_dict()
        .into_iter()
        .map(|(n, t)| (n, t.shape().to_vec()))
        .collect();
    let want: Vec<(String, Vec<usize>)> = TORCHVISION_VGG16
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_vec()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(vgg.num_parameters(), 138_357_544);
    let names = vgg.layer_names();
    assert_eq!(
        &names[..5],
        ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    );
    assert!(names.contains(&"conv5_3".to_string()));

    let gpu = Device::gpu().expect("a Vulkan adapter");
    vgg.to_device(&gpu).unwrap();
    vgg.eval();
    let x = Tensor::new(Array::rand(&gpu, &[1, 3, 224, 224], 5).unwrap());
    let mut seen = Vec::new();
    let logits = fovea_graph::no_grad(|| {
        vgg.forward_taps(&x, &mut |name, t| {
            if name == "conv5_3" || name == "pool5" {
                seen.push((name.to_string(), t.shape().to_vec()));
            }
        })
    })
    .unwrap();
    assert_eq!(logits.shape(), [1, 1000]);
    assert_eq!(
        seen,
        [
            ("conv5_3".to_string(), vec![1, 512, 14, 14]),
            ("pool5".to_string(), vec![1, 512, 7, 7])
        ]
    );
    let v = logits.to_vec().unwrap();
    assert!(v.iter().all(|x| x.is_finite()) && v.iter().any(|x| *x != 0.0));
}

#[test]
fn vgg_bn_and_small_models_build_by_name() {
    let bn = fovea_models::by_name("vgg11-bn", 3, 10).unwrap();
    assert!(bn
        .state_dict()
        .iter()
        .any(|(n, _)| n == "features.1.running_var"));
    let err = fovea_models::by_name("vgg12", 3, 10)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("unknown model `vgg12`") && err.contains("vgg16-bn"),
        "{err}"
    );
    let small = fovea_models::by_name("vgg-small-bn", 1, 10).unwrap();
    let x = Tensor::new(Array::rand(&Device::cpu(), &[2, 1, 28, 28], 1).unwrap());
    assert_eq!(small.call(&x).unwrap().shape(), [2, 10]);
}
