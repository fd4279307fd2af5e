//! AlexNet as torchvision builds it, and nets written as architecture specs.

use fovea_device::{Array, Device};
use fovea_models::{by_name, AlexNet, ArchSpec, Model, SmallVgg};
use fovea_nn::{ModuleExt, Tensor};

/// `[(k, tuple(v.shape)) for k, v in torchvision.models.alexnet().state_dict().items()]`
const TORCHVISION_ALEXNET: &[(&str, &[usize])] = &[
    ("features.0.weight", &[64, 3, 11, 11]),
    ("features.0.bias", &[64]),
    ("features.3.weight", &[192, 64, 5, 5]),
    ("features.3.bias", &[192]),
    ("features.6.weight", &[384, 192, 3, 3]),
    ("features.6.bias", &[384]),
    ("features.8.weight", &[256, 384, 3, 3]),
    ("features.8.bias", &[256]),
    ("features.10.weight", &[256, 256, 3, 3]),
    ("features.10.bias", &[256]),
    ("classifier.1.weight", &[4096, 9216]),
    ("classifier.1.bias", &[4096]),
    ("classifier.4.weight", &[4096, 4096]),
    ("classifier.4.bias", &[4096]),
    ("classifier.6.weight", &[1000, 4096]),
    ("classifier.6.bias", &[1000]),
];

fn shapes(m: &dyn Model) -> Vec<(String, Vec<usize>)> {
    m.state_dict()
        .into_iter()
        .map(|(n, t)| (n, t.shape().to_vec()))
        .collect()
}

fn input(dev: &Device, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    Tensor::new(Array::from_slice(dev, &v, shape).unwrap())
}

#[test]
fn alexnet_matches_torchvision_names_shapes_and_size() {
    let net = AlexNet::new(3, 1000);
    let want: Vec<(String, Vec<usize>)> = TORCHVISION_ALEXNET
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_vec()))
        .collect();
    assert_eq!(shapes(&net), want);
    assert_eq!(net.num_parameters(), 61_100_840);

    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    net.eval();
    let mut taps = Vec::new();
    let y = net
        .forward_taps(&input(&dev, &[1, 3, 224, 224]), &mut |name, t| {
            taps.push((name.to_string(), t.shape().to_vec()))
        })
        .unwrap();
    assert_eq!(y.shape(), &[1, 1000]);
    let tap = |n: &str| taps.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(tap("conv1"), [1, 64, 55, 55]);
    assert_eq!(tap("pool5"), [1, 256, 6, 6]);
    assert_eq!(tap("features.12"), [1, 256, 6, 6]);
    assert!(y.to_vec().unwrap().iter().all(|v| v.is_finite()));
    assert_eq!(
        by_name("alexnet", 3, 1000).unwrap().num_parameters(),
        61_100_840
    );
}

fn spec_file(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/arch/");
    std::fs::read_to_string(format!("{path}{name}")).unwrap()
}

#[test]
fn the_vgg_spec_file_builds_the_small_vgg_exactly() {
    let spec = ArchSpec::parse(&spec_file("vgg-small-bn.arch")).unwrap();
    let from_spec = spec.build((1, 28, 28), 10).unwrap();
    let coded = SmallVgg::new(1, 10, true, 0.5);
    assert_eq!(shapes(&from_spec), shapes(&coded));
    // so a checkpoint of one loads strictly into the other
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.safetensors");
    coded.save_safetensors(&path).unwrap();
    from_spec.load_safetensors(&path).unwrap();
    let names = from_spec.layer_names();
    for n in [
        "conv1_1",
        "bn1_1",
        "relu1_2",
        "pool1",
        "conv2_2",
        "pool2",
        "classifier.3",
    ] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
}

