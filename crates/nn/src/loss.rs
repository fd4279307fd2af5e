//! Losses as modules (`nn.CrossEntropyLoss`, `nn.NLLLoss`, `nn.MSELoss`) over the graph's
//! differentiable loss functions.

use crate::error::Result;
use fovea_device::{Array, CrossEntropyOptions, Reduction};
use fovea_graph::Tensor;

pub use fovea_graph::{cross_entropy, mse_loss, nll_loss};

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
