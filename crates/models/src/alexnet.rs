//! torchvision's AlexNet (`torchvision.models.alexnet`), with its parameter names.

use crate::vgg::{named_layers, run};
use crate::Model;
use fovea_nn::{
    AdaptiveAvgPool2d, Conv2d, Conv2dConfig, Dropout, Linear, MaxPool2d, Module, ModuleExt, ReLU,
    Result, Sequential, Tensor,
};

/// AlexNet as torchvision builds it: `features` (five convs, 11x11/4 first, three 3x3/2
/// max pools), `avgpool` = AdaptiveAvgPool2d((6, 6)), `classifier` = Dropout, Linear(9216,
/// 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Linear(4096, classes). 61,100,840
/// parameters for 1000 classes; torchvision's state_dict loads as is.
pub struct AlexNet {
    /// the convolutional layers
    pub features: Sequential,
    /// pools any input size to 6x6
    pub avgpool: AdaptiveAvgPool2d,
    /// the fully connected head
    pub classifier: Sequential,
}

/// Names of the layers of `features`, by index.
const FEATURE_NAMES: [&str; 13] = [
    "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "conv4", "relu4",
    "conv5", "relu5", "pool5",
];

impl AlexNet {
    /// AlexNet for `in_channels`-channel input and `classes` outputs.
    pub fn new(in_channels: usize, classes: usize) -> AlexNet {
        let conv = |i, o, k, stride, padding| {
            let cfg = Conv2dConfig {
                stride,
                padding,
                ..Default::default()
            };
            Conv2d::with(i, o, k, cfg).expect("valid conv")
        };
        let pool = || MaxPool2d::new(3).stride(2);
        let features = Sequential::new()
            .add(conv(in_channels, 64, 11, 4, 2))
            .add(ReLU::new())
            .add(pool())
            .add(conv(64, 192, 5, 1, 2))
            .add(ReLU::new())
            .add(pool())
            .add(conv(192, 384, 3, 1, 1))
            .add(ReLU::new())
            .add(conv(384, 256, 3, 1, 1))
            .add(ReLU::new())
            .add(conv(256, 256, 3, 1, 1))
            .add(ReLU::new())
            .add(pool());
        let classifier = Sequential::new()
            .add(Dropout::new(0.5))
            .add(Linear::new(256 * 6 * 6, 4096))
            .add(ReLU::new())
            .add(Dropout::new(0.5))
            .add(Linear::new(4096, 4096))
            .add(ReLU::new())
            .add(Linear::new(4096, classes));
        let net = AlexNet {
            features,
            avgpool: AdaptiveAvgPool2d::new((6, 6)),
            classifier,
        };
        net.name_layers();
        net
    }
}

impl Module for AlexNet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        run(&self.features, Some(&self.avgpool), &self.classifier, x)
    }
    fovea_nn::children!("AlexNet"; features, avgpool, classifier);
}

impl Model for AlexNet {
    fn layers(&self) -> Vec<(String, String)> {
        named_layers(&FEATURE_NAMES.map(String::from), &self.classifier)
    }
    fn as_module(&self) -> &dyn Module {
        self
    }
}
