//! The `Module` trait (`torch.nn.Module`) and the traversals every module gets for free:
//! named parameters and buffers in `state_dict` form, `train()` / `eval()`, moving to a device.

use crate::error::{Error, Result};
use fovea_device::Device;
use fovea_graph::Tensor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A network or one of its layers. Implement `forward`, `type_name` and whichever of
/// `own_parameters` / `own_buffers` / `children` apply; the traversals in [`ModuleExt`] do
/// the rest, naming everything the way PyTorch's `state_dict` does (`features.0.weight`).
///
/// Layers learn their dotted path when they are registered: [`Sequential::add`](crate::Sequential::add)
/// names what it is given, a model's constructor calls [`ModuleExt::name_layers`] once, and
/// the traversals from the root (`parameters()`, `to_device`, `train`, `eval`,
/// `state_dict`, loading) name anything assembled by hand. Running a module never renames.
pub trait Module: Send + Sync {
    /// Runs the module on `x`.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// The PyTorch class name (`Conv2d`), used in messages.
    fn type_name(&self) -> &'static str;

    /// This module's own parameters by local name (`weight`, `bias`), in registration order.
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// This module's own buffers (state that is saved but not trained: `running_mean`).
    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// Direct sub-modules by attribute name, in registration order.
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// Told its dotted path by traversals; layers keep it for their error messages.
    fn set_path(&self, _path: &str) {}

    /// Switches this module itself (not its children) between training and evaluation.
    fn set_training(&self, _on: bool) {}

    /// Whether this module is in training mode (for modules that behave differently).
    fn is_training(&self) -> bool {
        true
    }

    /// The forward hooks [`ModuleExt::call`] runs on this module's output (`None`: the module
    /// takes none; every layer of this crate and `Sequential` do).
    fn hooks(&self) -> Option<&Hooks> {
        None
    }

    /// How this module maps pixel positions, for receptive fields.
    fn geometry(&self) -> Geometry {
        Geometry::Opaque
    }

    /// This module followed by a ReLU in one pass, where the device fuses the two:
    /// `Some((output, relu(output)))`, or `None` where it has no fused form. Containers
    /// use it through [`call_fused`]; both outputs are what the two modules would give.
    fn forward_relu(&self, _x: &Tensor) -> Option<Result<(Tensor, Tensor)>> {
        None
    }

    /// Whether this module is [`ReLU`](crate::ReLU) itself, which a layer before it may
    /// fuse with [`Module::forward_relu`].
    fn is_relu(&self) -> bool {
        false
    }
}

/// Runs `first` then `then` like two [`ModuleExt::call`]s, giving both outputs. Where `then`
/// is a ReLU and `first` has a fused form ([`Module::forward_relu`]: a convolution, a
/// linear layer, a batch norm) they take one pass on the device; the forward hooks of each
/// module still run on its own output, and a stop at `first` ends the pass with its output.
pub fn call_fused(first: &dyn Module, then: &dyn Module, x: &Tensor) -> Result<(Tensor, Tensor)> {
    let fused = if then.is_relu() {
        first.forward_relu(x)
    } else {
        None
    };
    let Some(outputs) = fused else {
        let y = first.call(x)?;
        let z = then.call(&y)?;
        return Ok((y, z));
    };
    let (y, z) = outputs?;
    let hooked = |m: &dyn Module, t: Tensor| match m.hooks() {
        Some(h) => h.run(t),
        None => Ok(t),
    };
    let y = hooked(first, y)?;
    let z = hooked(then, z)?;
    Ok((y, z))
}

/// How a module maps positions of its input to positions of its output, from which
/// receptive fields are derived (`fovea_models::Model::receptive_field`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Geometry {
    /// each output position reads the same input position (ReLU, batch norm, dropout)
    Pointwise,
    /// a sliding window (a convolution or a pooling layer), per axis `(rows, columns)`
    Window {
        /// window size
        kernel: (usize, usize),
        /// step between windows
        stride: (usize, usize),
        /// zero (or ignored) rows and columns added on each side
        padding: (usize, usize),
        /// spacing between the window's taps
        dilation: (usize, usize),
    },
    /// adaptive pooling to a fixed output size: the window depends on the input size
    Adaptive {
        /// output rows and columns
        out: (usize, usize),
    },
    /// anything else (a linear layer, a flatten, a container): positions are not kept
    Opaque,
}

