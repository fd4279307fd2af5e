//! Batch normalisation over NCHW arrays (`torch.nn.functional.batch_norm`): training and eval
//! forward, the running-statistics update, and the backward pass for input, gamma and beta.
//!
//! Per channel, with `M = N * H * W` values: training normalises by the batch mean and the
//! biased variance; the running variance is updated with the unbiased one, as PyTorch does.

mod cpu;
pub(crate) mod gpu;

use crate::array::Array;
use crate::device::Backend;
use crate::error::{Error, Result};

/// What the training forward pass keeps for the backward pass and the running statistics.
#[derive(Clone, Debug)]
pub struct BatchNormStats {
    /// batch mean per channel, `[C]`
    pub mean: Array,
    /// biased batch variance per channel, `[C]`
    pub var: Array,
    /// `1 / sqrt(var + eps)`, `[C]`
    pub invstd: Array,
    /// values per channel (`N * H * W`)
    pub count: usize,
}

/// Gradients of batch norm's training forward.
#[derive(Clone, Debug)]
pub struct BatchNormGrads {
    /// w.r.t. the input
    pub x: Array,
    /// w.r.t. gamma (the scale), `[C]`
    pub gamma: Array,
    /// w.r.t. beta (the shift), `[C]`
    pub beta: Array,
}

fn dims(op: &'static str, x: &Array) -> Result<ChannelDims> {
    let s = x.shape();
    if s.len() != 4 && s.len() != 2 {
        return Err(Error::invalid(
            op,
            s,
            "expects [N, C, H, W] (or [N, C]) input",
        ));
    }
    Ok(ChannelDims {
        n: s[0],
        c: s[1],
        hw: s[2..].iter().product(),
    })
}

fn check_channel(op: &'static str, x: &Array, name: &str, p: &Array) -> Result<()> {
    x.same_device(op, p)?;
    if p.shape() != [x.shape()[1]] {
        return Err(Error::mismatch(
            op,
            x.shape(),
            p.shape(),
            format!(
                "{name} needs one value per channel: shape [{}]",
                x.shape()[1]
            ),
        ));
    }
    Ok(())
}

impl Array {
    /// `coef[c] * x + coef[C + c] + coef[2C + c] * z` with `coef = [a, b, cz]` per channel.
    fn channel_affine(
        &self,
        z: Option<&Array>,
        coef: [&Array; 3],
        d: ChannelDims,
    ) -> Result<Array> {
        self.channel_affine_then(z, coef, d, false).map(|(y, _)| y)
    }

    /// [`Array::channel_affine`], and with `relu` also its ReLU: from the same pass on the
    /// GPU, after it on the CPU backend.
    fn channel_affine_then(
        &self,
        z: Option<&Array>,
        coef: [&Array; 3],
        d: ChannelDims,
        relu: bool,
    ) -> Result<(Array, Option<Array>)> {
        let coef = Array::concat(&coef, 0)?;
        let (x, z, coef) = (self.storage(), z.map(Array::storage), coef.storage());
        let (y, activated) = match self.device().backend() {
            Backend::Cpu(c) => (c.channel_affine(x, z, coef, d)?, None),
            Backend::Gpu(e) => e.channel_affine(x, z, coef, d, relu)?,
        };
        let wrap = |s| Array::wrap(self.device(), self.shape().to_vec(), s);
        let y = wrap(y);
        let activated = match activated {
            Some(a) => Some(wrap(a)),
            None if relu => Some(y.relu()?),
            None => None,
        };
        Ok((y, activated))
    }

