//! Losses as modules (`nn.CrossEntropyLoss`, `nn.NLLLoss`, `nn.MSELoss`) over the graph's
//! differentiable loss functions.

use crate::error::Result;
use fovea_device::{Array, CrossEntropyOptions, Reduction};
use fovea_graph::Tensor;

pub use fovea_graph::{cross_entropy, mse_loss, nll_loss};

/// A training step's numbers, still on the device so one read fetches both:
/// `[loss, number of rows whose arg-max logit is the label]`. Recorded nowhere.
pub fn step_summary(logits: &Tensor, labels: &Array, loss: &Tensor) -> Result<Array> {
    fovea_graph::no_grad(|| {
        let hits = logits
            .argmax(1, false)?
            .eq(labels)?
            .sum(&[], false)?
            .reshape(&[1])?;
        let l = loss.array().reshape(&[1])?;
        Ok(Array::concat(&[&l, &hits], 0)?)
    })
}

/// An evaluation batch's numbers, still on the device so one read fetches them all:
/// `[summed cross-entropy, then the predicted class of each row]`.
pub fn eval_summary(logits: &Tensor, labels: &Array) -> Result<Array> {
    fovea_graph::no_grad(|| {
        let opts = CrossEntropyOptions {
            reduction: Reduction::Sum,
            ..Default::default()
        };
        let l = cross_entropy(logits, labels, opts)?.array().reshape(&[1])?;
        let p = logits.argmax(1, false)?;
        Ok(Array::concat(&[&l, &p], 0)?)
    })
}

/// `nn.CrossEntropyLoss`: logits `[N, C]` against class indices `[N]` (as f32).
#[derive(Clone, Copy, Debug, Default)]
pub struct CrossEntropyLoss {
    /// reduction, label smoothing and ignore index
    pub options: CrossEntropyOptions,
}

impl CrossEntropyLoss {
    /// Mean reduction, no label smoothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same loss with label smoothing `eps` (PyTorch's `label_smoothing`).
    pub fn label_smoothing(mut self, eps: f32) -> Self {
        self.options.label_smoothing = eps;
        self
    }

    /// The same loss with another reduction.
    pub fn reduction(mut self, r: Reduction) -> Self {
        self.options.reduction = r;
        self
    }

    /// The loss of `logits` against `labels`.
    pub fn forward(&self, logits: &Tensor, labels: &Array) -> Result<Tensor> {
        Ok(cross_entropy(logits, labels, self.options)?)
    }
}

/// `nn.NLLLoss`: log-probabilities `[N, C]` against class indices `[N]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NllLoss {
    /// how per-sample losses combine
    pub reduction: Reduction,
}

impl NllLoss {
    /// The loss of `log_probs` against `labels` (PyTorch's ignore index -100).
    pub fn forward(&self, log_probs: &Tensor, labels: &Array) -> Result<Tensor> {
        Ok(nll_loss(log_probs, labels, self.reduction, -100)?)
    }
}

/// `nn.MSELoss`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MseLoss {
    /// how per-element losses combine
    pub reduction: Reduction,
}

impl MseLoss {
    /// The loss of `input` against `target`.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        Ok(mse_loss(input, target, self.reduction)?)
    }
}
