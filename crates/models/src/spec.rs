//! Architecture specs: a net written as text, one layer per line (or comma-separated), so a
//! learner can change convs, kernels, pooling, BatchNorm and Dropout without recompiling.
//!
//! ```text
//! # the course's small VGG with BatchNorm
//! conv 32 k3 p1, bn, relu, conv 32 k3 p1, bn, relu, pool 2
//! conv 64 k3 p1, bn, relu, conv 64 k3 p1, bn, relu, pool 2
//! linear 256, relu, dropout 0.5, linear
//! ```
//!
//! Layers before the first `linear` (or `flatten`) form `features`, the rest `classifier`,
//! so parameter names follow torchvision's VGG (`features.N`, `classifier.N`). The last layer
//! must be `linear`, with no size (or the number of classes): it produces the logits.

use crate::vgg::{field_of, split, Window};
use crate::{Model, ReceptiveField};
use fovea_nn::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Conv2dConfig, Dropout, Error, Linear,
    MaxPool2d, Module, ReLU, Result, Sequential, Tensor,
};

/// The layer words a spec knows, with their arguments.
pub const SPEC_TOKENS: [&str; 9] = [
    "conv OUT [kK] [sS] [pP]",
    "bn",
    "relu",
    "pool [K] [sS]",
    "avgpool [K] [sS]",
    "adaptiveavgpool H[xW]",
    "dropout [P]",
    "flatten",
    "linear [N]",
];

/// One parsed layer.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    /// `conv OUT kK sS pP`
    Conv {
        /// output channels
        out: usize,
        /// kernel size
        k: usize,
        /// stride
        s: usize,
        /// padding
        p: usize,
    },
    /// BatchNorm2d over the current channels
    Bn,
    /// ReLU
    Relu,
    /// max pool, kernel and stride
    MaxPool(usize, usize),
    /// average pool, kernel and stride
    AvgPool(usize, usize),
    /// adaptive average pool to (height, width)
    AdaptiveAvgPool(usize, usize),
    /// dropout with probability p
    Dropout(f32),
    /// ends `features`
    Flatten,
    /// Linear to N features, or to the classes when `None`
    Linear(Option<usize>),
}

/// A parsed spec: its text and layers.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchSpec {
    /// the text it was parsed from
    pub text: String,
    /// the layers, in order
    pub layers: Vec<LayerSpec>,
}

fn spec_err(msg: String) -> Error {
    Error::Config {
        what: "arch spec",
        msg,
    }
}

/// Parses `k3`-style options (prefix then a number) and plain numbers.
fn number(item: &str, tok: &str, prefix: &str) -> Result<usize> {
    tok.strip_prefix(prefix)
        .unwrap_or(tok)
        .parse::<usize>()
        .map_err(|_| spec_err(format!("`{item}`: `{tok}` is not a whole number")))
}

