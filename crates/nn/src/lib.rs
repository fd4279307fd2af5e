//! # fovea-nn
//!
//! The PyTorch-shaped layer kit on top of `fovea-graph`: a [`Module`] trait with
//! `state_dict` names, the layers of a CNN course (`Conv2d`, `Linear`, pooling,
//! `BatchNorm2d`, `Dropout`, `ReLU`, `Flatten`, `Sequential`), losses, optimizers with LR
//! schedules, and safetensors checkpoints that PyTorch reads and writes too.
//!
//! ```
//! use fovea_nn::{Conv2d, Flatten, Linear, MaxPool2d, Module, ModuleExt, ReLU, Sequential};
//! let net = Sequential::new()
//!     .add(Conv2d::new(1, 32, 5))
//!     .add(ReLU::new())
//!     .add(MaxPool2d::new(2))
//!     .add(Flatten::new())
//!     .add(Linear::new(32 * 12 * 12, 10));
//! let names: Vec<String> = net.state_dict().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "4.weight", "4.bias"]);
//! ```

pub mod checkpoint;
mod error;
pub mod init;
mod layers;
pub mod loss;
mod module;
pub mod optim;

#[cfg(not(target_arch = "wasm32"))]
pub use checkpoint::save_safetensors;
pub use checkpoint::{
    load_safetensors, parse_safetensors, read_safetensors, state_bytes_async, LoadReport,
};
pub use error::{batch_shape, Error, Result, StateDictMismatch};
pub use init::{manual_seed, with_generator, Generator};
pub use layers::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Conv2dConfig, Dropout, Flatten, Linear,
    MaxPool2d, ReLU, Sequential,
};
pub use module::{call_fused, Geometry, HookHandle, Hooks, LayerPath, Module, ModuleExt};
pub use optim::{
    state_dict_async, Adam, CosineAnnealingLr, LrScheduler, OneCycleLr, Optimizer, Sgd, StepLr,
};

pub use fovea_graph::{no_grad, Tensor};