type HookFn = Arc<dyn Fn(&Tensor) + Send + Sync>;

#[derive(Clone)]
enum Hook {
    /// call the function with the output
    Observe(HookFn),
    /// stop the forward pass here ([`ModuleExt::forward_until`])
    Stop,
}

/// A module's forward hooks, in registration order (PyTorch's `_forward_hooks`).
#[derive(Default)]
pub struct Hooks(Arc<Mutex<Vec<(u64, Hook)>>>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hooks({})", self.lock().len())
    }
}

impl Hooks {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Hook)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, hook: Hook) -> HookHandle {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        self.lock().push((id, hook));
        HookHandle {
            hooks: Arc::downgrade(&self.0),
            id,
        }
    }

    /// Runs the hooks on `y` in order; a stop hook ends the forward pass with `y`.
    pub fn run(&self, y: Tensor) -> Result<Tensor> {
        // A snapshot, so a hook may register or drop hooks without deadlocking.
        let hooks: Vec<Hook> = self.lock().iter().map(|(_, h)| h.clone()).collect();
        for h in &hooks {
            match h {
                Hook::Observe(f) => f(&y),
                Hook::Stop => return Err(Error::Stopped(y)),
            }
        }
        Ok(y)
    }
}

/// Removes its hook when dropped or [`removed`](HookHandle::remove) (PyTorch's
/// `RemovableHandle`).
#[must_use = "the hook is removed when the handle is dropped"]
pub struct HookHandle {
    hooks: std::sync::Weak<Mutex<Vec<(u64, Hook)>>>,
    id: u64,
}

impl HookHandle {
    /// Removes the hook now.
    pub fn remove(self) {}
}

impl Drop for HookHandle {
    fn drop(&mut self) {
        if let Some(h) = self.hooks.upgrade() {
            h.lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|(id, _)| *id != self.id);
        }
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Visits `m` and every descendant, depth first in registration order, with dotted paths.
fn walk(m: &dyn Module, path: &str, f: &mut dyn FnMut(&str, &dyn Module)) {
    m.set_path(path);
    f(path, m);
    for (name, child) in m.children() {
        walk(child, &join(path, &name), f);
    }
}

/// Traversals every [`Module`] gets: the `nn.Module` methods that are not `forward`.
pub trait ModuleExt: Module {
    /// Every sub-module with its dotted path (the root is `""`), like `named_modules()`.
    fn named_modules(&self) -> Vec<(String, &dyn Module)> {
        fn collect<'a>(m: &'a dyn Module, path: String, out: &mut Vec<(String, &'a dyn Module)>) {
            m.set_path(&path);
            let children = m.children();
            out.push((path.clone(), m));
            for (name, child) in children {
                collect(child, join(&path, &name), out);
            }
        }
        let mut out = Vec::new();
        collect(self.as_dyn(), String::new(), &mut out);
        out
    }

    /// Runs the module like PyTorch's `module(x)`: `forward`, then the module's forward
    /// hooks on its output. Containers run their children this way, so hooks registered
    /// anywhere in a tree fire.
    fn call(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.forward(x)?;
        match self.hooks() {
            Some(h) => h.run(y),
            None => Ok(y),
        }
    }

    /// Names every sub-module by its dotted path, for its error messages
    /// (`fc1 (Linear) expects ...`). Model constructors call it once; traversals such as
    /// `parameters()`, `to_device` and `eval` also name what they visit.
    fn name_layers(&self) {
        walk(self.as_dyn(), "", &mut |_, _| {});
    }