#[test]
fn spec_nets_run_and_work_out_linear_sizes() {
    let net = ArchSpec::parse(&spec_file("net.arch"))
        .unwrap()
        .build((1, 28, 28), 10)
        .unwrap();
    assert_eq!(
        net.num_parameters(),
        by_name("net", 1, 10).unwrap().num_parameters()
    );

    let three = ArchSpec::parse(&spec_file("three-blocks.arch"))
        .unwrap()
        .build((1, 28, 28), 10)
        .unwrap();
    let dev = Device::cpu();
    three.to_device(&dev).unwrap();
    let mut seen = Vec::new();
    let y = three
        .forward_taps(&input(&dev, &[2, 1, 28, 28]), &mut |n, t| {
            seen.push((n.to_string(), t.shape().to_vec()))
        })
        .unwrap();
    assert_eq!(y.shape(), &[2, 10]);
    assert!(seen.contains(&("conv3_1".to_string(), vec![2, 128, 7, 7])));
    assert!(seen.contains(&("avgpool".to_string(), vec![2, 128, 1, 1])));
    let sd = shapes(&three);
    assert_eq!(
        sd.last().unwrap(),
        &("classifier.0.bias".to_string(), vec![10])
    );
    assert!(sd.contains(&("classifier.0.weight".to_string(), vec![10, 128])));
}

#[test]
fn bad_specs_are_refused_with_the_fix() {
    let err = |text: &str| match ArchSpec::parse(text).and_then(|s| s.build((1, 28, 28), 10)) {
        Ok(_) => panic!("`{text}` should be refused"),
        Err(e) => {
            let e = e.to_string();
            assert!(!e.contains('\n'), "one line: {e}");
            e
        }
    };
    let e = err("conv 32 k3, magic 3, linear");
    assert!(
        e.contains("unknown layer `magic`") && e.contains("known: conv OUT"),
        "{e}"
    );
    assert!(e.contains("linear [N]") && e.contains("dropout [P]"), "{e}");
    let e = err("conv 32 x3, linear");
    assert!(e.contains("unknown option `x3`"), "{e}");
    let e = err("conv 32 k3, relu");
    assert!(e.contains("last layer must be `linear`"), "{e}");
    let e = err("conv 8 k5, pool 2, conv 8 k5, pool 2, conv 8 k5, linear");
    assert!(e.contains("does not fit the 4x4 map"), "{e}");
    let e = err("linear 64, pool 2, linear");
    assert!(e.contains("cannot follow"), "{e}");
    let e = err("conv 8, linear 5");
    assert!(e.contains("5 outputs for 10 classes"), "{e}");
    let e = err("dropout 1.5, linear");
    assert!(e.contains("not a probability"), "{e}");
}

/// Receptive fields come from each layer's own geometry; they equal the textbook chains of
/// `(kernel, stride, padding)` windows written out by hand.
#[test]
fn receptive_fields_follow_each_layers_geometry() {
    use fovea_models::{chain, Window};
    let expect = |m: &dyn Model, steps: &[(&str, Window)]| {
        let owned: Vec<(String, Window)> = steps.iter().map(|(n, w)| (n.to_string(), *w)).collect();
        for (name, rf) in chain(&owned) {
            assert_eq!(m.receptive_field(&name), Some(rf), "{name}");
        }
    };
    let net = by_name("net", 1, 10).unwrap();
    expect(
        &*net,
        &[
            ("conv1", Some((5, 1, 0))),
            ("relu1", None),
            ("pool", Some((2, 2, 0))),
        ],
    );
    assert_eq!(net.receptive_field("fc1"), None);
    assert_eq!(net.receptive_field("conv9"), None);
    let alex = AlexNet::new(3, 10);
    expect(
        &alex,
        &[
            ("conv1", Some((11, 4, 2))),
            ("relu1", None),
            ("pool1", Some((3, 2, 0))),
            ("conv2", Some((5, 1, 2))),
            ("relu2", None),
            ("pool2", Some((3, 2, 0))),
            ("conv3", Some((3, 1, 1))),
        ],
    );
    assert_eq!(
        alex.receptive_field("features.6"),
        alex.receptive_field("conv3")
    );
    // A spec's adaptive pool averages about H / out input rows: 7 rows to 2 take windows
    // of 4 every 3.
    let spec = ArchSpec::parse("conv 4 k3 p1, relu, pool 2, adaptiveavgpool 2, flatten, linear")
        .unwrap()
        .build((1, 14, 14), 10)
        .unwrap();
    expect(
        &spec,
        &[
            ("conv1_1", Some((3, 1, 1))),
            ("relu1_1", None),
            ("pool1", Some((2, 2, 0))),
            ("avgpool", Some((4, 3, 0))),
        ],
    );
}
