//! `Linear`.

use super::{in_layer, source_shape};
use crate::error::{Error, Result};
use crate::init;
use crate::module::{LayerPath, Module};
use fovea_graph::Tensor;

/// `y = x W^T + b` over the last axis (`nn.Linear`): weight `[out, in]` as PyTorch keeps it.
pub struct Linear {
    /// `[out_features, in_features]`
    pub weight: Tensor,
    /// `[out_features]`, if any
    pub bias: Option<Tensor>,
    path: LayerPath,
}

impl Linear {
    /// `nn.Linear(in_features, out_features)` with a bias, Kaiming-uniform initialised.
    pub fn new(in_features: usize, out_features: usize) -> Linear {
        Self::with_bias(in_features, out_features, true).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `nn.Linear(in_features, out_features, bias=bias)`.
    pub fn with_bias(in_features: usize, out_features: usize, bias: bool) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::Config {
                what: "Linear::new",
                msg: format!(
                    "in_features {in_features} and out_features {out_features} must be positive"
                ),
            });
        }
        let weight = Tensor::param(init::kaiming_uniform(&[out_features, in_features])?);
        let bias = match bias {
            true => Some(Tensor::param(init::bias_uniform(
                out_features,
                in_features,
            )?)),
            false => None,
        };
        Ok(Linear {
            weight,
            bias,
            path: LayerPath::default(),
        })
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl Linear {
    fn check(&self, x: &Tensor) -> Result<()> {
        let want = self.in_features();
        let got = x.shape().last().copied().unwrap_or(0);
        if x.rank() == 0 || got != want {
            return Err(Error::Layer {
                layer: self.path.describe(self.type_name()),
                msg: format!(
                    "expects {want} input features, got {got} from input of shape {}; set in_features to {got} or change the layers before it",
                    source_shape(x)
                ),
            });
        }
        Ok(())
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.check(x)?;
        x.linear(&self.weight, self.bias.as_ref())
            .map_err(|e| in_layer(&self.path, self.type_name(), e))
    }

    fn forward_relu(&self, x: &Tensor) -> Option<Result<(Tensor, Tensor)>> {
        let run = || {
            self.check(x)?;
            x.linear_relu(&self.weight, self.bias.as_ref())
                .map_err(|e| in_layer(&self.path, self.type_name(), e))
        };
        Some(run())
    }

    fn type_name(&self) -> &'static str {
        "Linear"
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        out.extend(self.bias.iter().map(|b| ("bias".to_string(), b.clone())));
        out
    }

    layer_path_methods!();
}
