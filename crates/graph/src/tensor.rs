//! `Tensor`: an [`Array`] with a place on the tape. Clones share the same tensor (value,
//! gradient and history), like Python references to one `torch.Tensor`.

use crate::error::{Error, Result};
use crate::op::Op;
use crate::tape::{self, Node};
use fovea_device::{Array, Device};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The op that produced a tensor and the shape of its first input, kept even when nothing is
/// recorded, so a layer can say where a bad shape came from ("... from input of shape
/// [N, 32, 12, 12]" after a flatten).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// the op's name, e.g. `flatten`
    pub op: &'static str,
    /// the shape of the op's first input
    pub input_shape: Vec<usize>,
}

pub(crate) struct Inner {
    pub(crate) id: u64,
    shape: Vec<usize>,
    data: RwLock<Array>,
    requires_grad: AtomicBool,
    retain_grad: AtomicBool,
    grad: Mutex<Option<Array>>,
    pub(crate) node: Option<Arc<Node>>,
    origin: Option<Origin>,
    name: RwLock<Option<String>>,
}

/// An n-dimensional f32 value on a device that remembers how it was made, so gradients can
/// flow back to it (`torch.Tensor`).
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({:?} on {}", self.0.shape, self.device())?;
        if let Some(n) = &self.0.node {
            write!(f, ", grad_fn={}", n.op)?;
        } else if self.requires_grad() {
            write!(f, ", requires_grad")?;
        }
        write!(f, ")")
    }
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Tensor {
    pub(crate) fn build(data: Array, node: Option<Arc<Node>>, origin: Option<Origin>) -> Tensor {
        Tensor(Arc::new(Inner {
            id: next_id(),
            shape: data.shape().to_vec(),
            data: RwLock::new(data),
            requires_grad: AtomicBool::new(false),
            retain_grad: AtomicBool::new(false),
            grad: Mutex::new(None),
            node,
            origin,
            name: RwLock::new(None),
        }))
    }

    /// Names the tensor for error messages (modules name their parameters by `state_dict`
    /// path, e.g. `fc1.weight`).
    pub fn set_name(&self, name: &str) {
        *self.0.name.write().expect("tensor lock poisoned") = Some(name.to_string());
    }

    /// The name given by [`Tensor::set_name`], if any.
    pub fn name(&self) -> Option<String> {
        self.0.name.read().expect("tensor lock poisoned").clone()
    }

    /// A leaf tensor holding `data` that does not require grad (`torch.tensor(...)`).
    pub fn new(data: Array) -> Tensor {
        Tensor::build(data, None, None)
    }

    /// A leaf tensor whose gradient backward accumulates (`requires_grad=True`): parameters,
    /// and inputs whose saliency you want.
    pub fn param(data: Array) -> Tensor {
        let t = Tensor::new(data);
        t.0.requires_grad.store(true, Ordering::Relaxed);
        t
    }

    /// A leaf from host values.
    pub fn from_slice(device: &Device, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        Ok(Tensor::new(Array::from_slice(device, data, shape)?))
    }

    /// Zeros of `shape`.
    pub fn zeros(device: &Device, shape: &[usize]) -> Result<Tensor> {
        Ok(Tensor::new(Array::zeros(device, shape)?))
    }

    /// A tensor's identity: clones share it, distinct tensors never do.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// The number of axes.
    pub fn rank(&self) -> usize {
        self.0.shape.len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.0.shape.iter().product()
    }

    /// The device the value lives on.
    pub fn device(&self) -> Device {
        self.array().device().clone()
    }

    /// The value (a cheap handle; the memory is shared).
    pub fn array(&self) -> Array {
        self.0.data.read().expect("tensor lock poisoned").clone()
    }

    /// The value copied to the host (native; the browser uses [`Tensor::to_vec_async`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        fovea_device::block_on(self.to_vec_async())
    }

    /// The value copied to the host without blocking the thread (every target).
    pub async fn to_vec_async(&self) -> Result<Vec<f32>> {
        Ok(self.array().to_vec_async().await?)
    }

    /// The value of a one-element tensor (native; the browser uses [`Tensor::item_async`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn item(&self) -> Result<f32> {
        fovea_device::block_on(self.item_async())
    }

    /// The value of a one-element tensor, read without blocking the thread (every target).
    pub async fn item_async(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::autograd(
                "item",
                format!(
                    "only a one-element tensor has an item; this one has shape {:?}",
                    self.shape()
                ),
            ));
        }
        Ok(self.to_vec_async().await?[0])
    }

    /// Replaces the value in place (`tensor.data = ...`, used by `load_state_dict` and
    /// `to_device`), keeping identity, `requires_grad` and history. The shape must not change.
    pub fn set_data(&self, data: Array) -> Result<()> {
        if data.shape() != self.shape() {
            return Err(Error::Device(fovea_device::Error::mismatch(
                "set_data",
                self.shape(),
                data.shape(),
                "the new value must have the tensor's shape",
            )));
        }
        *self.0.data.write().expect("tensor lock poisoned") = data;
        Ok(())
    }

    /// Whether gradients flow to or through this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.node.is_some() || self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Marks a leaf as requiring grad (or not), like `requires_grad_()`. A tensor made by a
    /// recorded op always requires grad; asking otherwise is an error (use [`Tensor::detach`]).
    pub fn set_requires_grad(&self, on: bool) -> Result<&Tensor> {
        if self.0.node.is_some() && !on {
            return Err(Error::autograd(
                "set_requires_grad",
                "this tensor was made by a recorded op; call detach() for a copy outside the graph",
            ));
        }
        self.0.requires_grad.store(on, Ordering::Relaxed);
        Ok(self)
    }

    /// Whether this tensor was created by the user rather than by a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.0.node.is_none()
    }

    /// Keeps this non-leaf tensor's gradient in [`Tensor::grad`] during backward
    /// (`retain_grad()`); leaves that require grad always keep theirs.
    pub fn retain_grad(&self) {
        self.0.retain_grad.store(true, Ordering::Relaxed);
    }

    pub(crate) fn keeps_grad(&self) -> bool {
        (self.is_leaf() && self.requires_grad()) || self.0.retain_grad.load(Ordering::Relaxed)
    }

    /// The accumulated gradient, if a backward pass reached this tensor.
    pub fn grad(&self) -> Option<Array> {
        self.0.grad.lock().expect("grad lock poisoned").clone()
    }

    /// Clears the gradient (`grad = None`, PyTorch's `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        *self.0.grad.lock().expect("grad lock poisoned") = None;
    }

    /// Sets the gradient directly (optimizer tests, gradient clipping).
    pub fn set_grad(&self, grad: Option<Array>) {
        *self.0.grad.lock().expect("grad lock poisoned") = grad;
    }

    pub(crate) fn accumulate_grad(&self, g: Array) -> Result<()> {
        let mut slot = self.0.grad.lock().expect("grad lock poisoned");
        *slot = Some(match slot.take() {
            Some(old) => old.add(&g)?,
            None => g,
        });
        Ok(())
    }

    /// The name of the op that made this tensor, if it was recorded (`grad_fn`).
    pub fn grad_fn(&self) -> Option<&'static str> {
        self.0.node.as_ref().map(|n| n.op.name())
    }

    /// The op that made this tensor and its input's shape, recorded or not.
    pub fn origin(&self) -> Option<&Origin> {
        self.0.origin.as_ref()
    }

    /// The same value outside the graph: no history, no gradient (`detach()`). The memory
    /// is shared.
    pub fn detach(&self) -> Tensor {
        Tensor::new(self.array())
    }

    /// A copy on `device`, recorded so gradients flow back across devices.
    pub fn to_device(&self, device: &Device) -> Result<Tensor> {
        let from = self.device();
        let back = from.clone();
        tape::record(
            Op::ToDevice,
            self.array().to_device(device)?,
            &[self],
            move |g, _| Ok(vec![Some(g.to_device(&back)?)]),
        )
    }

    /// Runs backward from this one-element tensor (a loss) with seed 1.
    pub fn backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::autograd(
                "backward",
                format!(
                    "backward() needs a one-element tensor (a loss), got shape {:?}; reduce it with sum()/mean() or call backward_with(seed)",
                    self.shape()
                ),
            ));
        }
        let seed = Array::ones(&self.device(), self.shape())?;
        self.backward_with(&seed)
    }

    /// Runs backward from this tensor with gradient `seed` of its shape (`y.backward(seed)`):
    /// DeepDream seeds with the activations themselves. Gradients accumulate into every leaf
    /// that requires grad and every tensor with [`Tensor::retain_grad`]; the graph's saved
    /// buffers are freed as it goes, so a second backward through it is an error.
    pub fn backward_with(&self, seed: &Array) -> Result<()> {
        if seed.shape() != self.shape() {
            return Err(Error::Device(fovea_device::Error::mismatch(
                "backward_with",
                self.shape(),
                seed.shape(),
                "the seed gradient must have the shape of the tensor it starts from",
            )));
        }
        if !self.requires_grad() {
            return Err(Error::autograd(
                "backward",
                "this tensor does not require grad: nothing it depends on was marked with Tensor::param / set_requires_grad(true), or it was computed under no_grad",
            ));
        }
        tape::run_backward(self, seed.clone())
    }
}
