//! One folder per op: its descriptor and shape rules with the public [`Array`](crate::Array)
//! methods (`mod.rs`), its CPU reference (`cpu.rs`) and its GPU dispatch (`gpu.rs`, with the
//! choice between algorithms), beside the WGSL in `shaders/`. `mod.rs` validates shapes once
//! and calls the device's backend through [`on_backend!`](crate::on_backend), which names the
//! same method on [`Cpu`](crate::cpu::Cpu) and on [`Engine`](crate::Engine).

pub(crate) mod batch_norm;
pub(crate) mod conv2d;
pub(crate) mod cross_entropy;
mod dropout;
pub(crate) mod elementwise;
pub(crate) mod fill;
pub(crate) mod layout;
pub(crate) mod linear;
pub(crate) mod matmul;
pub(crate) mod optim;
pub(crate) mod pool2d;
pub(crate) mod reduce;
pub(crate) mod resize;
