//! Learning-rate schedules, with `torch.optim.lr_scheduler`'s formulas. Build one from an
//! optimizer (it reads the base rate), then call `step(&mut opt)` once per epoch (step,
//! cosine) or once per batch (one-cycle).

use super::Optimizer;
use crate::error::{Error, Result};
use std::f32::consts::PI;

/// A schedule: the learning rate (and optionally momentum) after `t` scheduler steps.
pub trait LrScheduler {
    /// The learning rate after `t` steps.
    fn lr_at(&self, t: usize) -> f32;
    /// The momentum after `t` steps, for schedules that cycle it.
    fn momentum_at(&self, _t: usize) -> Option<f32> {
        None
    }
    /// Steps taken so far.
    fn steps(&self) -> usize;
    /// Advances the step counter.
    fn advance(&mut self);
    /// Advances one step and applies the new rate (and momentum) to `opt`.
    fn step(&mut self, opt: &mut dyn Optimizer) {
        self.advance();
        let t = self.steps();
        opt.set_lr(self.lr_at(t));
        if let Some(m) = self.momentum_at(t) {
            opt.set_momentum(m);
        }
    }
}

/// `StepLR`: multiply the rate by `gamma` every `step_size` steps.
pub struct StepLr {
    base: f32,
    step_size: usize,
    gamma: f32,
    t: usize,
}

impl StepLr {
    /// `StepLR(opt, step_size, gamma)`.
    pub fn new(opt: &dyn Optimizer, step_size: usize, gamma: f32) -> Result<StepLr> {
        if step_size == 0 {
            return Err(Error::Config {
                what: "StepLr::new",
                msg: "step_size must be at least 1".into(),
            });
        }
        Ok(StepLr {
            base: opt.lr(),
            step_size,
            gamma,
            t: 0,
        })
    }
}

impl LrScheduler for StepLr {
    fn lr_at(&self, t: usize) -> f32 {
        self.base * self.gamma.powi((t / self.step_size) as i32)
    }
    fn steps(&self) -> usize {
        self.t
    }
    fn advance(&mut self) {
        self.t += 1;
    }
}

/// `CosineAnnealingLR`: from the base rate down to `eta_min` over `t_max` steps along half
/// a cosine.
pub struct CosineAnnealingLr {
    base: f32,
    t_max: usize,
    eta_min: f32,
    t: usize,
}

impl CosineAnnealingLr {
    /// `CosineAnnealingLR(opt, T_max, eta_min)`.
    pub fn new(opt: &dyn Optimizer, t_max: usize, eta_min: f32) -> Result<CosineAnnealingLr> {
        if t_max == 0 {
            return Err(Error::Config {
                what: "CosineAnnealingLr::new",
                msg: "T_max must be at least 1".into(),
            });
        }
        Ok(CosineAnnealingLr {
            base: opt.lr(),
            t_max,
            eta_min,
            t: 0,
        })
    }
}

impl LrScheduler for CosineAnnealingLr {
    fn lr_at(&self, t: usize) -> f32 {
        let phase = PI * t as f32 / self.t_max as f32;
        self.eta_min + (self.base - self.eta_min) * (1.0 + phase.cos()) / 2.0
    }
    fn steps(&self) -> usize {
        self.t
    }
    fn advance(&mut self) {
        self.t += 1;
    }
}

/// `OneCycleLR` (two phases, cosine annealing, momentum cycled between 0.85 and 0.95):
/// warm up from `max_lr / 25` to `max_lr` over `pct_start` of the steps, then anneal to
/// `max_lr / 25 / 1e4`. Call `step` after every batch.
pub struct OneCycleLr {
    max_lr: f32,
    total_steps: usize,
    /// fraction of the steps spent warming up (PyTorch: 0.3)
    pub pct_start: f32,
    /// `initial_lr = max_lr / div_factor` (PyTorch: 25)
    pub div_factor: f32,
    /// `min_lr = initial_lr / final_div_factor` (PyTorch: 1e4)
    pub final_div_factor: f32,
    /// momentum at the peak rate (PyTorch: 0.85)
    pub base_momentum: f32,
    /// momentum at the ends (PyTorch: 0.95)
    pub max_momentum: f32,
    /// whether momentum is cycled at all
    pub cycle_momentum: bool,
    t: usize,
}

fn cos_anneal(start: f32, end: f32, pct: f32) -> f32 {
    end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
}

impl OneCycleLr {
    /// `OneCycleLR(opt, max_lr, total_steps)`; sets the optimizer's initial rate and
    /// momentum at once, as PyTorch does.
    pub fn new(opt: &mut dyn Optimizer, max_lr: f32, total_steps: usize) -> Result<OneCycleLr> {
        if total_steps < 2 {
            return Err(Error::Config {
                what: "OneCycleLr::new",
                msg: format!("total_steps = {total_steps}; one-cycle needs at least 2 steps"),
            });
        }
        let s = OneCycleLr {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            base_momentum: 0.85,
            max_momentum: 0.95,
            cycle_momentum: true,
            t: 0,
        };
        opt.set_lr(s.lr_at(0));
        if let Some(m) = s.momentum_at(0) {
            opt.set_momentum(m);
        }
        Ok(s)
    }

    /// `(phase start, phase end, pct)` for step `t`.
    fn phase(&self, t: usize) -> (bool, f32) {
        let warm_end = self.pct_start * self.total_steps as f32 - 1.0;
        let last = (self.total_steps - 1) as f32;
        let t = t as f32;
        if t <= warm_end {
            (true, if warm_end > 0.0 { t / warm_end } else { 1.0 })
        } else {
            (false, (t - warm_end) / (last - warm_end))
        }
    }
}

impl LrScheduler for OneCycleLr {
    fn lr_at(&self, t: usize) -> f32 {
        let initial = self.max_lr / self.div_factor;
        let min = initial / self.final_div_factor;
        match self.phase(t) {
            (true, pct) => cos_anneal(initial, self.max_lr, pct),
            (false, pct) => cos_anneal(self.max_lr, min, pct),
        }
    }
    fn momentum_at(&self, t: usize) -> Option<f32> {
        if !self.cycle_momentum {
            return None;
        }
        Some(match self.phase(t) {
            (true, pct) => cos_anneal(self.max_momentum, self.base_momentum, pct),
            (false, pct) => cos_anneal(self.base_momentum, self.max_momentum, pct),
        })
    }
    fn steps(&self) -> usize {
        self.t
    }
    fn advance(&mut self) {
        self.t += 1;
    }
}
