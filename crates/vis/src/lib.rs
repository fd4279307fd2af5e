//! # fovea-vis
//!
//! See what a trained CNN learned. Every technique runs its heavy part on the model's device
//! (the GPU backend, or the CPU reference) and returns plain arrays; [`picture`] turns them
//! into PNG grids and heat maps, [`display`] draws attributions the way Captum's
//! `visualize_image_attr` does.
//!
//! Every technique that reads the device is an `async fn` named `*_async` (the browser awaits
//! it); its plain-named twin blocks on it and exists only off wasm. Thread-wide graph
//! settings (no-grad scopes, backward overrides) never live across an await.
//!
//! - [`layers`]: first-layer filters, any conv layer's filters, feature maps of one image.
//! - [`attribution`]: saliency (Simonyan) and SmoothGrad, guided backpropagation, Grad-CAM,
//!   integrated gradients.
//! - [`occlusion`]: the class-score drop under a sliding patch, averaged as Captum does.
//! - [`patches`]: the dataset patches that excite a channel most (Zeiler & Fergus).
//! - [`embed`]: features, nearest neighbours, PCA and Barnes-Hut t-SNE.
//! - [`dream`]: DeepDream with octaves, jitter and gradient normalisation.
//! - [`style`]: Gatys style transfer on any VGG.

pub mod attribution;
pub mod display;
pub mod dream;
pub mod embed;
mod error;
pub mod layers;
pub mod occlusion;
pub mod patches;
pub mod picture;
pub mod style;
pub mod tsne;

pub use error::{Error, Result};

use fovea_device::{Array, Device};
use fovea_graph::Tensor;
use fovea_models::Model;
use fovea_nn::ModuleExt;

/// An image batch on `dev` as a tensor: `[N, C, H, W]` values.
pub fn batch(dev: &Device, values: &[f32], shape: [usize; 4]) -> Result<Tensor> {
    Ok(Tensor::new(Array::from_slice(dev, values, &shape)?))
}

/// The activation of `layer` (a name or a module path) for input `x`: the model runs in its
/// current mode only as far as that layer ([`ModuleExt::forward_until`]).
pub fn activation(model: &dyn Model, x: &Tensor, layer: &str) -> Result<Tensor> {
    let path = model
        .layer_path(layer)
        .ok_or_else(|| unknown_layer(model, layer))?;
    Ok(model.forward_until(x, &path)?)
}

/// The error for a layer name the model does not report.
pub(crate) fn unknown_layer(model: &dyn Model, layer: &str) -> Error {
    error::config(
        "layer",
        format!(
            "the model has no layer `{layer}`; its layers are {}",
            model.layer_names().join(", ")
        ),
    )
}

/// While alive, the model's parameters do not require gradients: attributions, DeepDream
/// and style transfer need only the input's, so backward passes neither compute nor
/// accumulate weight gradients. Each parameter's previous setting comes back on drop.
pub struct Frozen(Vec<(Tensor, bool)>);

impl Frozen {
    /// Freezes every parameter of `model`.
    pub fn new(model: &dyn Model) -> Frozen {
        use fovea_nn::ModuleExt;
        let params = model.parameters();
        let state = params
            .into_iter()
            .map(|p| {
                let was = p.requires_grad();
                let _ = p.set_requires_grad(false);
                (p, was)
            })
            .collect();
        Frozen(state)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for (p, was) in &self.0 {
            let _ = p.set_requires_grad(*was);
        }
    }
}
