//! CNN layers as differentiable ops: convolution, pooling, resize, batch norm, linear,
//! dropout.

use crate::error::Result;
use crate::op::Op;
use crate::tape::record_saving;
use crate::tensor::Tensor;
use fovea_device::{Array, Conv2dOptions, Pool2dOptions};

/// What [`Tensor::batch_norm2d`] needs besides the input.
pub struct BatchNormArgs<'a> {
    /// scale `[C]`
    pub weight: Option<&'a Tensor>,
    /// shift `[C]`
    pub bias: Option<&'a Tensor>,
    /// running mean `[C]`, updated in place in training mode
    pub running_mean: Option<&'a Tensor>,
    /// running variance `[C]`, updated in place in training mode
    pub running_var: Option<&'a Tensor>,
    /// batch statistics (training) or running statistics (evaluation)
    pub training: bool,
    /// running-statistics blend factor
    pub momentum: f32,
    /// added to the variance
    pub eps: f32,
}

fn opt_array(t: Option<&Tensor>) -> Option<Array> {
    t.map(Tensor::array)
}

impl Tensor {
    /// 2-D convolution of an NCHW input with a `[C_out, C_in / groups, KH, KW]` weight and an
    /// optional `[C_out]` bias (`F.conv2d`).
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: Conv2dOptions,
    ) -> Result<Tensor> {
        let v = self
            .array()
            .conv2d(&weight.array(), opt_array(bias).as_ref(), opts)?;
        self.record_conv2d(v, weight, bias, opts)
    }

    /// [`Tensor::conv2d`] followed by [`Tensor::relu`], in one pass where the device fuses
    /// them: `(y, relu(y))`, recorded as the two ops, so hooks, gradients and overridden
    /// backward rules see both.
    pub fn conv2d_relu(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: Conv2dOptions,
    ) -> Result<(Tensor, Tensor)> {
        let (v, activated) =
            self.array()
                .conv2d_relu(&weight.array(), opt_array(bias).as_ref(), opts)?;
        let y = self.record_conv2d(v, weight, bias, opts)?;
        let activated = y.record_relu(activated)?;
        Ok((y, activated))
    }

    fn record_conv2d(
        &self,
        v: Array,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: Conv2dOptions,
    ) -> Result<Tensor> {
        let (x, w) = (self.array(), weight.array());
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        record_saving(
            Op::Conv2d,
            v,
            &inputs,
            &[true, true, false],
            move |g, need| {
                let mut out = vec![
                    need[0]
                        .then(|| Array::conv2d_backward_data(g, &w, x.shape(), opts))
                        .transpose()?,
                    need[1]
                        .then(|| Array::conv2d_backward_weight(&x, g, w.shape(), opts))
                        .transpose()?,
                ];
                if need.len() == 3 {
                    out.push(need[2].then(|| g.sum(&[0, 2, 3], false)).transpose()?);
                }
                Ok(out)
            },
        )
    }

    /// Max pooling (`F.max_pool2d`); the gradient goes to each window's maximum.
    pub fn max_pool2d(&self, opts: Pool2dOptions) -> Result<Tensor> {
        let (v, idx) = self.array().max_pool2d(opts)?;
        let shape = self.shape().to_vec();
        record_saving(Op::MaxPool2d, v, &[self], &[], move |g, _| {
            Ok(vec![Some(Array::max_pool2d_backward(
                g, &idx, &shape, opts,
            )?)])
        })
    }

    /// Average pooling (`F.avg_pool2d`).
    pub fn avg_pool2d(&self, opts: Pool2dOptions) -> Result<Tensor> {
        let shape = self.shape().to_vec();
        record_saving(
            Op::AvgPool2d,
            self.array().avg_pool2d(opts)?,
            &[self],
            &[],
            move |g, _| Ok(vec![Some(Array::avg_pool2d_backward(g, &shape, opts)?)]),
        )
    }

    /// Adaptive average pooling to `(rows, cols)` (`F.adaptive_avg_pool2d`).
    pub fn adaptive_avg_pool2d(&self, size: (usize, usize)) -> Result<Tensor> {
        let shape = self.shape().to_vec();
        let v = self.array().adaptive_avg_pool2d(size)?;
        record_saving(Op::AdaptiveAvgPool2d, v, &[self], &[], move |g, _| {
            Ok(vec![Some(Array::adaptive_avg_pool2d_backward(g, &shape)?)])
        })
    }

    /// Bilinear resize to `(rows, cols)` (`F.interpolate(mode="bilinear")`).
    pub fn resize_bilinear(&self, size: (usize, usize), align_corners: bool) -> Result<Tensor> {
        let shape = self.shape().to_vec();
        let v = self.array().resize_bilinear(size, align_corners)?;
        record_saving(Op::ResizeBilinear, v, &[self], &[], move |g, _| {
            Ok(vec![Some(Array::resize_bilinear_backward(
                g,
                &shape,
                align_corners,
            )?)])
        })
    }

    /// `x W^T + b` over the last axis (`F.linear`), weight `[out, in]`.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let v = self
            .array()
            .linear(&weight.array(), opt_array(bias).as_ref())?;
        self.record_linear(v, weight, bias)
    }

    /// [`Tensor::linear`] followed by [`Tensor::relu`], in one pass where the device fuses
    /// them: `(y, relu(y))`, recorded as the two ops.
    pub fn linear_relu(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        let (v, activated) = self
            .array()
            .linear_relu(&weight.array(), opt_array(bias).as_ref())?;
        let y = self.record_linear(v, weight, bias)?;
        let activated = y.record_relu(activated)?;
        Ok((y, activated))
    }

    fn record_linear(&self, v: Array, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let (x, w) = (self.array(), weight.array());
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        record_saving(
            Op::Linear,
            v,
            &inputs,
            &[true, true, false],
            move |g, need| {
                let want = |i: usize| need.get(i).copied().unwrap_or(false);
                let [gx, gw, gb] =
                    Array::linear_backward_needed(&x, &w, g, [want(0), want(1), want(2)])?;
                let mut out = vec![gx, gw];
                if need.len() == 3 {
                    out.push(gb);
                }
                Ok(out)
            },
        )
    }

    /// Dropout with drop probability `p` and the given mask seed (`F.dropout`, training
    /// mode): kept values scale by `1 / (1 - p)`.
    pub fn dropout(&self, p: f32, seed: u64) -> Result<Tensor> {
        let (v, mask) = self.array().dropout(p, seed)?;
        record_saving(Op::Dropout, v, &[self], &[], move |g, _| {
            Ok(vec![Some(g.mul(&mask)?)])
        })
    }

    /// Batch norm over the channels of an NCHW input (`F.batch_norm`). In training mode it
    /// normalises by the batch statistics and blends them into the running statistics in place
    /// (when given); in evaluation mode it uses the running statistics.
    pub fn batch_norm2d(&self, args: BatchNormArgs) -> Result<Tensor> {
        Ok(self.batch_norm2d_then(args, false)?.0)
    }

    /// [`Tensor::batch_norm2d`] followed by [`Tensor::relu`], in one pass where the device
    /// fuses them: `(y, relu(y))`, recorded as the two ops.
    pub fn batch_norm2d_relu(&self, args: BatchNormArgs) -> Result<(Tensor, Tensor)> {
        let (y, activated) = self.batch_norm2d_then(args, true)?;
        let activated = activated.expect("asked for the ReLU");
        Ok((y.clone(), y.record_relu(activated)?))
    }

    /// The batch norm node, and with `relu` the ReLU's value (not yet recorded).
    fn batch_norm2d_then(
        &self,
        args: BatchNormArgs,
        relu: bool,
    ) -> Result<(Tensor, Option<Array>)> {
        let x = self.array();
        let gamma = opt_array(args.weight);
        let beta = opt_array(args.bias);
        let mut inputs = vec![self];
        inputs.extend(args.weight);
        inputs.extend(args.bias);
        let has = (gamma.is_some(), beta.is_some());
        let slot = move |need: &[bool], gw: Option<Array>, gb: Option<Array>| {
            let mut out = vec![];
            let mut i = 1;
            if has.0 {
                out.push(gw.filter(|_| need[i]));
                i += 1;
            }
            if has.1 {
                out.push(gb.filter(|_| need[i]));
            }
            out
        };
        if args.training {
            let (v, activated, stats) = if relu {
                let (v, a, stats) =
                    x.batch_norm2d_train_relu(gamma.as_ref(), beta.as_ref(), args.eps)?;
                (v, Some(a), stats)
            } else {
                let (v, stats) = x.batch_norm2d_train(gamma.as_ref(), beta.as_ref(), args.eps)?;
                (v, None, stats)
            };
            if let (Some(rm), Some(rv)) = (args.running_mean, args.running_var) {
                let (m, var) =
                    Array::batch_norm2d_running(&rm.array(), &rv.array(), &stats, args.momentum)?;
                rm.set_data(m)?;
                rv.set_data(var)?;
            }
            let y = record_saving(
                Op::BatchNorm2d,
                v,
                &inputs,
                &[true, has.0, false],
                move |g, need| {
                    let grads = Array::batch_norm2d_backward(&x, g, gamma.as_ref(), &stats)?;
                    let mut out = vec![need[0].then_some(grads.x)];
                    out.extend(slot(need, Some(grads.gamma), Some(grads.beta)));
                    Ok(out)
                },
            )?;
            return Ok((y, activated));
        }
        let (Some(rm), Some(rv)) = (args.running_mean, args.running_var) else {
            return Err(fovea_device::Error::invalid(
                "batch_norm2d",
                self.shape(),
                "evaluation mode needs the running mean and variance; pass them or use training mode",
            )
            .into());
        };
        let (rm, rv) = (rm.array(), rv.array());
        let (v, activated) = if relu {
            let (v, a) =
                x.batch_norm2d_eval_relu(gamma.as_ref(), beta.as_ref(), &rm, &rv, args.eps)?;
            (v, Some(a))
        } else {
            let v = x.batch_norm2d_eval(gamma.as_ref(), beta.as_ref(), &rm, &rv, args.eps)?;
            (v, None)
        };
        let eps = args.eps;
        let y = record_saving(
            Op::BatchNorm2d,
            v,
            &inputs,
            &[true, has.0, false],
            move |g, need| {
                let c = rm.numel();
                let per_channel = [1, c, 1, 1];
                let invstd = rv.add_scalar(eps)?.powf(-0.5)?;
                let scale = match &gamma {
                    Some(w) => w.mul(&invstd)?,
                    None => invstd.clone(),
                };
                let gx = need[0]
                    .then(|| g.mul(&scale.reshape(&per_channel)?))
                    .transpose()?;
                let gw = match has.0 && need[1] {
                    true => {
                        let xhat = x
                            .sub(&rm.reshape(&per_channel)?)?
                            .mul(&invstd.reshape(&per_channel)?)?;
                        Some(g.mul(&xhat)?.sum(&[0, 2, 3], false)?)
                    }
                    false => None,
                };
                let bias_at = 1 + has.0 as usize;
                let gb = match has.1 && need.get(bias_at).copied().unwrap_or(false) {
                    true => Some(g.sum(&[0, 2, 3], false)?),
                    false => None,
                };
                let mut out = vec![gx];
                out.extend(slot(need, gw, gb));
                Ok(out)
            },
        )?;
        Ok((y, activated))
    }
}
