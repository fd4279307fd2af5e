//! VGG: the small 28x28 variant of the course and torchvision's VGG-11/13/16/19.

use crate::Model;
use fovea_nn::{
    AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Conv2dConfig, Dropout, Error, Linear, MaxPool2d,
    Module, ModuleExt, ReLU, Result, Sequential, Tensor,
};

/// A layer plan: a conv's output channels, or `None` for a 2x2 max pool.
type Plan = [Option<usize>];

/// `features` as torchvision builds it from a plan, and the names of its layers
/// (`conv1_1`, `relu1_1`, ..., `pool1`, ...) by index.
fn features(plan: &Plan, in_channels: usize, bn: bool) -> Result<(Sequential, Vec<String>)> {
    let mut seq = Sequential::new();
    let mut names = Vec::new();
    let (mut c, mut block, mut conv) = (in_channels, 1, 0);
    for step in plan {
        match step {
            Some(out) => {
                conv += 1;
                let cfg = Conv2dConfig {
                    padding: 1,
                    ..Default::default()
                };
                seq = seq.add(Conv2d::with(c, *out, 3, cfg)?);
                names.push(format!("conv{block}_{conv}"));
                if bn {
                    seq = seq.add(BatchNorm2d::new(*out));
                    names.push(format!("bn{block}_{conv}"));
                }
                seq = seq.add(ReLU::new());
                names.push(format!("relu{block}_{conv}"));
                c = *out;
            }
            None => {
                seq = seq.add(MaxPool2d::new(2));
                names.push(format!("pool{block}"));
                block += 1;
                conv = 0;
            }
        }
    }
    Ok((seq, names))
}

/// The named layers of a `features` / `classifier` net: `features.<i>` by its name, then
/// each classifier layer as `classifier.<i>`.
pub(crate) fn named_layers(names: &[String], classifier: &Sequential) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), format!("features.{i}")))
        .collect();
    out.extend((0..classifier.len()).map(|i| {
        let p = format!("classifier.{i}");
        (p.clone(), p)
    }));
    out
}

/// Runs `features`, the optional adaptive pool, a flatten, then `classifier`.
pub(crate) fn run(
    features: &Sequential,
    pool: Option<&AdaptiveAvgPool2d>,
    classifier: &Sequential,
    x: &Tensor,
) -> Result<Tensor> {
    let f = features.call(x)?;
    let f = match pool {
        Some(p) => p.call(&f)?,
        None => f,
    };
    classifier.call(&f.flatten(1, -1)?)
}

/// The course's small VGG for 28x28 input: [conv 32, conv 32, pool] [conv 64, conv 64,
/// pool], each conv 3x3 with optional BatchNorm, then Linear(3136, 256), ReLU, Dropout,
/// Linear(256, classes). Names are `features.N` / `classifier.N`.
pub struct SmallVgg {
    /// the convolutional blocks
    pub features: Sequential,
    /// the fully connected head
    pub classifier: Sequential,
    names: Vec<String>,
}

impl SmallVgg {
    /// The small VGG, with BatchNorm after every conv when `bn`, and dropout `p`.
    pub fn new(in_channels: usize, classes: usize, bn: bool, p: f32) -> SmallVgg {
        let plan = [Some(32), Some(32), None, Some(64), Some(64), None];
        let (features, names) = features(&plan, in_channels, bn).expect("valid plan");
        let classifier = Sequential::new()
            .add(Linear::new(64 * 7 * 7, 256))
            .add(ReLU::new())
            .add(Dropout::new(p))
            .add(Linear::new(256, classes));
        let net = SmallVgg {
            features,
            classifier,
            names,
        };
        net.name_layers();
        net
    }
}

impl Module for SmallVgg {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        run(&self.features, None, &self.classifier, x)
    }
    fovea_nn::children!("SmallVgg"; features, classifier);
}

impl Model for SmallVgg {
    fn layers(&self) -> Vec<(String, String)> {
        named_layers(&self.names, &self.classifier)
    }
    fn as_module(&self) -> &dyn Module {
        self
    }
}

/// torchvision's VGG (`vgg11` ... `vgg19_bn`): `features`, `avgpool` =
/// AdaptiveAvgPool2d((7, 7)), `classifier` = Linear(25088, 4096), ReLU, Dropout, Linear(4096,
/// 4096), ReLU, Dropout, Linear(4096, classes). torchvision's state_dict loads as is.
pub struct Vgg {
    /// the convolutional layers
    pub features: Sequential,
    /// pools any input size to 7x7
    pub avgpool: AdaptiveAvgPool2d,
    /// the fully connected head
    pub classifier: Sequential,
    names: Vec<String>,
}

impl Vgg {
    /// VGG-`depth` (11, 13, 16 or 19), with BatchNorm when `bn`.
    pub fn new(depth: usize, bn: bool, in_channels: usize, classes: usize) -> Result<Vgg> {
        let blocks: [usize; 5] = match depth {
            11 => [1, 1, 2, 2, 2],
            13 => [2, 2, 2, 2, 2],
            16 => [2, 2, 3, 3, 3],
            19 => [2, 2, 4, 4, 4],
            _ => {
                return Err(Error::Config {
                    what: "Vgg::new",
                    msg: format!("depth {depth}; torchvision builds 11, 13, 16 and 19"),
                })
            }
        };
        let mut plan = Vec::new();
        for (convs, width) in blocks.iter().zip([64, 128, 256, 512, 512]) {
            plan.extend(std::iter::repeat_n(Some(width), *convs));
            plan.push(None);
        }
        let (features, names) = features(&plan, in_channels, bn)?;
        let classifier = Sequential::new()
            .add(Linear::new(512 * 7 * 7, 4096))
            .add(ReLU::new())
            .add(Dropout::new(0.5))
            .add(Linear::new(4096, 4096))
            .add(ReLU::new())
            .add(Dropout::new(0.5))
            .add(Linear::new(4096, classes));
        let net = Vgg {
            features,
            avgpool: AdaptiveAvgPool2d::new((7, 7)),
            classifier,
            names,
        };
        net.name_layers();
        Ok(net)
    }
}

impl Module for Vgg {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        run(&self.features, Some(&self.avgpool), &self.classifier, x)
    }
    fovea_nn::children!("VGG"; features, avgpool, classifier);
}

impl Model for Vgg {
    fn layers(&self) -> Vec<(String, String)> {
        named_layers(&self.names, &self.classifier)
    }
    fn as_module(&self) -> &dyn Module {
        self
    }
}
