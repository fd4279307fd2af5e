//! `Sequential`.

use crate::error::Result;
use crate::module::{call_fused, LayerPath, Module, ModuleExt};
use fovea_graph::Tensor;

/// Modules applied in order, named `0`, `1`, ... like `nn.Sequential`.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
    path: LayerPath,
}

impl Sequential {
    /// An empty sequence; add layers with [`Sequential::add`].
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// The sequence with `layer` appended (it is named by its index).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module + 'static) -> Sequential {
        self.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer, registering it under its index (its path, and its
    /// sub-modules' paths under it, until the sequence is itself registered in a model).
    pub fn push(&mut self, layer: Box<dyn Module>) {
        let name = self.layers.len().to_string();
        for (path, m) in layer.named_modules() {
            m.set_path(&if path.is_empty() {
                name.clone()
            } else {
                format!("{name}.{path}")
            });
        }
        self.layers.push(layer);
    }

    /// The layer at `index`.
    pub fn get(&self, index: usize) -> Option<&dyn Module> {
        self.layers.get(index).map(|b| &**b)
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Runs the layers in order (each through [`ModuleExt::call`], so its hooks fire),
    /// calling `tap(index, output)` after each one.
    pub fn forward_with(
        &self,
        x: &Tensor,
        mut tap: impl FnMut(usize, &Tensor) -> Result<()>,
    ) -> Result<Tensor> {
        let mut h = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            // A layer and the ReLU after it run as one pass where the layer fuses them.
            if let Some(next) = self.layers.get(i + 1).filter(|l| l.is_relu()) {
                let (y, z) = call_fused(&*self.layers[i], &**next, &h)?;
                tap(i, &y)?;
                tap(i + 1, &z)?;
                h = z;
                i += 2;
                continue;
            }
            h = self.layers[i].call(&h)?;
            tap(i, &h)?;
            i += 1;
        }
        Ok(h)
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, |_, _| Ok(()))
    }

    fn type_name(&self) -> &'static str {
        "Sequential"
    }

    layer_path_methods!();

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), &**l as &dyn Module))
            .collect()
    }
}