    #[allow(clippy::too_many_arguments)]
    fn scale_shift(
        &self,
        mean: &Array,
        invstd: &Array,
        gamma: Option<&Array>,
        beta: Option<&Array>,
        d: ChannelDims,
        relu: bool,
    ) -> Result<(Array, Option<Array>)> {
        let scale = match gamma {
            Some(g) => g.mul(invstd)?,
            None => invstd.clone(),
        };
        let shift = mean.mul(&scale)?.neg()?;
        let shift = match beta {
            Some(b) => shift.add(b)?,
            None => shift,
        };
        let zero = Array::zeros(self.device(), &[d.c])?;
        self.channel_affine_then(None, [&scale, &shift, &zero], d, relu)
    }

    /// Training-mode batch norm: normalises each channel by the batch statistics, then
    /// scales by `gamma` and shifts by `beta` (each `[C]`, optional).
    pub fn batch_norm2d_train(
        &self,
        gamma: Option<&Array>,
        beta: Option<&Array>,
        eps: f32,
    ) -> Result<(Array, BatchNormStats)> {
        let (y, _, stats) = self.batch_norm2d_train_then(gamma, beta, eps, false)?;
        Ok((y, stats))
    }

    /// [`Array::batch_norm2d_train`] and the ReLU of its output, `(y, relu(y), stats)`; on
    /// the GPU one pass writes both.
    pub fn batch_norm2d_train_relu(
        &self,
        gamma: Option<&Array>,
        beta: Option<&Array>,
        eps: f32,
    ) -> Result<(Array, Array, BatchNormStats)> {
        let (y, activated, stats) = self.batch_norm2d_train_then(gamma, beta, eps, true)?;
        Ok((y, activated.expect("asked for the ReLU"), stats))
    }

    fn batch_norm2d_train_then(
        &self,
        gamma: Option<&Array>,
        beta: Option<&Array>,
        eps: f32,
        relu: bool,
    ) -> Result<(Array, Option<Array>, BatchNormStats)> {
        const OP: &str = "batch_norm2d";
        let d = dims(OP, self)?;
        for (name, p) in [("gamma", gamma), ("beta", beta)] {
            if let Some(p) = p {
                check_channel(OP, self, name, p)?;
            }
        }
        if d.per_channel() < 2 {
            return Err(Error::invalid(
                OP,
                self.shape(),
                "training needs more than one value per channel; use a larger batch or eval()",
            ));
        }
        let m = on_backend!(self.device(), channel_moments(self.storage(), None, d))?;
        let m = Array::wrap(self.device(), vec![2 * d.c], m);
        let mean = m.slice(0, 0, d.c, 1)?;
        let var = m.slice(0, d.c, 2 * d.c, 1)?;
        let invstd = var.add_scalar(eps)?.powf(-0.5)?;
        let (y, activated) = self.scale_shift(&mean, &invstd, gamma, beta, d, relu)?;
        let stats = BatchNormStats {
            mean,
            var,
            invstd,
            count: d.per_channel(),
        };
        Ok((y, activated, stats))
    }

    /// Eval-mode batch norm with the running statistics.
    pub fn batch_norm2d_eval(
        &self,
        gamma: Option<&Array>,
        beta: Option<&Array>,
        running_mean: &Array,
        running_var: &Array,
        eps: f32,
    ) -> Result<Array> {
        let running = (running_mean, running_var);
        Ok(self
            .batch_norm2d_eval_then(gamma, beta, running, eps, false)?
            .0)
    }

    /// [`Array::batch_norm2d_eval`] and the ReLU of its output, `(y, relu(y))`; on the GPU
    /// one pass writes both.
    pub fn batch_norm2d_eval_relu(
        &self,
        gamma: Option<&Array>,
        beta: Option<&Array>,
        running_mean: &Array,
        running_var: &Array,
        eps: f32,
    ) -> Result<(Array, Array)> {
        let running = (running_mean, running_var);
        let (y, activated) = self.batch_norm2d_eval_then(gamma, beta, running, eps, true)?;
        Ok((y, activated.expect("asked for the ReLU")))
    }

