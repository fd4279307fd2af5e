//! VGG: the small 28x28 variant of the course and torchvision's VGG-11/13/16/19.

use crate::{chain, Model, ReceptiveField};
use fovea_nn::{
    AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Conv2dConfig, Dropout, Error, Linear, MaxPool2d,
    Module, ReLU, Result, Sequential, Tensor,
};

/// A layer plan: a conv's output channels, or `None` for a 2x2 max pool.
type Plan = [Option<usize>];

pub(crate) use crate::receptive::Window;

/// `features` as torchvision builds it from a plan, and the names of its layers
/// (`conv1_1`, `relu1_1`, ..., `pool1`, ...) with their windows, by index.
fn features(
    plan: &Plan,
    in_channels: usize,
    bn: bool,
) -> Result<(Sequential, Vec<(String, Window)>)> {
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
                names.push((format!("conv{block}_{conv}"), Some((3, 1, 1))));
                if bn {
                    seq = seq.add(BatchNorm2d::new(*out));
                    names.push((format!("bn{block}_{conv}"), None));
                }
                seq = seq.add(ReLU::new());
                names.push((format!("relu{block}_{conv}"), None));
                c = *out;
            }
            None => {
                seq = seq.add(MaxPool2d::new(2));
                names.push((format!("pool{block}"), Some((2, 2, 0))));
                block += 1;
                conv = 0;
            }
        }
    }
    Ok((seq, names))
}

/// Layer names, and receptive fields by both the VGG name and `features.<index>`.
pub(crate) fn split(layers: &[(String, Window)]) -> (Vec<String>, Vec<(String, ReceptiveField)>) {
    let names = layers.iter().map(|(n, _)| n.clone()).collect();
    let mut fields = chain(layers);
    let indexed: Vec<(String, ReceptiveField)> = fields
        .iter()
        .enumerate()
        .map(|(i, (_, rf))| (format!("features.{i}"), *rf))
        .collect();
    fields.extend(indexed);
    (names, fields)
}

/// Looks a layer's receptive field up by name.
pub(crate) fn field_of(fields: &[(String, ReceptiveField)], layer: &str) -> Option<ReceptiveField> {
    fields.iter().find(|(n, _)| n == layer).map(|(_, rf)| *rf)
}

/// Runs `features` then `classifier`, tapping each layer of `features` by its VGG name
/// and by `features.<index>`, and each classifier layer as `classifier.<index>`.
pub(crate) fn run(
    features: &Sequential,
    names: &[String],
    pool: Option<&AdaptiveAvgPool2d>,
    classifier: &Sequential,
    x: &Tensor,
    tap: &mut dyn FnMut(&str, &Tensor),
) -> Result<Tensor> {
    let f = features.forward_with(x, |i, t| {
        tap(&names[i], t);
        tap(&format!("features.{i}"), t);
        Ok(())
    })?;
    let f = match pool {
        Some(p) => p.forward(&f)?,
        None => f,
    };
    classifier.forward_with(&f.flatten(1, -1)?, |i, t| {
        tap(&format!("classifier.{i}"), t);
        Ok(())
    })
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
    fields: Vec<(String, ReceptiveField)>,
}

impl SmallVgg {
    /// The small VGG, with BatchNorm after every conv when `bn`, and dropout `p`.
    pub fn new(in_channels: usize, classes: usize, bn: bool, p: f32) -> SmallVgg {
        let plan = [Some(32), Some(32), None, Some(64), Some(64), None];
        let (features, layers) = features(&plan, in_channels, bn).expect("valid plan");
        let (names, fields) = split(&layers);
        let classifier = Sequential::new()
            .add(Linear::new(64 * 7 * 7, 256))
            .add(ReLU::new())
            .add(Dropout::new(p))
            .add(Linear::new(256, classes));
        SmallVgg {
            features,
            classifier,
            names,
            fields,
        }
    }
}

impl Module for SmallVgg {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_taps(x, &mut |_, _| {})
    }
    fovea_nn::children!("SmallVgg"; features, classifier);
}

impl Model for SmallVgg {
    fn forward_taps(&self, x: &Tensor, tap: &mut dyn FnMut(&str, &Tensor)) -> Result<Tensor> {
        run(&self.features, &self.names, None, &self.classifier, x, tap)
    }
    fn layer_names(&self) -> Vec<String> {
        let mut n = self.names.clone();
        n.extend((0..self.classifier.len()).map(|i| format!("classifier.{i}")));
        n
    }
    fn receptive_field(&self, layer: &str) -> Option<ReceptiveField> {
        field_of(&self.fields, layer)
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
    fields: Vec<(String, ReceptiveField)>,
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
        let (features, layers) = features(&plan, in_channels, bn)?;
        let (names, fields) = split(&layers);
        let classifier = Sequential::new()
            .add(Linear::new(512 * 7 * 7, 4096))
            .add(ReLU::new())
            .add(Dropout::new(0.5))
            .add(Linear::new(4096, 4096))
            .add(ReLU::new())
            .add(Dropout::new(0.5))
            .add(Linear::new(4096, classes));
        Ok(Vgg {
            features,
            avgpool: AdaptiveAvgPool2d::new((7, 7)),
            classifier,
            names,
            fields,
        })
    }
}

impl Module for Vgg {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_taps(x, &mut |_, _| {})
    }
    fovea_nn::children!("VGG"; features, avgpool, classifier);
}

impl Model for Vgg {
    fn forward_taps(&self, x: &Tensor, tap: &mut dyn FnMut(&str, &Tensor)) -> Result<Tensor> {
        run(
            &self.features,
            &self.names,
            Some(&self.avgpool),
            &self.classifier,
            x,
            tap,
        )
    }
    fn layer_names(&self) -> Vec<String> {
        let mut n = self.names.clone();
        n.extend((0..self.classifier.len()).map(|i| format!("classifier.{i}")));
        n
    }
    fn receptive_field(&self, layer: &str) -> Option<ReceptiveField> {
        field_of(&self.fields, layer)
    }
}
