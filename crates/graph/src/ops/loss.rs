//! Losses: cross-entropy (fused with its gradient on the device), NLL and MSE (composed of
//! differentiable ops).

use crate::error::Result;
use crate::op::Op;
use crate::tape::record_saving;
use crate::tensor::Tensor;
use fovea_device::{Array, CrossEntropyOptions, Reduction};

/// Cross-entropy of `[N, C]` logits against class indices `labels` (`[N]`, as f32), with
/// PyTorch's reduction, label smoothing and `ignore_index` (`F.cross_entropy`).
pub fn cross_entropy(logits: &Tensor, labels: &Array, opts: CrossEntropyOptions) -> Result<Tensor> {
    let (loss, grad) = logits.array().cross_entropy(labels, opts)?;
    record_saving(Op::CrossEntropy, loss, &[logits], &[], move |g, _| {
        let scale = if g.rank() == 1 {
            g.reshape(&[g.numel(), 1])?
        } else {
            g.clone()
        };
        Ok(vec![Some(grad.mul(&scale)?)])
    })
}

/// Negative log-likelihood of `[N, C]` log-probabilities against class indices `labels`
/// (`[N]`, as f32), skipping samples labelled `ignore_index` (`F.nll_loss`).
pub fn nll_loss(
    log_probs: &Tensor,
    labels: &Array,
    reduction: Reduction,
    ignore_index: i64,
) -> Result<Tensor> {
    let shape = log_probs.shape();
    if shape.len() != 2 || labels.shape() != [shape[0]] {
        return Err(fovea_device::Error::mismatch(
            "nll_loss",
            shape,
            labels.shape(),
            "expects [N, C] log-probabilities and [N] class indices",
        )
        .into());
    }
    let (n, c) = (shape[0], shape[1]);
    let device = labels.device();
    let column = labels.reshape(&[n, 1])?;
    let classes = Array::arange(device, 0.0, c as f32, 1.0)?;
    let keep = column.ne(&Array::scalar(device, ignore_index as f32)?)?;
    let pick = Tensor::new(column.eq(&classes)?.mul(&keep)?.neg()?);
    let per_sample = log_probs.mul(&pick)?.sum(&[1], false)?;
    match reduction {
        Reduction::None => Ok(per_sample),
        Reduction::Sum => per_sample.sum(&[], false),
        Reduction::Mean => {
            let kept = Tensor::new(keep.sum(&[], false)?);
            per_sample.sum(&[], false)?.div(&kept)
        }
    }
}

/// Mean squared error (`F.mse_loss`), broadcasting `target` against `input`.
pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    let d = input.sub(target)?;
    let sq = d.mul(&d)?;
    match reduction {
        Reduction::None => Ok(sq),
        Reduction::Sum => sq.sum(&[], false),
        Reduction::Mean => sq.mean(&[], false),
    }
}
