//! # fovea-models
//!
//! Nets by name, with PyTorch / torchvision parameter names so their checkpoints load as
//! they are, and named intermediate activations for the visualizations.
//!
//! - [`Net`]: the course's first CNN (conv 1->32 5x5, ReLU, 2x2 max pool, Linear 4608->n).
//! - [`SmallVgg`]: two VGG blocks of two 3x3 convs for 28x28 input, optional BatchNorm.
//! - [`Vgg`]: torchvision's VGG-11/13/16/19, with or without BatchNorm.
//! - [`AlexNet`]: torchvision's AlexNet.
//! - [`SpecNet`]: any net written as an [`ArchSpec`] (`assets/arch/*.arch`, `--arch`).

mod alexnet;
mod net;
mod receptive;
pub mod run;
mod spec;
mod vgg;

pub use alexnet::AlexNet;
pub use net::Net;
pub use receptive::{chain, ReceptiveField, Window};
pub use spec::{ArchSpec, LayerSpec, SpecNet, SPEC_TOKENS};
pub use vgg::{SmallVgg, Vgg};

use fovea_nn::{Error, Module, Result, Tensor};

/// A classifier that can hand back its intermediate activations by name.
pub trait Model: Module {
    /// Runs the net, calling `tap(name, activation)` after every named layer.
    fn forward_taps(&self, x: &Tensor, tap: &mut dyn FnMut(&str, &Tensor)) -> Result<Tensor>;

    /// The names `forward_taps` reports, in order.
    fn layer_names(&self) -> Vec<String>;

    /// The receptive field of a named image layer's activations (`None` for layers after
    /// flattening, or names it does not know).
    fn receptive_field(&self, layer: &str) -> Option<ReceptiveField>;

    /// The layer whose output is the net's final feature vector: the input of the last
    /// layer (for nearest neighbours, PCA and t-SNE).
    fn feature_layer(&self) -> String {
        let names = self.layer_names();
        names[names.len().saturating_sub(2)].clone()
    }

    /// The first (with `last`, the last) image layer, one with a receptive field and so
    /// before flattening, whose name starts with `prefix` (`"relu"`, `"pool"`): Grad-CAM's
    /// and DeepDream's default layers.
    fn layer_like(&self, prefix: &str, last: bool) -> Option<String> {
        let names = self.layer_names();
        let mut it = names
            .iter()
            .filter(|n| n.starts_with(prefix) && self.receptive_field(n).is_some());
        let found = if last { it.next_back() } else { it.next() };
        found.cloned()
    }
}

/// The models `by_name` knows.
pub const NAMES: [&str; 12] = [
    "net",
    "alexnet",
    "vgg-small",
    "vgg-small-bn",
    "vgg11",
    "vgg11-bn",
    "vgg13",
    "vgg13-bn",
    "vgg16",
    "vgg16-bn",
    "vgg19",
    "vgg19-bn",
];

/// Builds a model by name for `in_channels`-channel input and `classes` outputs.
pub fn by_name(name: &str, in_channels: usize, classes: usize) -> Result<Box<dyn Model>> {
    Ok(match name {
        "net" => Box::new(Net::new(in_channels, classes)),
        "vgg-small" => Box::new(SmallVgg::new(in_channels, classes, false, 0.5)),
        "vgg-small-bn" => Box::new(SmallVgg::new(in_channels, classes, true, 0.5)),
        "alexnet" => Box::new(AlexNet::new(in_channels, classes)),
        other => {
            let (depth, bn) = match other.strip_suffix("-bn") {
                Some(d) => (d, true),
                None => (other, false),
            };
            let depth = depth
                .strip_prefix("vgg")
                .and_then(|d| d.parse::<usize>().ok())
                .filter(|d| [11, 13, 16, 19].contains(d))
                .ok_or_else(|| Error::Config {
                    what: "model",
                    msg: format!("unknown model `{name}`; known: {}", NAMES.join(", ")),
                })?;
            Box::new(Vgg::new(depth, bn, in_channels, classes)?)
        }
    })
}

/// Builds the model a run asks for: the spec `arch` when given (for `(C, H, W)` input),
/// else the zoo model `name`.
pub fn build(
    name: &str,
    arch: Option<&str>,
    input: (usize, usize, usize),
    classes: usize,
) -> Result<Box<dyn Model>> {
    match arch {
        Some(text) => Ok(Box::new(ArchSpec::parse(text)?.build(input, classes)?)),
        None => by_name(name, input.0, classes),
    }
}

impl<'a> fovea_nn::ModuleExt for dyn Model + 'a {
    fn as_dyn(&self) -> &dyn Module {
        self
    }
}
