//! `Sgd`.

use super::{check_hyper, state_entry, NamedTensor, Optimizer};
use crate::error::{Error, Result};
use fovea_device::{Array, SgdStep};
use fovea_graph::Tensor;
use std::collections::HashMap;

/// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay,
/// exactly as `torch.optim.SGD` (the first step fills the momentum buffer with the gradient).
pub struct Sgd {
    params: Vec<Tensor>,
    hyper: SgdStep,
    buffers: HashMap<u64, Array>,
}

impl Sgd {
    /// `optim.SGD(params, lr)`: no momentum, no weight decay.
    pub fn new(params: Vec<Tensor>, lr: f32) -> Sgd {
        Sgd {
            params,
            hyper: SgdStep::plain(lr),
            buffers: HashMap::new(),
        }
    }

    /// The same optimizer with `momentum`.
    pub fn momentum(mut self, momentum: f32) -> Sgd {
        self.hyper.momentum = momentum;
        self
    }

    /// The same optimizer with dampening.
    pub fn dampening(mut self, dampening: f32) -> Sgd {
        self.hyper.dampening = dampening;
        self
    }

    /// The same optimizer with an L2 penalty.
    pub fn weight_decay(mut self, weight_decay: f32) -> Sgd {
        self.hyper.weight_decay = weight_decay;
        self
    }

    /// The same optimizer with Nesterov momentum.
    pub fn nesterov(mut self, on: bool) -> Sgd {
        self.hyper.nesterov = on;
        self
    }

    fn validate(&self) -> Result<()> {
        const W: &str = "Sgd";
        check_hyper(W, "lr", self.hyper.lr, 0.0, f32::MAX)?;
        check_hyper(W, "momentum", self.hyper.momentum, 0.0, f32::MAX)?;
        check_hyper(W, "weight_decay", self.hyper.weight_decay, 0.0, f32::MAX)?;
        if self.hyper.nesterov && (self.hyper.momentum <= 0.0 || self.hyper.dampening != 0.0) {
            return Err(Error::Config {
                what: W,
                msg: "Nesterov momentum requires momentum > 0 and dampening 0".into(),
            });
        }
        Ok(())
    }

    /// The parameters being optimised.
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        self.validate()?;
        for p in &self.params {
            let Some(grad) = p.grad() else { continue };
            let value = p.array();
            let mut step = self.hyper;
            let buf = if step.momentum != 0.0 {
                step.first = !self.buffers.contains_key(&p.id());
                if step.first {
                    self.buffers
                        .insert(p.id(), Array::zeros(value.device(), value.shape())?);
                }
                self.buffers.get(&p.id())
            } else {
                None
            };
            value.sgd_step_(&grad, buf, &step)?;
        }
        Ok(())
    }

    fn zero_grad(&self) {
        self.params.iter().for_each(Tensor::zero_grad);
    }

    fn lr(&self) -> f32 {
        self.hyper.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.hyper.lr = lr;
    }

    fn momentum(&self) -> f32 {
        self.hyper.momentum
    }

    fn set_momentum(&mut self, m: f32) {
        self.hyper.momentum = m;
    }

    fn state_arrays(&self) -> Result<Vec<(String, Array)>> {
        Ok(self
            .params
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let b = self.buffers.get(&p.id())?;
                Some((format!("{i}.momentum_buffer"), b.clone()))
            })
            .collect())
    }

    fn load_state_dict(&mut self, state: &[NamedTensor]) -> Result<()> {
        let mut loaded = HashMap::new();
        for t in state {
            let (i, _) = state_entry("Sgd", &self.params, t, &["momentum_buffer"])?;
            let p = &self.params[i];
            loaded.insert(
                p.id(),
                Array::from_slice(p.array().device(), &t.data, &t.shape)?,
            );
        }
        self.buffers = loaded;
        Ok(())
    }
}
