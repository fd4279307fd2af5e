//! `Sequential`.

use crate::error::Result;
use crate::module::Module;
use fovea_graph::Tensor;

/// Modules applied in order, named `0`, `1`, ... like `nn.Sequential`.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty sequence; add layers with [`Sequential::add`].
    pub fn new() -> Sequential {
        Sequential { layers: Vec::new() }
    }

    /// The sequence with `layer` appended (it is named by its index).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module + 'static) -> Sequential {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer.
    pub fn push(&mut self, layer: Box<dyn Module>) {
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

    /// Runs the layers in order, calling `tap(index, output)` after each one (for feature
    /// maps and other intermediate activations).
    pub fn forward_with(
        &self,
        x: &Tensor,
        mut tap: impl FnMut(usize, &Tensor) -> Result<()>,
    ) -> Result<Tensor> {
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            tap(i, &h)?;
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

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), &**l as &dyn Module))
            .collect()
    }
}
