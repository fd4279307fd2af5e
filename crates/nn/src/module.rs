//! The `Module` trait (`torch.nn.Module`) and the traversals every module gets for free:
//! named parameters and buffers in `state_dict` form, `train()` / `eval()`, moving to a device.

use crate::error::{Error, Result};
use fovea_device::Device;
use fovea_graph::Tensor;
use std::sync::RwLock;

/// A network or one of its layers. Implement `forward`, `type_name` and whichever of
/// `own_parameters` / `own_buffers` / `children` apply; the traversals in [`ModuleExt`] do
/// the rest, naming everything the way PyTorch's `state_dict` does (`features.0.weight`).
///
/// Layers learn their dotted path from the first traversal from the root (`parameters()`,
/// `to_device`, `train`, `eval`, `state_dict`, loading), and use it in their error messages.
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

    /// Runs the module like PyTorch's `module(x)`: names every sub-module by its path first,
    /// so an error from deep inside says which layer failed (`fc1 (Linear) expects ...`).
    fn call(&self, x: &Tensor) -> Result<Tensor> {
        walk(self.as_dyn(), "", &mut |_, _| {});
        self.forward(x)
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
}

/// A layer's dotted path, set by traversals; it prefixes the layer's error messages.
#[derive(Debug, Default)]
pub struct LayerPath(RwLock<String>);

impl LayerPath {
    /// Records the path.
    pub fn set(&self, path: &str) {
        *self.0.write().expect("path lock poisoned") = path.to_string();
    }

    /// `fc1 (Linear)`, or just `Linear` before any traversal named it.
    pub fn describe(&self, type_name: &str) -> String {
        let p = self.0.read().expect("path lock poisoned");
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
