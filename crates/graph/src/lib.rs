//! # fovea-graph
//!
//! Reverse-mode automatic differentiation over `fovea-device` arrays. A [`Tensor`] is an
//! array plus its history: every op on tensors that require grad is recorded on a tape, and
//! [`Tensor::backward`] walks it in reverse, accumulating gradients into leaves (parameters
//! and inputs alike).
//!
//! ```
//! use fovea_device::{Array, Device};
//! use fovea_graph::Tensor;
//! # fn main() -> fovea_graph::Result<()> {
//! let cpu = Device::cpu();
//! let x = Tensor::param(Array::from_slice(&cpu, &[1.0, -2.0, 3.0], &[3])?);
//! let y = x.mul(&x)?.sum(&[], false)?; // sum(x^2)
//! y.backward()?;
//! assert_eq!(x.grad().unwrap().to_vec()?, vec![2.0, -4.0, 6.0]);
//! # Ok(()) }
//! ```
//!
//! - [`no_grad`] / [`NoGradGuard`]: evaluate without recording.
//! - [`Tensor::detach`]: the same value cut from the graph.
//! - [`Tensor::backward_with`]: start from any tensor with any seed gradient.
//! - [`override_backward`]: replace one op's backward rule within a scope (guided backprop).

mod error;
mod op;
mod ops;
mod tape;
mod tensor;

pub use error::{Error, Result};
pub use op::Op;
pub use ops::BatchNormArgs;
pub use ops::{cross_entropy, mse_loss, nll_loss};
pub use tape::{
    guided_relu_backward, is_grad_enabled, no_grad, override_backward, BackwardContext, InputGrads,
    NoGradGuard, OverrideFn, OverrideGuard,
};
pub use tensor::{Origin, Tensor};

pub use fovea_device::{
    Array, Conv2dOptions, CrossEntropyOptions, Device, Pool2dOptions, Reduction,
};
