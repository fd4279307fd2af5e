//! Optimizers over a module's parameters (`torch.optim`) and learning-rate schedules
//! (`torch.optim.lr_scheduler`). Updates run in place on the device with the fused kernels.

mod adam;
mod schedule;
mod sgd;

pub use adam::Adam;
pub use schedule::{CosineAnnealingLr, LrScheduler, OneCycleLr, StepLr};
pub use sgd::Sgd;

use crate::checkpoint::NamedTensor;
use crate::error::{Error, Result};
use fovea_device::Array;
use fovea_graph::Tensor;

/// The optimizer `fovea train --optimizer` names: `sgd` (with momentum), `adam` or `adamw`.
pub fn by_name(
    name: &str,
    params: Vec<Tensor>,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
) -> Result<Box<dyn Optimizer>> {
    Ok(match name {
        "sgd" => Box::new(
            Sgd::new(params, lr)
                .momentum(momentum)
                .weight_decay(weight_decay),
        ),
        "adam" => Box::new(Adam::new(params, lr).weight_decay(weight_decay)),
        "adamw" => Box::new(Adam::adamw(params, lr).weight_decay(weight_decay)),
        other => {
            return Err(Error::Config {
                what: "optimizer",
                msg: format!("unknown optimizer `{other}`; known: sgd, adam, adamw"),
            })
        }
    })
}

/// A schedule and whether it steps after every batch (one-cycle) rather than every epoch.
pub type Schedule = (Box<dyn LrScheduler>, bool);

/// The schedule `fovea train --schedule` names over `epochs` epochs of `steps_per_epoch`
/// batches: `none`, `step` (x0.1 every third of the epochs), `cosine` (to 0 at the end) or
/// `onecycle` (peaking at `max_lr`).
pub fn schedule_by_name(
    name: &str,
    opt: &mut dyn Optimizer,
    epochs: usize,
    steps_per_epoch: usize,
    max_lr: f32,
) -> Result<Option<Schedule>> {
    Ok(match name {
        "none" => None,
        "step" => Some((Box::new(StepLr::new(opt, (epochs / 3).max(1), 0.1)?), false)),
        "cosine" => Some((
            Box::new(CosineAnnealingLr::new(opt, epochs.max(1), 0.0)?),
            false,
        )),
        "onecycle" => Some((
            Box::new(OneCycleLr::new(
                opt,
                max_lr,
                (epochs * steps_per_epoch).max(1),
            )?),
            true,
        )),
        other => {
            return Err(Error::Config {
                what: "schedule",
                msg: format!("unknown schedule `{other}`; known: none, step, cosine, onecycle"),
            })
        }
    })
}

/// The optimizer's state copied to the host through the async read path (every target).
pub async fn state_dict_async(opt: &dyn Optimizer) -> Result<Vec<NamedTensor>> {
    crate::checkpoint::read_named(opt.state_arrays()?).await
}

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
    /// The running buffers where they live, named like PyTorch's optimizer `state_dict`
    /// (`"3.momentum_buffer"`, `"3.exp_avg"`, `"3.exp_avg_sq"`, `"3.step"`: parameter
    /// index, then buffer); [`state_dict_async`] copies them to the host.
    fn state_arrays(&self) -> Result<Vec<(String, Array)>>;
    /// [`Optimizer::state_arrays`] copied to the host, for resuming a run (native; the
    /// browser uses [`state_dict_async`]).
    #[cfg(not(target_arch = "wasm32"))]
    fn state_dict(&self) -> Result<Vec<NamedTensor>> {
        fovea_device::block_on(crate::checkpoint::read_named(self.state_arrays()?))
    }
    /// Restores buffers from [`Optimizer::state_dict`]; refuses unknown names and wrong
    /// shapes, leaving the optimizer unchanged.
    fn load_state_dict(&mut self, state: &[NamedTensor]) -> Result<()>;
}

/// Splits `"3.exp_avg"` into parameter 3 and `"exp_avg"`, checking the index and the shape
/// against `params`.
pub(crate) fn state_entry<'a>(
    what: &'static str,
    params: &[Tensor],
    t: &'a NamedTensor,
    known: &[&str],
) -> Result<(usize, &'a str)> {
    let bad = |msg: String| Error::Config { what, msg };
    let (i, key) = t
        .name
        .split_once('.')
        .and_then(|(i, k)| Some((i.parse::<usize>().ok()?, k)))
        .filter(|(_, k)| known.contains(k))
        .ok_or_else(|| {
            bad(format!(
                "optimizer state `{}` is not `<index>.<{}>`; was it saved by another optimizer?",
                t.name,
                known.join("|")
            ))
        })?;
    let p = params.get(i).ok_or_else(|| {
        bad(format!(
            "optimizer state `{}` is for parameter {i}, but there are {} parameters",
            t.name,
            params.len()
        ))
    })?;
    let want: &[usize] = if key == "step" { &[] } else { p.shape() };
    if t.shape != want && !(key == "step" && t.data.len() == 1) {
        return Err(bad(format!(
            "optimizer state `{}` has shape {:?}, parameter {i} needs {want:?}",
            t.name, t.shape
        )));
    }
    Ok((i, key))
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
