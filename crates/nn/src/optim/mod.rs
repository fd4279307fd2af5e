//! Optimizers over a module's parameters (`torch.optim`) and learning-rate schedules
//! (`torch.optim.lr_scheduler`). Updates run in place on the device with the fused kernels.

mod adam;
mod schedule;
mod sgd;

pub use adam::Adam;
pub use schedule::{CosineAnnealingLr, LrScheduler, OneCycleLr, StepLr};
pub use sgd::Sgd;

use crate::error::{Error, Result};

/// What every optimizer offers: one update from the accumulated gradients, clearing them,
/// and the knobs schedules turn.
pub trait Optimizer {
    /// Updates every parameter that has a gradient (`optimizer.step()`).
    fn step(&mut self) -> Result<()>;
    /// Clears every parameter's gradient (`zero_grad(set_to_none=True)`).
    fn zero_grad(&self);
    /// The current learning rate.
    fn lr(&self) -> f32;
    /// Sets the learning rate (schedules call this).
    fn set_lr(&mut self, lr: f32);
    /// The momentum (SGD) or beta1 (Adam), which one-cycle schedules cycle.
    fn momentum(&self) -> f32;
    /// Sets the momentum (SGD) or beta1 (Adam).
    fn set_momentum(&mut self, m: f32);
}

pub(crate) fn check_hyper(what: &'static str, name: &str, v: f32, lo: f32, hi: f32) -> Result<()> {
    if !(lo..=hi).contains(&v) {
        return Err(Error::Config {
            what,
            msg: format!("{name} = {v} is outside [{lo}, {hi}]"),
        });
    }
    Ok(())
}