    /// The sub-module at `path` (a `named_modules` path such as `features.3`), or an error
    /// listing the paths there are.
    fn get_submodule(&self, path: &str) -> Result<&dyn Module> {
        let mut at = Some(self.as_dyn());
        for part in path.split('.').filter(|p| !p.is_empty()) {
            at = at.and_then(|m| {
                m.children()
                    .into_iter()
                    .find(|(n, _)| n == part)
                    .map(|(_, c)| c)
            });
        }
        if let Some(m) = at {
            return Ok(m);
        }
        let all = self.named_modules();
        let names: Vec<&str> = all
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| !p.is_empty())
            .collect();
        Err(Error::Config {
            what: "get_submodule",
            msg: format!(
                "the {} has no module `{path}`; its modules are {}",
                self.type_name(),
                names.join(", ")
            ),
        })
    }

    /// Calls `hook` with the output of the sub-module at `path` each time it runs through
    /// [`ModuleExt::call`], until the handle is dropped (`register_forward_hook`).
    fn register_forward_hook(
        &self,
        path: &str,
        hook: impl Fn(&Tensor) + Send + Sync + 'static,
    ) -> Result<HookHandle> {
        Ok(hooks_at(self.get_submodule(path)?, path)?.add(Hook::Observe(Arc::new(hook))))
    }

    /// Runs the forward pass only as far as the sub-module at `path` and returns its output;
    /// the layers after it do not run.
    fn forward_until(&self, x: &Tensor, path: &str) -> Result<Tensor> {
        let _stop = hooks_at(self.get_submodule(path)?, path)?.add(Hook::Stop);
        match self.call(x) {
            Err(Error::Stopped(y)) => Ok(y),
            Err(e) => Err(e),
            Ok(_) => Err(Error::Config {
                what: "forward_until",
                msg: format!(
                    "the {} never ran `{path}` in its forward pass; a custom module must run \
                     its children with `call` for hooks to see them",
                    self.type_name()
                ),
            }),
        }
    }

    /// Every parameter with its `state_dict` name.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        walk(self.as_dyn(), "", &mut |p, m| {
            for (n, t) in m.own_parameters() {
                let name = join(p, &n);
                t.set_name(&name);
                out.push((name, t));
            }
        });
        out
    }

    /// Every parameter, for an optimizer (`parameters()`).
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// Every buffer with its `state_dict` name.
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        walk(self.as_dyn(), "", &mut |p, m| {
            for (n, t) in m.own_buffers() {
                out.push((join(p, &n), t));
            }
        });
        out
    }

    /// Parameters and buffers in PyTorch's `state_dict` order: per module, its parameters,
    /// then its buffers, then its children.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        walk(self.as_dyn(), "", &mut |p, m| {
            for (n, t) in m.own_parameters().into_iter().chain(m.own_buffers()) {
                out.push((join(p, &n), t));
            }
        });
        out
    }

    /// The number of trainable values.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Tensor::numel).sum()
    }

    /// Training mode for the module and all descendants (dropout on, batch statistics).
    fn train(&self) {
        walk(self.as_dyn(), "", &mut |_, m| m.set_training(true));
    }

    /// Evaluation mode for the module and all descendants (dropout off, running statistics).
    fn eval(&self) {
        walk(self.as_dyn(), "", &mut |_, m| m.set_training(false));
    }

    /// Moves every parameter and buffer to `device` in place (`module.to(device)`); tensors
    /// keep their identity, so optimizers built earlier still hold them.
    fn to_device(&self, device: &Device) -> Result<()> {
        for (_, t) in self.state_dict() {
            if &t.device() != device {
                t.set_data(t.array().to_device(device)?)
                    .map_err(Error::Graph)?;
            }
            // The gradient travels with its parameter, as in PyTorch.
            if let Some(g) = t.grad().filter(|g| g.device() != device) {
                t.set_grad(Some(g.to_device(device)?));
            }
        }
        Ok(())
    }

    /// Saves parameters and buffers to a safetensors file with PyTorch's names, through a
    /// temporary file and a rename.
    #[cfg(not(target_arch = "wasm32"))]
    fn save_safetensors(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        crate::checkpoint::save_safetensors(self, path.as_ref())
    }

    /// Loads parameters and buffers from a safetensors file, strictly: every name must be
    /// present with its shape, and nothing else (`load_state_dict(strict=True)`).
    fn load_safetensors(&self, path: impl AsRef<std::path::Path>) -> Result<crate::LoadReport> {
        crate::checkpoint::load_safetensors(self, path.as_ref(), true)
    }

    /// Loads what fits by name, reporting missing and unexpected names instead of refusing
    /// them (`strict=False`); a wrong shape is still refused.
    fn load_safetensors_non_strict(
        &self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<crate::LoadReport> {
        crate::checkpoint::load_safetensors(self, path.as_ref(), false)
    }

    /// `self` as a trait object.
    fn as_dyn(&self) -> &dyn Module;
}

