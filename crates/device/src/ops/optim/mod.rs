//! Fused optimizer updates on device buffers, matching `torch.optim.SGD` and `Adam` / `AdamW`
//! (single-tensor path) to the letter. Each step updates the parameter and its state in
//! place: every [`Array`] sharing the storage sees the new values, as with PyTorch's
//! in-place `param.add_`.

mod cpu;
pub(crate) mod gpu;

use crate::array::Array;
use crate::error::{Error, Result};

impl AdamStep {
    /// Adam's step `t` (counting from 1) with PyTorch's defaults for everything else
    /// (betas 0.9 / 0.999, eps 1e-8, no weight decay).
    pub fn new(lr: f32, t: u64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            amsgrad: false,
            maximize: false,
            bias_correction1: 0.0,
            bias_correction2_sqrt: 0.0,
        }
        .at_step(t)
    }

    /// The same hyperparameters at step `t` (from 1): sets the bias corrections, computed in
    /// f64 like PyTorch's Python scalars.
    pub fn at_step(self, t: u64) -> Self {
        let t = t.max(1) as i32;
        Self {
            bias_correction1: (1.0 - (self.beta1 as f64).powi(t)) as f32,
            bias_correction2_sqrt: (1.0 - (self.beta2 as f64).powi(t)).sqrt() as f32,
            ..self
        }
    }
}

fn check(op: &'static str, param: &Array, name: &str, other: &Array) -> Result<()> {
    param.same_device(op, other)?;
    if other.shape() != param.shape() {
        return Err(Error::mismatch(
            op,
            param.shape(),
            other.shape(),
            format!("{name} must have the parameter's shape"),
        ));
    }
    if param.shares_storage(other) {
        return Err(Error::invalid(
            op,
            param.shape(),
            format!("{name} shares the parameter's memory; pass a separate array"),
        ));
    }
    Ok(())
}

impl Array {
    /// One SGD step on this parameter in place. `momentum_buf` (zeros of the parameter's
    /// shape, kept between steps) is required when `step.momentum` is not 0.
    pub fn sgd_step_(
        &self,
        grad: &Array,
        momentum_buf: Option<&Array>,
        step: &SgdStep,
    ) -> Result<()> {
        const OP: &str = "sgd_step";
        check(OP, self, "grad", grad)?;
        if let Some(b) = momentum_buf {
            check(OP, self, "momentum_buf", b)?;
            check(OP, grad, "momentum_buf", b)?;
        } else if step.momentum != 0.0 {
            return Err(Error::invalid(
                OP,
                self.shape(),
                "momentum needs a momentum buffer of the parameter's shape",
            ));
        }
        if step.nesterov && (step.momentum <= 0.0 || step.dampening != 0.0) {
            return Err(Error::invalid(
                OP,
                self.shape(),
                "Nesterov momentum requires a momentum and zero dampening",
            ));
        }
        on_backend!(
            self.device(),
            sgd_step(
                self.storage(),
                grad.storage(),
                momentum_buf.map(Array::storage),
                self.numel(),
                step,
            )
        )?;
        self.bump_version();
        momentum_buf.inspect(|b| b.bump_version());
        Ok(())
    }

    /// One Adam / AdamW step on this parameter in place. `m`, `v` (and `vmax` for AMSGrad)
    /// are zeros of the parameter's shape before the first step.
    pub fn adam_step_(
        &self,
        grad: &Array,
        m: &Array,
        v: &Array,
        vmax: Option<&Array>,
        step: &AdamStep,
    ) -> Result<()> {
        const OP: &str = "adam_step";
        check(OP, self, "grad", grad)?;
        check(OP, self, "exp_avg", m)?;
        check(OP, self, "exp_avg_sq", v)?;
        check(OP, m, "exp_avg_sq", v)?;
        if let Some(x) = vmax {
            check(OP, self, "max_exp_avg_sq", x)?;
        } else if step.amsgrad {
            return Err(Error::invalid(
                OP,
                self.shape(),
                "AMSGrad needs a max_exp_avg_sq buffer of the parameter's shape",
            ));
        }
        on_backend!(
            self.device(),
            adam_step(
                self.storage(),
                grad.storage(),
                m.storage(),
                v.storage(),
                vmax.map(Array::storage),
                self.numel(),
                step,
            )
        )?;
        for a in [Some(self), Some(m), Some(v), vmax].into_iter().flatten() {
            a.bump_version();
        }
        Ok(())
    }
}

/// One step of `torch.optim.SGD` (already resolved to the numbers the kernel needs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    /// learning rate
    pub lr: f32,
    /// momentum factor (0: plain SGD, no buffer)
    pub momentum: f32,
    /// dampening of the gradient in the momentum buffer
    pub dampening: f32,
    /// L2 penalty added to the gradient
    pub weight_decay: f32,
    /// Nesterov momentum
    pub nesterov: bool,
    /// ascend instead of descend
    pub maximize: bool,
    /// the first step, which initialises the momentum buffer with the gradient
    pub first: bool,
}

impl SgdStep {
    /// Plain SGD at `lr` (`optim.SGD(params, lr)`): no momentum, dampening or weight decay.
    pub fn plain(lr: f32) -> SgdStep {
        SgdStep {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            first: true,
        }
    }
}

/// One step of `torch.optim.Adam` / `AdamW` (step count already applied to the bias
/// corrections).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// learning rate
    pub lr: f32,
    /// decay of the first moment
    pub beta1: f32,
    /// decay of the second moment
    pub beta2: f32,
    /// term added to the denominator
    pub eps: f32,
    /// weight decay (L2 in the gradient for Adam, decoupled for AdamW)
    pub weight_decay: f32,
    /// AdamW: decay the weights directly instead of adding to the gradient
    pub decoupled: bool,
    /// keep the running maximum of the second moment (AMSGrad)
    pub amsgrad: bool,
    /// ascend instead of descend
    pub maximize: bool,
    /// `1 - beta1^t`
    pub bias_correction1: f32,
    /// `sqrt(1 - beta2^t)`
    pub bias_correction2_sqrt: f32,
}