impl ArchSpec {
    /// Parses a spec; an unknown word or argument is refused with the list of known ones.
    pub fn parse(text: &str) -> Result<ArchSpec> {
        let mut layers = Vec::new();
        let items = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty());
        for item in items {
            let mut toks = item.split_whitespace();
            let word = toks.next().unwrap_or_default().to_ascii_lowercase();
            let args: Vec<&str> = toks.collect();
            let too_many = |n: usize| {
                if args.len() > n {
                    Err(spec_err(format!(
                        "`{item}`: too many arguments; use `{}`",
                        usage(&word)
                    )))
                } else {
                    Ok(())
                }
            };
            let layer = match word.as_str() {
                "conv" => {
                    let out = args
                        .first()
                        .ok_or_else(|| {
                            spec_err(format!(
                                "`{item}`: give the output channels, e.g. `conv 32 k3 p1`"
                            ))
                        })
                        .and_then(|t| number(item, t, ""))?;
                    let (mut k, mut s, mut p) = (3, 1, 0);
                    for t in &args[1..] {
                        match t.chars().next() {
                            Some('k') => k = number(item, t, "k")?,
                            Some('s') => s = number(item, t, "s")?,
                            Some('p') => p = number(item, t, "p")?,
                            _ => {
                                return Err(spec_err(format!(
                                    "`{item}`: unknown option `{t}`; use `{}`",
                                    usage("conv")
                                )))
                            }
                        }
                    }
                    LayerSpec::Conv { out, k, s, p }
                }
                "bn" | "batchnorm" => {
                    too_many(0)?;
                    LayerSpec::Bn
                }
                "relu" => {
                    too_many(0)?;
                    LayerSpec::Relu
                }
                "pool" | "maxpool" | "avgpool" => {
                    too_many(2)?;
                    let k = args.first().map_or(Ok(2), |t| number(item, t, "k"))?;
                    let s = args.get(1).map_or(Ok(k), |t| number(item, t, "s"))?;
                    if word == "avgpool" {
                        LayerSpec::AvgPool(k, s)
                    } else {
                        LayerSpec::MaxPool(k, s)
                    }
                }
                "adaptiveavgpool" => {
                    too_many(1)?;
                    let a = args.first().ok_or_else(|| {
                        spec_err(format!(
                            "`{item}`: give the output size, e.g. `adaptiveavgpool 7x7`"
                        ))
                    })?;
                    let (h, w) = a.split_once('x').unwrap_or((a, a));
                    LayerSpec::AdaptiveAvgPool(number(item, h, "")?, number(item, w, "")?)
                }
                "dropout" => {
                    too_many(1)?;
                    let p = match args.first() {
                        None => 0.5,
                        Some(t) => t
                            .parse::<f32>()
                            .ok()
                            .filter(|p| (0.0..1.0).contains(p))
                            .ok_or_else(|| {
                                spec_err(format!("`{item}`: `{t}` is not a probability in [0, 1)"))
                            })?,
                    };
                    LayerSpec::Dropout(p)
                }
                "flatten" => {
                    too_many(0)?;
                    LayerSpec::Flatten
                }
                "linear" | "fc" => {
                    too_many(1)?;
                    LayerSpec::Linear(args.first().map(|t| number(item, t, "")).transpose()?)
                }
                other => {
                    return Err(spec_err(format!(
                        "unknown layer `{other}` in `{item}`; known: {}",
                        SPEC_TOKENS.join(", ")
                    )))
                }
            };
            layers.push(layer);
        }
        if !matches!(layers.last(), Some(LayerSpec::Linear(_))) {
            return Err(spec_err(
                "the last layer must be `linear` (it produces the class scores)".into(),
            ));
        }
        Ok(ArchSpec {
            text: text.to_string(),
            layers,
        })
    }

    /// Builds the net for `(C, H, W)` input and `classes` outputs, working out each
    /// Linear's input size; refuses layers that do not fit the shape they receive.
    pub fn build(&self, input: (usize, usize, usize), classes: usize) -> Result<SpecNet> {
        let (mut c, mut h, mut w) = input;
        let mut flat: Option<usize> = None;
        let mut features = Sequential::new();
        let mut classifier = Sequential::new();
        let mut names = Vec::new();
        let mut windows: Vec<Window> = Vec::new();
        let (mut block, mut conv, mut last_conv) = (1, 0, None::<String>);
        let n = self.layers.len();
        for (i, layer) in self.layers.iter().enumerate() {
            let at = |msg: String| spec_err(format!("layer {} ({layer:?}): {msg}", i + 1));
            let shrink = |len: usize, k: usize, s: usize, p: usize| -> Option<usize> {
                (len + 2 * p)
                    .checked_sub(k)
                    .filter(|_| s > 0)
                    .map(|v| v / s + 1)
            };
            if flat.is_some()
                && matches!(
                    layer,
                    LayerSpec::Conv { .. }
                        | LayerSpec::Bn
                        | LayerSpec::MaxPool(..)
                        | LayerSpec::AvgPool(..)
                        | LayerSpec::AdaptiveAvgPool(..)
                )
            {
                return Err(at(
                    "image layers cannot follow `linear`/`flatten`; move it before them".into(),
                ));
            }
            match *layer {
                LayerSpec::Conv { out, k, s, p } => {
                    let (Some(oh), Some(ow)) = (shrink(h, k, s, p), shrink(w, k, s, p)) else {
                        return Err(at(format!(
                            "a {k}x{k} kernel does not fit the {h}x{w} map (padding {p}); \
                             pad more or pool less before it"
                        )));
                    };
                    let cfg = Conv2dConfig {
                        stride: s,
                        padding: p,
                        ..Default::default()
                    };
                    features = features.add(Conv2d::with(c, out, k, cfg)?);
                    conv += 1;
                    names.push(format!("conv{block}_{conv}"));
                    windows.push(Some((k, s, p)));
                    last_conv = Some(format!("{block}_{conv}"));
                    (c, h, w) = (out, oh, ow);
                }
                LayerSpec::Bn => {
                    features = features.add(BatchNorm2d::new(c));
                    names.push(format!("bn{}", last_conv.as_deref().unwrap_or("0")));
                    windows.push(None);
                }
                LayerSpec::Relu if flat.is_none() => {
                    features = features.add(ReLU::new());
                    names.push(format!("relu{}", last_conv.as_deref().unwrap_or("0")));
                    windows.push(None);
                }
                LayerSpec::Dropout(p) if flat.is_none() => {
                    features = features.add(Dropout::new(p));
                    names.push(format!("dropout{block}"));
                    windows.push(None);
                }
                LayerSpec::MaxPool(k, s) | LayerSpec::AvgPool(k, s) => {
                    let (Some(oh), Some(ow)) = (shrink(h, k, s, 0), shrink(w, k, s, 0)) else {
                        return Err(at(format!(
                            "a {k}x{k} pool does not fit the {h}x{w} map; remove a pool or pad the convs"
                        )));
                    };
                    features = match layer {
                        LayerSpec::MaxPool(..) => features.add(MaxPool2d::new(k).stride(s)),
                        _ => features.add(AvgPool2d::new(k).stride(s)),
                    };
                    names.push(format!("pool{block}"));
                    windows.push(Some((k, s, 0)));
                    (block, conv, h, w) = (block + 1, 0, oh, ow);
                }
                LayerSpec::AdaptiveAvgPool(oh, ow) => {
                    features = features.add(AdaptiveAvgPool2d::new((oh, ow)));
                    names.push("avgpool".into());
                    // each output averages a window of about H / oh input positions
                    windows.push(Some((h.div_ceil(oh), h / oh.max(1), 0)));
                    (h, w) = (oh, ow);
                }
                LayerSpec::Flatten => {
                    flat.get_or_insert(c * h * w);
                }
                LayerSpec::Relu => classifier = classifier.add(ReLU::new()),
                LayerSpec::Dropout(p) => classifier = classifier.add(Dropout::new(p)),
                LayerSpec::Linear(out) => {
                    let inp = *flat.get_or_insert(c * h * w);
                    let out = match (out, i + 1 == n) {
                        (None, true) => classes,
                        (Some(o), true) if o != classes => {
                            return Err(at(format!(
                                "the last linear gives the class scores: {o} outputs for \
                                 {classes} classes; write `linear` or `linear {classes}`"
                            )))
                        }
                        (Some(o), _) => o,
                        (None, false) => {
                            return Err(at("give the output size, e.g. `linear 256`".into()))
                        }
                    };
                    classifier = classifier.add(Linear::new(inp, out));
                    flat = Some(out);
                }
            }
        }
        let layers: Vec<(String, Window)> = names.iter().cloned().zip(windows).collect();
        let fields = split(&layers).1;
        Ok(SpecNet {
            features,
            classifier,
            names,
            fields,
            spec: self.clone(),
        })
    }
}

