//! The course's seed Net.

use crate::{Model, ReceptiveField};
use fovea_nn::{Conv2d, Linear, MaxPool2d, Module, Result, Tensor};

/// conv1 (in -> 32, 5x5) -> ReLU -> 2x2 max pool -> flatten -> fc1 (4608 -> classes), with
/// no ReLU on the logits. Input is 28x28.
pub struct Net {
    /// 1 -> 32 channels, 5x5
    pub conv1: Conv2d,
    /// 2x2 max pooling
    pub pool: MaxPool2d,
    /// 4608 -> classes
    pub fc1: Linear,
}

impl Net {
    /// The course's Net for `in_channels` x 28 x 28 input.
    pub fn new(in_channels: usize, classes: usize) -> Net {
        Net {
            conv1: Conv2d::new(in_channels, 32, 5),
            pool: MaxPool2d::new(2),
            fc1: Linear::new(32 * 12 * 12, classes),
        }
    }
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_taps(x, &mut |_, _| {})
    }
    fovea_nn::children!("Net"; conv1, pool, fc1);
}

impl Model for Net {
    fn forward_taps(&self, x: &Tensor, tap: &mut dyn FnMut(&str, &Tensor)) -> Result<Tensor> {
        let c = self.conv1.forward(x)?;
        tap("conv1", &c);
        let r = c.relu()?;
        tap("relu1", &r);
        let p = self.pool.forward(&r)?;
        tap("pool", &p);
        let y = self.fc1.forward(&p.flatten(1, -1)?)?;
        tap("fc1", &y);
        Ok(y)
    }

    fn layer_names(&self) -> Vec<String> {
        ["conv1", "relu1", "pool", "fc1"].map(String::from).to_vec()
    }

    fn receptive_field(&self, layer: &str) -> Option<ReceptiveField> {
        let conv = ReceptiveField::PIXEL.then(5, 1, 0);
        match layer {
            "conv1" | "relu1" => Some(conv),
            "pool" => Some(conv.then(2, 2, 0)),
            _ => None,
        }
    }
}
