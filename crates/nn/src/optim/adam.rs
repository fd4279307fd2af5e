//! `Adam` and AdamW.

use super::{check_hyper, state_entry, NamedTensor, Optimizer};
use crate::error::{Error, Result};
use fovea_device::{AdamStep, Array, Device};
use fovea_graph::Tensor;
use std::collections::HashMap;

struct State {
    step: u64,
    m: Array,
    v: Array,
    vmax: Option<Array>,
}

/// Adam (`torch.optim.Adam`), or AdamW with decoupled weight decay ([`Adam::adamw`]).
pub struct Adam {
    params: Vec<Tensor>,
    hyper: AdamStep,
    state: HashMap<u64, State>,
}

impl Adam {
    /// `optim.Adam(params, lr)`: betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn new(params: Vec<Tensor>, lr: f32) -> Adam {
        Adam {
            params,
            hyper: AdamStep::new(lr, 1),
            state: HashMap::new(),
        }
    }

    /// `optim.AdamW(params, lr)`: decoupled weight decay 0.01 as PyTorch's default.
    pub fn adamw(params: Vec<Tensor>, lr: f32) -> Adam {
        let mut a = Adam::new(params, lr);
        a.hyper.decoupled = true;
        a.hyper.weight_decay = 0.01;
        a
    }

    /// The same optimizer with `betas`.
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Adam {
        self.hyper.beta1 = beta1;
        self.hyper.beta2 = beta2;
        self
    }

    /// The same optimizer with `eps`.
    pub fn eps(mut self, eps: f32) -> Adam {
        self.hyper.eps = eps;
        self
    }

    /// The same optimizer with weight decay (L2 for Adam, decoupled for AdamW).
    pub fn weight_decay(mut self, weight_decay: f32) -> Adam {
        self.hyper.weight_decay = weight_decay;
        self
    }

    /// The same optimizer with AMSGrad.
    pub fn amsgrad(mut self, on: bool) -> Adam {
        self.hyper.amsgrad = on;
        self
    }
}

impl Optimizer for Adam {
    fn step(&mut self) -> Result<()> {
        const W: &str = "Adam";
        check_hyper(W, "lr", self.hyper.lr, 0.0, f32::MAX)?;
        check_hyper(W, "beta1", self.hyper.beta1, 0.0, 0.999_999)?;
        check_hyper(W, "beta2", self.hyper.beta2, 0.0, 0.999_999)?;
        check_hyper(W, "weight_decay", self.hyper.weight_decay, 0.0, f32::MAX)?;
        for p in &self.params {
            let Some(grad) = p.grad() else { continue };
            let value = p.array();
            if !self.state.contains_key(&p.id()) {
                let z = || Array::zeros(value.device(), value.shape());
                let vmax = self.hyper.amsgrad.then(z).transpose()?;
                self.state.insert(
                    p.id(),
                    State {
                        step: 0,
                        m: z()?,
                        v: z()?,
                        vmax,
                    },
                );
            }
            let s = self.state.get_mut(&p.id()).expect("state just inserted");
            s.step += 1;
            let step = self.hyper.at_step(s.step);
            value.adam_step_(&grad, &s.m, &s.v, s.vmax.as_ref(), &step)?;
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
        self.hyper.beta1
    }

    fn set_momentum(&mut self, m: f32) {
        self.hyper.beta1 = m;
    }

    fn state_arrays(&self) -> Result<Vec<(String, Array)>> {
        let mut out = Vec::new();
        for (i, p) in self.params.iter().enumerate() {
            let Some(s) = self.state.get(&p.id()) else {
                continue;
            };
            let step = Array::from_slice(&Device::cpu(), &[s.step as f32], &[])?;
            out.push((format!("{i}.step"), step));
            let bufs = [("exp_avg", Some(&s.m)), ("exp_avg_sq", Some(&s.v))];
            for (key, buf) in bufs
                .into_iter()
                .chain([("max_exp_avg_sq", s.vmax.as_ref())])
            {
                if let Some(b) = buf {
                    out.push((format!("{i}.{key}"), b.clone()));
                }
            }
        }
        Ok(out)
    }

    fn load_state_dict(&mut self, state: &[NamedTensor]) -> Result<()> {
        const KEYS: [&str; 4] = ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"];
        let mut parts: HashMap<usize, HashMap<&str, &NamedTensor>> = HashMap::new();
        for t in state {
            let (i, key) = state_entry("Adam", &self.params, t, &KEYS)?;
            parts.entry(i).or_default().insert(key, t);
        }
        let mut loaded = HashMap::new();
        for (i, m) in parts {
            let p = &self.params[i];
            let dev = p.array().device().clone();
            let arr = |key: &str| -> Result<Option<Array>> {
                m.get(key)
                    .map(|t| Array::from_slice(&dev, &t.data, &t.shape))
                    .transpose()
                    .map_err(Into::into)
            };
            let (Some(step), Some(mv), Some(vv)) =
                (m.get("step"), arr("exp_avg")?, arr("exp_avg_sq")?)
            else {
                return Err(Error::Config {
                    what: "Adam",
                    msg: format!(
                        "optimizer state for parameter {i} lacks step, exp_avg or exp_avg_sq"
                    ),
                });
            };
            let vmax = arr("max_exp_avg_sq")?;
            if self.hyper.amsgrad != vmax.is_some() {
                return Err(Error::Config {
                    what: "Adam",
                    msg: format!(
                        "optimizer state for parameter {i} does not match amsgrad = {}",
                        self.hyper.amsgrad
                    ),
                });
            }
            loaded.insert(
                p.id(),
                State {
                    step: step.data[0].round() as u64,
                    m: mv,
                    v: vv,
                    vmax,
                },
            );
        }
        self.state = loaded;
        Ok(())
    }
}
