//! Softmax cross-entropy from logits and class indices, forward and backward in one kernel,
//! like `torch.nn.functional.cross_entropy`.

mod cpu;
pub(crate) mod gpu;

use crate::array::Array;
use crate::error::{Error, Result};

/// How the per-sample losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// mean over the samples that are not ignored (PyTorch's default)
    #[default]
    Mean,
    /// sum over the samples
    Sum,
    /// one loss per sample
    None,
}

/// `cross_entropy`'s attributes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyOptions {
    /// how per-sample losses are combined
    pub reduction: Reduction,
    /// label smoothing in `[0, 1]`
    pub label_smoothing: f32,
    /// samples with this label count for nothing (PyTorch's default: -100)
    pub ignore_index: i64,
}

impl Default for CrossEntropyOptions {
    fn default() -> Self {
        Self {
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
            ignore_index: -100,
        }
    }
}

impl Array {
    /// Cross-entropy of `[N, C]` logits against `[N]` class indices (stored as f32). Returns
    /// the loss (a scalar, or `[N]` for [`Reduction::None`]) and its gradient w.r.t. the
    /// logits (for `None`, of the sum of the losses). A label outside `0..C` that is not
    /// `ignore_index` makes its sample's loss and gradient NaN.
    pub fn cross_entropy(
        &self,
        labels: &Array,
        opts: CrossEntropyOptions,
    ) -> Result<(Array, Array)> {
        const OP: &str = "cross_entropy";
        self.same_device(OP, labels)?;
        if self.rank() != 2 || labels.shape() != [self.shape()[0]] {
            return Err(Error::mismatch(
                OP,
                self.shape(),
                labels.shape(),
                "expects logits [N, C] and labels [N] (class indices)",
            ));
        }
        if !(0.0..=1.0).contains(&opts.label_smoothing) {
            return Err(Error::invalid(
                OP,
                self.shape(),
                format!(
                    "label_smoothing {} must lie in [0, 1]",
                    opts.label_smoothing
                ),
            ));
        }
        let (rows, classes) = (self.shape()[0], self.shape()[1]);
        let g = CrossEntropyGeom {
            rows,
            classes,
            smoothing: opts.label_smoothing,
            ignore_index: opts.ignore_index,
        };
        let (loss, grad) = on_backend!(
            self.device(),
            cross_entropy(self.storage(), labels.storage(), &g)
        )?;
        let loss = Array::wrap(self.device(), vec![rows], loss);
        let grad = Array::wrap(self.device(), vec![rows, classes], grad);
        match opts.reduction {
            Reduction::None => Ok((loss, grad)),
            Reduction::Sum => Ok((loss.sum(&[0], false)?, grad)),
            Reduction::Mean => {
                let ignore = Array::scalar(self.device(), opts.ignore_index as f32)?;
                let count = labels.ne(&ignore)?.sum(&[0], false)?;
                Ok((loss.sum(&[0], false)?.div(&count)?, grad.div(&count)?))
            }
        }
    }
}

/// Softmax cross-entropy over `[rows, classes]` logits with class-index labels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyGeom {
    /// number of samples
    pub rows: usize,
    /// number of classes
    pub classes: usize,
    /// label smoothing in `[0, 1]`
    pub smoothing: f32,
    /// a label equal to this contributes neither loss nor gradient
    pub ignore_index: i64,
}
