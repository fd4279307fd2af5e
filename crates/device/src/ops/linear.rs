//! The fully connected layer `y = x W^T + b` on top of matmul, with PyTorch's `[out, in]`
//! weight layout. Weights larger than one storage binding (VGG-16's 25088 x 4096) work: the
//! matmul splits them.

use crate::array::Array;
use crate::error::{Error, Result};

/// Gradients of [`Array::linear`].
#[derive(Clone, Debug)]
pub struct LinearGrads {
    /// w.r.t. the input
    pub x: Array,
    /// w.r.t. the weight, `[out, in]`
    pub weight: Array,
    /// w.r.t. the bias, `[out]`
    pub bias: Array,
}

fn rows_of(op: &'static str, x: &Array, weight: &Array) -> Result<usize> {
    if weight.rank() != 2 {
        return Err(Error::invalid(
            op,
            weight.shape(),
            "the weight must be [out_features, in_features]",
        ));
    }
    let features = weight.shape()[1];
    match x.shape().last() {
        Some(&f) if f == features => Ok(x.numel() / features.max(1)),
        _ => Err(Error::mismatch(
            op,
            x.shape(),
            weight.shape(),
            format!(
                "expects {features} input features but got {} from input of shape {:?}; flatten the input or change in_features",
                x.shape().last().copied().unwrap_or(0),
                x.shape()
            ),
        )),
    }
}

impl Array {
    /// `x W^T + b` over the last axis of `x` (`[*, in]` to `[*, out]`), like
    /// `torch.nn.functional.linear`.
    pub fn linear(&self, weight: &Array, bias: Option<&Array>) -> Result<Array> {
        Ok(self.linear_then(weight, bias, false)?.0)
    }

    /// [`Array::linear`] and the ReLU of its output, `(y, relu(y))`. On the GPU the product's
    /// epilogue writes both in one pass where it can (with a bias, K not split); elsewhere
    /// the ReLU runs after it. The results are those of the two ops.
    pub fn linear_relu(&self, weight: &Array, bias: Option<&Array>) -> Result<(Array, Array)> {
        let (y, activated) = self.linear_then(weight, bias, true)?;
        let activated = match activated {
            Some(a) => a,
            None => y.relu()?,
        };
        Ok((y, activated))
    }

    fn linear_then(
        &self,
        weight: &Array,
        bias: Option<&Array>,
        relu: bool,
    ) -> Result<(Array, Option<Array>)> {
        const OP: &str = "linear";
        self.same_device(OP, weight)?;
        let rows = rows_of(OP, self, weight)?;
        let (out, inp) = (weight.shape()[0], weight.shape()[1]);
        if let Some(b) = bias {
            if b.shape() != [out] {
                return Err(Error::mismatch(
                    OP,
                    weight.shape(),
                    b.shape(),
                    format!("the bias needs shape [{out}]"),
                ));
            }
        }
        // The bias is added in the product's epilogue.
        let (y, activated) = self
            .reshape(&[rows, inp])?
            .matmul_then(weight, false, true, bias, relu)?;
        let mut shape = self.shape().to_vec();
        *shape.last_mut().expect("rank checked") = out;
        Ok((
            y.reshape(&shape)?,
            activated.map(|a| a.reshape(&shape)).transpose()?,
        ))
    }

    /// Gradients of `sum(linear(x, weight, bias) * grad_y)`.
    pub fn linear_backward(x: &Array, weight: &Array, grad_y: &Array) -> Result<LinearGrads> {
        let [x_grad, weight_grad, bias] =
            Array::linear_backward_needed(x, weight, grad_y, [true; 3])?;
        let all = "all three were asked for";
        Ok(LinearGrads {
            x: x_grad.expect(all),
            weight: weight_grad.expect(all),
            bias: bias.expect(all),
        })
    }

    /// [`Array::linear_backward`] computing only the gradients `need` asks for, in the order
    /// x, weight, bias (`None` for the others), as autodiff does when an input needs none.
    pub fn linear_backward_needed(
        x: &Array,
        weight: &Array,
        grad_y: &Array,
        need: [bool; 3],
    ) -> Result<[Option<Array>; 3]> {
        const OP: &str = "linear_backward";
        x.same_device(OP, weight)?;
        x.same_device(OP, grad_y)?;
        let rows = rows_of(OP, x, weight)?;
        let (out, inp) = (weight.shape()[0], weight.shape()[1]);
        if grad_y.numel() != rows * out || grad_y.shape().last() != Some(&out) {
            return Err(Error::mismatch(
                OP,
                x.shape(),
                grad_y.shape(),
                format!("grad_y must be the output's shape, [*, {out}]"),
            ));
        }
        let gy = grad_y.reshape(&[rows, out])?;
        let x_grad = match need[0] {
            true => Some(gy.matmul(weight)?.reshape(x.shape())?),
            false => None,
        };
        let weight_grad = match need[1] {
            true => Some(gy.matmul_t(&x.reshape(&[rows, inp])?, true, false)?),
            false => None,
        };
        let bias = match need[2] {
            true => Some(gy.sum(&[0], false)?),
            false => None,
        };
        Ok([x_grad, weight_grad, bias])
    }
}
