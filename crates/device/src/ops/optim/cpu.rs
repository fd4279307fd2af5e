//! CPU reference of the optimizer steps, in place, element by element as PyTorch's
//! single-tensor path.

use super::{AdamStep, SgdStep};
use crate::cpu::{read, write, Cpu};
use crate::error::Result;
use crate::storage::Storage;

/// One SGD step in place, as `torch.optim.SGD` (single-tensor path).
fn sgd(param: &mut [f32], grad: &[f32], buf: Option<&mut [f32]>, s: &SgdStep) {
    let mut buf = buf;
    for i in 0..param.len() {
        let mut g = if s.maximize { -grad[i] } else { grad[i] };
        g += s.weight_decay * param[i];
        if let Some(b) = buf.as_deref_mut() {
            b[i] = if s.first {
                g
            } else {
                s.momentum * b[i] + (1.0 - s.dampening) * g
            };
            g = if s.nesterov {
                g + s.momentum * b[i]
            } else {
                b[i]
            };
        }
        param[i] -= s.lr * g;
    }
}

/// One Adam / AdamW step in place, as `torch.optim.Adam` (single-tensor path).
fn adam(
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    mut vmax: Option<&mut [f32]>,
    s: &AdamStep,
) {
    for i in 0..param.len() {
        let mut g = if s.maximize { -grad[i] } else { grad[i] };
        if s.decoupled {
            param[i] *= 1.0 - s.lr * s.weight_decay;
        } else {
            g += s.weight_decay * param[i];
        }
        m[i] += (g - m[i]) * (1.0 - s.beta1);
        v[i] = v[i] * s.beta2 + (1.0 - s.beta2) * g * g;
        let second = match vmax.as_deref_mut() {
            Some(vm) => {
                vm[i] = vm[i].max(v[i]);
                vm[i]
            }
            None => v[i],
        };
        let denom = second.sqrt() / s.bias_correction2_sqrt + s.eps;
        param[i] -= s.lr / s.bias_correction1 * m[i] / denom;
    }
}

impl Cpu {
    pub(crate) fn sgd_step(
        &self,
        param: &Storage,
        grad: &Storage,
        momentum_buf: Option<&Storage>,
        len: usize,
        s: &SgdStep,
    ) -> Result<()> {
        let grad = read(grad)?;
        let mut p = write(param)?;
        let mut buf = momentum_buf.map(write).transpose()?;
        let buf = buf.as_deref_mut().map(|b| &mut b[..len]);
        sgd(&mut p[..len], &grad[..len], buf, s);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn adam_step(
        &self,
        param: &Storage,
        grad: &Storage,
        m: &Storage,
        v: &Storage,
        vmax: Option<&Storage>,
        len: usize,
        s: &AdamStep,
    ) -> Result<()> {
        let grad = read(grad)?;
        let (mut p, mut m, mut v) = (write(param)?, write(m)?, write(v)?);
        let mut vmax = vmax.map(write).transpose()?;
        let vmax = vmax.as_deref_mut().map(|b| &mut b[..len]);
        adam(
            &mut p[..len],
            &grad[..len],
            &mut m[..len],
            &mut v[..len],
            vmax,
            s,
        );
        Ok(())
    }
}