fn usage(word: &str) -> &'static str {
    let key = match word {
        "maxpool" => "pool",
        "batchnorm" => "bn",
        "fc" => "linear",
        w => w,
    };
    SPEC_TOKENS
        .iter()
        .find(|t| t.split_whitespace().next() == Some(key))
        .copied()
        .unwrap_or("")
}

/// A net built from an [`ArchSpec`]: `features` then flatten then `classifier`.
pub struct SpecNet {
    /// the image layers
    pub features: Sequential,
    /// the layers after flattening
    pub classifier: Sequential,
    names: Vec<String>,
    fields: Vec<(String, ReceptiveField)>,
    spec: ArchSpec,
}

impl SpecNet {
    /// The spec it was built from.
    pub fn spec(&self) -> &ArchSpec {
        &self.spec
    }
}

impl Module for SpecNet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_taps(x, &mut |_, _| {})
    }
    fovea_nn::children!("SpecNet"; features, classifier);
}

impl Model for SpecNet {
    fn forward_taps(&self, x: &Tensor, tap: &mut dyn FnMut(&str, &Tensor)) -> Result<Tensor> {
        crate::vgg::run(&self.features, &self.names, None, &self.classifier, x, tap)
    }
    fn receptive_field(&self, layer: &str) -> Option<ReceptiveField> {
        field_of(&self.fields, layer)
    }

    fn layer_names(&self) -> Vec<String> {
        let mut n = self.names.clone();
        n.extend((0..self.classifier.len()).map(|i| format!("classifier.{i}")));
        n
    }
}