/// The hooks of `m`, or an error naming `path` when the module takes none.
fn hooks_at<'a>(m: &'a dyn Module, path: &str) -> Result<&'a Hooks> {
    m.hooks().ok_or_else(|| Error::Config {
        what: "register_forward_hook",
        msg: format!(
            "`{path}` ({}) takes no forward hooks; implement Module::hooks for it",
            m.type_name()
        ),
    })
}

impl<T: Module> ModuleExt for T {
    fn as_dyn(&self) -> &dyn Module {
        self
    }
}

impl<'a> ModuleExt for dyn Module + 'a {
    fn as_dyn(&self) -> &dyn Module {
        self
    }
}

impl Module for Box<dyn Module> {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        (**self).forward(x)
    }
    fn type_name(&self) -> &'static str {
        (**self).type_name()
    }
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        (**self).own_parameters()
    }
    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        (**self).own_buffers()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        (**self).children()
    }
    fn set_path(&self, path: &str) {
        (**self).set_path(path)
    }
    fn set_training(&self, on: bool) {
        (**self).set_training(on)
    }
    fn is_training(&self) -> bool {
        (**self).is_training()
    }
    fn hooks(&self) -> Option<&Hooks> {
        (**self).hooks()
    }
    fn geometry(&self) -> Geometry {
        (**self).geometry()
    }
    fn forward_relu(&self, x: &Tensor) -> Option<Result<(Tensor, Tensor)>> {
        (**self).forward_relu(x)
    }
    fn is_relu(&self) -> bool {
        (**self).is_relu()
    }
}

/// A layer's place in its network: its dotted path, set when it is registered, which
/// prefixes its error messages, and its forward hooks.
#[derive(Debug, Default)]
pub struct LayerPath {
    path: RwLock<String>,
    hooks: Hooks,
}

impl LayerPath {
    /// Records the path.
    pub fn set(&self, path: &str) {
        *self.path.write().expect("path lock poisoned") = path.to_string();
    }

    /// The layer's forward hooks.
    pub fn hooks(&self) -> &Hooks {
        &self.hooks
    }

    /// `fc1 (Linear)`, or just `Linear` before any traversal named it.
    pub fn describe(&self, type_name: &str) -> String {
        let p = self.path.read().expect("path lock poisoned");
        if p.is_empty() {
            type_name.to_string()
        } else {
            format!("{p} ({type_name})")
        }
    }
}

/// Writes [`Module::type_name`] and [`Module::children`] for a struct whose sub-modules are
/// fields, named by the fields as PyTorch names attributes. Use it inside `impl Module`:
///
/// ```
/// use fovea_nn::{Conv2d, Linear, Module, ModuleExt, Result, Tensor};
/// struct Net { conv1: Conv2d, fc1: Linear }
/// impl Module for Net {
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         self.fc1.forward(&self.conv1.forward(x)?.flatten(1, -1)?)
///     }
///     fovea_nn::children!("Net"; conv1, fc1);
/// }
/// let net = Net { conv1: Conv2d::new(1, 2, 3), fc1: Linear::new(2 * 26 * 26, 10) };
/// assert_eq!(net.named_parameters()[0].0, "conv1.weight");
/// ```
#[macro_export]
macro_rules! children {
    ($name:literal; $($field:ident),* $(,)?) => {
        fn type_name(&self) -> &'static str {
            $name
        }
        fn children(&self) -> Vec<(String, &dyn $crate::Module)> {
            vec![$((stringify!($field).to_string(), &self.$field as &dyn $crate::Module)),*]
        }
    };
}
