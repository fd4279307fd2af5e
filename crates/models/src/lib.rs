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

use fovea_nn::{Error, Geometry, Module, ModuleExt, Result, Tensor};
use std::sync::{Arc, Mutex};

/// A classifier whose layers visualizations can name. Activations are read with forward
/// hooks on the layer's `state_dict` path ([`ModuleExt::register_forward_hook`],
/// [`ModuleExt::forward_until`]); receptive fields come from each layer's own geometry.
pub trait Model: Module {
    /// The layers a visualization can name, in forward order: each layer's name (`conv1_1`)
    /// and the `state_dict` path of the module whose output it is (`features.0`).
    fn layers(&self) -> Vec<(String, String)>;

    /// The input size `(rows, columns)` the net was built for, when it has one: adaptive
    /// pooling's window depends on it.
    fn input_size(&self) -> Option<(usize, usize)> {
        None
    }

    /// The names of [`Model::layers`], in order.
    fn layer_names(&self) -> Vec<String> {
        self.layers().into_iter().map(|(n, _)| n).collect()
    }

    /// The module path of a layer named by its name (the first layer of that name) or by
    /// its path (`features.12`).
    fn layer_path(&self, layer: &str) -> Option<String> {
        let layers = self.layers();
        let by_name = layers.iter().find(|(n, _)| n == layer);
        by_name
            .or_else(|| layers.iter().find(|(_, p)| p == layer))
            .map(|(_, p)| p.clone())
    }

    /// The receptive field of a layer's activations (by name or path), composed from the
    /// geometry of every layer up to it; `None` past a layer that does not keep positions
    /// (a flatten, a linear layer) or for a layer it does not know.
    fn receptive_field(&self, layer: &str) -> Option<ReceptiveField> {
        let mut rf = Some(ReceptiveField::PIXEL);
        let mut size = self.input_size();
        for (name, path) in self.layers() {
            let geometry = self.as_module().get_submodule(&path).ok()?.geometry();
            rf = match (rf, geometry) {
                (Some(f), Geometry::Pointwise) => Some(f),
                (
                    Some(f),
                    Geometry::Window {
                        kernel,
                        stride,
                        padding,
                        dilation,
                    },
                ) => {
                    let k = (kernel.0 - 1) * dilation.0 + 1;
                    size = size.map(|(h, w)| {
                        let out = |n: usize, k: usize, s: usize, p: usize| {
                            (n + 2 * p).saturating_sub(k) / s + 1
                        };
                        let kw = (kernel.1 - 1) * dilation.1 + 1;
                        (
                            out(h, k, stride.0, padding.0),
                            out(w, kw, stride.1, padding.1),
                        )
                    });
                    Some(f.then(k, stride.0, padding.0))
                }
                // adaptive pooling averages about H / out rows: its window needs the size
                (Some(f), Geometry::Adaptive { out }) => size
                    .replace(out)
                    .map(|(h, _)| f.then(h.div_ceil(out.0), h / out.0, 0)),
                _ => None,
            };
            if name == layer || path == layer {
                return rf;
            }
        }
        None
    }

    /// Runs the net, calling `tap(name, activation)` for every layer of [`Model::layers`]
    /// that ran (then `tap(path, ..)` when the path differs from the name), in order; an
    /// error from a later layer is still returned after the taps.
    fn forward_taps(&self, x: &Tensor, tap: &mut dyn FnMut(&str, &Tensor)) -> Result<Tensor> {
        let layers = self.layers();
        let seen: Arc<Mutex<Vec<(String, Tensor)>>> = Arc::default();
        let mut handles = Vec::new();
        let mut paths: Vec<&String> = layers.iter().map(|(_, p)| p).collect();
        paths.dedup();
        for path in paths {
            let (seen, p) = (seen.clone(), path.clone());
            handles.push(self.as_module().register_forward_hook(path, move |t| {
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((p.clone(), t.clone()))
            })?);
        }
        let out = self.as_module().call(x);
        drop(handles);
        for (path, t) in seen.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            for (name, _) in layers.iter().filter(|(_, p)| p == path) {
                tap(name, t);
            }
            if layers.iter().all(|(n, _)| n != path) {
                tap(path, t);
            }
        }
        out
    }

    /// `self` as a module, for the traversals.
    fn as_module(&self) -> &dyn Module;

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
