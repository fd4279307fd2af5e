//! The course's seed Net.

use crate::Model;
use fovea_nn::{call_fused, Conv2d, Linear, MaxPool2d, Module, ModuleExt, ReLU, Result, Tensor};

/// conv1 (in -> 32, 5x5) -> ReLU -> 2x2 max pool -> flatten -> fc1 (4608 -> classes), with
/// no ReLU on the logits. Input is 28x28.
pub struct Net {
    /// 1 -> 32 channels, 5x5
    pub conv1: Conv2d,
    /// the ReLU after conv1 (no parameters)
    pub relu1: ReLU,
    /// 2x2 max pooling
    pub pool: MaxPool2d,
    /// 4608 -> classes
    pub fc1: Linear,
}

impl Net {
    /// The course's Net for `in_channels` x 28 x 28 input.
    pub fn new(in_channels: usize, classes: usize) -> Net {
        let net = Net {
            conv1: Conv2d::new(in_channels, 32, 5),
            relu1: ReLU::new(),
            pool: MaxPool2d::new(2),
            fc1: Linear::new(32 * 12 * 12, classes),
        };
        net.name_layers();
        net
    }
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // conv1 and relu1 run as one pass on the GPU; hooks still see both outputs
        let (_, h) = call_fused(&self.conv1, &self.relu1, x)?;
        let p = self.pool.call(&h)?;
        self.fc1.call(&p.flatten(1, -1)?)
    }
    fovea_nn::children!("Net"; conv1, relu1, pool, fc1);
}

impl Model for Net {
    fn layers(&self) -> Vec<(String, String)> {
        ["conv1", "relu1", "pool", "fc1"]
            .map(|n| (n.to_string(), n.to_string()))
            .to_vec()
    }
    fn as_module(&self) -> &dyn Module {
        self
    }
}