    fn batch_norm2d_eval_then(
        &self,
        gamma: Option<&Array>,
        beta: Option<&Array>,
        (running_mean, running_var): (&Array, &Array),
        eps: f32,
        relu: bool,
    ) -> Result<(Array, Option<Array>)> {
        const OP: &str = "batch_norm2d";
        let d = dims(OP, self)?;
        check_channel(OP, self, "running_mean", running_mean)?;
        check_channel(OP, self, "running_var", running_var)?;
        for (name, p) in [("gamma", gamma), ("beta", beta)] {
            if let Some(p) = p {
                check_channel(OP, self, name, p)?;
            }
        }
        let invstd = running_var.add_scalar(eps)?.powf(-0.5)?;
        self.scale_shift(running_mean, &invstd, gamma, beta, d, relu)
    }

    /// The running statistics after one training step:
    /// `(1 - momentum) * running + momentum * batch`, with the unbiased batch variance.
    pub fn batch_norm2d_running(
        running_mean: &Array,
        running_var: &Array,
        stats: &BatchNormStats,
        momentum: f32,
    ) -> Result<(Array, Array)> {
        let n = stats.count as f32;
        let unbiased = stats.var.mul_scalar(n / (n - 1.0))?;
        let blend = |old: &Array, new: &Array| -> Result<Array> {
            old.mul_scalar(1.0 - momentum)?
                .add(&new.mul_scalar(momentum)?)
        };
        Ok((
            blend(running_mean, &stats.mean)?,
            blend(running_var, &unbiased)?,
        ))
    }

    /// Gradients of `sum(batch_norm2d_train(x, gamma, beta) * grad_y)`.
    pub fn batch_norm2d_backward(
        x: &Array,
        grad_y: &Array,
        gamma: Option<&Array>,
        stats: &BatchNormStats,
    ) -> Result<BatchNormGrads> {
        const OP: &str = "batch_norm2d_backward";
        let d = dims(OP, x)?;
        x.same_device(OP, grad_y)?;
        if grad_y.shape() != x.shape() {
            return Err(Error::mismatch(
                OP,
                x.shape(),
                grad_y.shape(),
                "grad_y must have the input's shape",
            ));
        }
        let s = on_backend!(
            x.device(),
            channel_moments(
                x.storage(),
                Some((grad_y.storage(), stats.mean.storage())),
                d,
            )
        )?;
        let s = Array::wrap(x.device(), vec![2 * d.c], s);
        let sum_g = s.slice(0, 0, d.c, 1)?;
        let sum_gx = s.slice(0, d.c, 2 * d.c, 1)?;
        let m = d.per_channel() as f32;
        // grad_x = a * grad_y + b * x + c with a = gamma * invstd,
        // b = -a * invstd^2 * sum(g (x - mean)) / M, c = -a * sum(g) / M - b * mean.
        let a = match gamma {
            Some(g) => g.mul(&stats.invstd)?,
            None => stats.invstd.clone(),
        };
        let b = a
            .mul(&stats.invstd.mul(&stats.invstd)?)?
            .mul(&sum_gx)?
            .mul_scalar(-1.0 / m)?;
        let c = a
            .mul(&sum_g)?
            .mul_scalar(-1.0 / m)?
            .sub(&b.mul(&stats.mean)?)?;
        let gx = x.channel_affine(Some(grad_y), [&b, &c, &a], d)?;
        Ok(BatchNormGrads {
            x: gx,
            gamma: sum_gx.mul(&stats.invstd)?,
            beta: sum_g,
        })
    }
}

/// An NCHW array seen as `[n, c, hw]` for per-channel work (batch norm).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelDims {
    /// batch
    pub n: usize,
    /// channels
    pub c: usize,
    /// elements per channel plane (H times W)
    pub hw: usize,
}

impl ChannelDims {
    /// Elements of the whole array.
    pub fn len(&self) -> usize {
        self.n * self.c * self.hw
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements per channel across the batch.
    pub fn per_channel(&self) -> usize {
        self.n * self.hw
    }
}
