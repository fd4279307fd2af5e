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

use crate::Model;
use fovea_nn::{
    AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, Conv2dConfig, Dropout, Error, Linear,
    MaxPool2d, Module, ModuleExt, ReLU, Result, Sequential, Tensor,
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

/// The most values one layer's weights, or one image's activations after a layer, may
/// hold: 2^28 (1 GiB of f32). Past it a typo such as `conv 100000` would exhaust memory
/// instead of being refused.
const MAX_LAYER_VALUES: usize = 1 << 28;

/// An example spec, for messages.
const EXAMPLE: &str = "conv 32 k3 p1, relu, pool 2, linear";

fn spec_err(msg: String) -> Error {
    Error::Config {
        what: "arch spec",
        msg,
    }
}

/// Parses `k3`-style options (prefix then a number) and plain numbers.
fn number(item: &str, tok: &str, prefix: &str) -> Result<usize> {
    let digits = tok.strip_prefix(prefix).unwrap_or(tok);
    digits.parse::<usize>().map_err(|_| {
        let why = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            "is too large"
        } else {
            "is not a whole number"
        };
        spec_err(format!("`{item}`: `{tok}` {why}"))
    })
}

/// Like [`number`], refusing 0 for a size that must be at least 1.
fn positive(item: &str, tok: &str, prefix: &str, what: &str) -> Result<usize> {
    match number(item, tok, prefix)? {
        0 => Err(spec_err(format!(
            "`{item}`: the {what} `{tok}` must be at least 1"
        ))),
        n => Ok(n),
    }
}

impl std::fmt::Display for LayerSpec {
    /// The layer in spec syntax, every option written out: `conv 32 k3 s1 p1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayerSpec::Conv { out, k, s, p } => write!(f, "conv {out} k{k} s{s} p{p}"),
            LayerSpec::Bn => write!(f, "bn"),
            LayerSpec::Relu => write!(f, "relu"),
            LayerSpec::MaxPool(k, s) => write!(f, "pool {k} s{s}"),
            LayerSpec::AvgPool(k, s) => write!(f, "avgpool {k} s{s}"),
            LayerSpec::AdaptiveAvgPool(h, w) => write!(f, "adaptiveavgpool {h}x{w}"),
            LayerSpec::Dropout(p) => write!(f, "dropout {p}"),
            LayerSpec::Flatten => write!(f, "flatten"),
            LayerSpec::Linear(None) => write!(f, "linear"),
            LayerSpec::Linear(Some(n)) => write!(f, "linear {n}"),
        }
    }
}

/// One layer with the sizes worked out: what [`ArchSpec::build`] instantiates.
enum Step {
    Conv {
        inp: usize,
        out: usize,
        k: usize,
        s: usize,
        p: usize,
    },
    Bn(usize),
    /// `true` after flattening (in the classifier)
    Relu(bool),
    Dropout(f32, bool),
    Pool {
        max: bool,
        k: usize,
        s: usize,
    },
    Adaptive {
        oh: usize,
        ow: usize,
    },
    Flatten,
    Linear {
        inp: usize,
        out: usize,
    },
}

impl ArchSpec {
    /// Parses a spec; an unknown word or argument is refused with the list of known ones,
    /// a size of 0 with the size it names.
    pub fn parse(text: &str) -> Result<ArchSpec> {
        let mut layers = Vec::new();
        let items = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let mut last_item = "";
        for item in items {
            last_item = item;
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
                        .and_then(|t| positive(item, t, "", "output channel count"))?;
                    let (mut k, mut s, mut p) = (3, 1, 0);
                    for t in &args[1..] {
                        match t.chars().next() {
                            Some('k') => k = positive(item, t, "k", "kernel size")?,
                            Some('s') => s = positive(item, t, "s", "stride")?,
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
                    let k = args
                        .first()
                        .map_or(Ok(2), |t| positive(item, t, "k", "pool size"))?;
                    let s = args
                        .get(1)
                        .map_or(Ok(k), |t| positive(item, t, "s", "stride"))?;
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
                    LayerSpec::AdaptiveAvgPool(
                        positive(item, h, "", "output height")?,
                        positive(item, w, "", "output width")?,
                    )
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
                    LayerSpec::Linear(
                        args.first()
                            .map(|t| positive(item, t, "", "output size"))
                            .transpose()?,
                    )
                }
                other => {
                    let whole = text.trim();
                    // A lone word with a path's characters is a spec file that is not there.
                    if layers.is_empty()
                        && !whole.contains([',', '\n', ' ', '\t'])
                        && whole.contains(['/', '\\', '.'])
                    {
                        return Err(spec_err(format!(
                            "`{whole}` is neither a spec file that exists nor a layer; check the \
                             file's path, or write the spec itself, e.g. `{EXAMPLE}`"
                        )));
                    }
                    return Err(spec_err(format!(
                        "unknown layer `{other}` in `{item}`; known: {}",
                        SPEC_TOKENS.join(", ")
                    )));
                }
            };
            layers.push(layer);
        }
        match layers.last() {
            None => {
                return Err(spec_err(format!(
                    "the spec has no layers; write them, e.g. `{EXAMPLE}`"
                )))
            }
            Some(LayerSpec::Linear(_)) => {}
            Some(_) => {
                return Err(spec_err(format!(
                    "the last layer is `{last_item}`, but the last layer must be `linear` (it \
                     produces the class scores); end the spec with `linear`"
                )))
            }
        }
        Ok(ArchSpec {
            text: text.to_string(),
            layers,
        })
    }

    /// Checks that the net fits `(C, H, W)` input and `classes` outputs without building
    /// it: every layer fits the map it receives and no layer exceeds
    /// 2^28 values (1 GiB of f32). Returns the number of parameters.
    pub fn check(&self, input: (usize, usize, usize), classes: usize) -> Result<usize> {
        Ok(self.plan(input, classes)?.1)
    }

    /// Works out every layer's sizes, refusing what does not fit; also the parameter count.
    fn plan(&self, input: (usize, usize, usize), classes: usize) -> Result<(Vec<Step>, usize)> {
        let (mut c, mut h, mut w) = input;
        if c == 0 || h == 0 || w == 0 || classes == 0 {
            return Err(spec_err(format!(
                "input {c}x{h}x{w} with {classes} classes: every size must be at least 1"
            )));
        }
        let too_big = |n: Option<usize>| n.is_none_or(|n| n > MAX_LAYER_VALUES);
        if too_big(c.checked_mul(h).and_then(|v| v.checked_mul(w))) {
            return Err(spec_err(format!(
                "input {c}x{h}x{w} holds more than {MAX_LAYER_VALUES} values; use smaller images"
            )));
        }
        let mut flat: Option<usize> = None;
        let mut steps = Vec::with_capacity(self.layers.len());
        let mut params = 0usize;
        // receptive-field size and jump, tracked so that overflowing them is refused here
        let (mut rf_size, mut rf_jump) = (1usize, 1usize);
        let n = self.layers.len();
        for (i, layer) in self.layers.iter().enumerate() {
            let at = |msg: String| spec_err(format!("layer {} (`{layer}`): {msg}", i + 1));
            let shrink = |len: usize, k: usize, s: usize, p: usize| -> Option<usize> {
                p.checked_mul(2)
                    .and_then(|p2| len.checked_add(p2))
                    .and_then(|l| l.checked_sub(k))
                    .filter(|_| s > 0)
                    .map(|v| v / s + 1)
            };
            let mut window = |k: usize, s: usize| -> Result<()> {
                let grown = k
                    .checked_sub(1)
                    .and_then(|k1| k1.checked_mul(rf_jump))
                    .and_then(|g| g.checked_add(rf_size));
                match (grown, rf_jump.checked_mul(s)) {
                    (Some(size), Some(jump)) => {
                        (rf_size, rf_jump) = (size, jump);
                        Ok(())
                    }
                    _ => Err(at(
                        "the strides and kernels so far see more pixels than can be counted; \
                         use smaller strides"
                            .into(),
                    )),
                }
            };
            let values = |dims: &[usize], what: &str| -> Result<usize> {
                let v = dims.iter().try_fold(1usize, |a, d| a.checked_mul(*d));
                match v {
                    Some(v) if v <= MAX_LAYER_VALUES => Ok(v),
                    _ => Err(at(format!(
                        "{} {what} is more than one layer may hold ({MAX_LAYER_VALUES}); use \
                         fewer channels or features",
                        dims.iter()
                            .map(usize::to_string)
                            .collect::<Vec<_>>()
                            .join("x")
                    ))),
                }
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
            let step = match *layer {
                LayerSpec::Conv { out, k, s, p } => {
                    if out == 0 || k == 0 || s == 0 {
                        return Err(at(
                            "output channels, kernel size and stride must be at least 1".into(),
                        ));
                    }
                    let (Some(oh), Some(ow)) = (shrink(h, k, s, p), shrink(w, k, s, p)) else {
                        return Err(at(format!(
                            "a {k}x{k} kernel does not fit the {h}x{w} map (padding {p}); \
                             pad more or pool less before it"
                        )));
                    };
                    params = params
                        .saturating_add(values(&[out, c, k, k], "weights")?)
                        .saturating_add(out);
                    values(&[out, oh, ow], "activations per image")?;
                    window(k, s)?;
                    let step = Step::Conv {
                        inp: c,
                        out,
                        k,
                        s,
                        p,
                    };
                    (c, h, w) = (out, oh, ow);
                    step
                }
                LayerSpec::Bn => {
                    params = params.saturating_add(2 * c);
                    Step::Bn(c)
                }
                LayerSpec::Relu => Step::Relu(flat.is_some()),
                LayerSpec::Dropout(p) => {
                    if !(0.0..1.0).contains(&p) {
                        return Err(at(format!("{p} is not a probability in [0, 1)")));
                    }
                    Step::Dropout(p, flat.is_some())
                }
                LayerSpec::MaxPool(k, s) | LayerSpec::AvgPool(k, s) => {
                    if k == 0 || s == 0 {
                        return Err(at("pool size and stride must be at least 1".into()));
                    }
                    let (Some(oh), Some(ow)) = (shrink(h, k, s, 0), shrink(w, k, s, 0)) else {
                        return Err(at(format!(
                            "a {k}x{k} pool does not fit the {h}x{w} map; remove a pool or pad \
                             the convs"
                        )));
                    };
                    window(k, s)?;
                    (h, w) = (oh, ow);
                    Step::Pool {
                        max: matches!(layer, LayerSpec::MaxPool(..)),
                        k,
                        s,
                    }
                }
                LayerSpec::AdaptiveAvgPool(oh, ow) => {
                    if oh == 0 || ow == 0 {
                        return Err(at("the output size must be at least 1x1".into()));
                    }
                    values(&[c, oh, ow], "activations per image")?;
                    // each output averages a window of about H / oh input positions
                    let (k, s) = (h.div_ceil(oh), h / oh);
                    window(k, s)?;
                    (h, w) = (oh, ow);
                    Step::Adaptive { oh, ow }
                }
                LayerSpec::Flatten => {
                    flat.get_or_insert(c * h * w);
                    Step::Flatten
                }
                LayerSpec::Linear(out) => {
                    let inp = *flat.get_or_insert(c * h * w);
                    let out = match (out, i + 1 == n) {
                        (Some(0), _) => {
                            return Err(at("the output size must be at least 1".into()))
                        }
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
                    params = params
                        .saturating_add(values(&[out, inp], "weights")?)
                        .saturating_add(out);
                    flat = Some(out);
                    Step::Linear { inp, out }
                }
            };
            steps.push(step);
        }
        if !matches!(steps.last(), Some(Step::Linear { .. })) {
            return Err(spec_err(
                "the last layer must be `linear` (it produces the class scores)".into(),
            ));
        }
        Ok((steps, params))
    }

    /// Builds the net for `(C, H, W)` input and `classes` outputs, working out each
    /// Linear's input size; refuses layers that do not fit the shape they receive, and
    /// (before allocating anything) a layer of more than 2^28 values.
    pub fn build(&self, input: (usize, usize, usize), classes: usize) -> Result<SpecNet> {
        let (steps, _) = self.plan(input, classes)?;
        let mut features = Sequential::new();
        let mut classifier = Sequential::new();
        let mut names = Vec::new();
        let (mut block, mut conv, mut last_conv) = (1, 0, None::<String>);
        for step in steps {
            match step {
                Step::Conv { inp, out, k, s, p } => {
                    let cfg = Conv2dConfig {
                        stride: s,
                        padding: p,
                        ..Default::default()
                    };
                    features = features.add(Conv2d::with(inp, out, k, cfg)?);
                    conv += 1;
                    names.push(format!("conv{block}_{conv}"));
                    last_conv = Some(format!("{block}_{conv}"));
                }
                Step::Bn(c) => {
                    features = features.add(BatchNorm2d::new(c));
                    names.push(format!("bn{}", last_conv.as_deref().unwrap_or("0")));
                }
                Step::Relu(false) => {
                    features = features.add(ReLU::new());
                    names.push(format!("relu{}", last_conv.as_deref().unwrap_or("0")));
                }
                Step::Dropout(p, false) => {
                    features = features.add(Dropout::new(p));
                    names.push(format!("dropout{block}"));
                }
                Step::Pool { max, k, s } => {
                    features = if max {
                        features.add(MaxPool2d::new(k).stride(s))
                    } else {
                        features.add(AvgPool2d::new(k).stride(s))
                    };
                    names.push(format!("pool{block}"));
                    (block, conv) = (block + 1, 0);
                }
                Step::Adaptive { oh, ow } => {
                    features = features.add(AdaptiveAvgPool2d::new((oh, ow)));
                    names.push("avgpool".into());
                }
                Step::Flatten => {}
                Step::Relu(true) => classifier = classifier.add(ReLU::new()),
                Step::Dropout(p, true) => classifier = classifier.add(Dropout::new(p)),
                Step::Linear { inp, out } => {
                    classifier = classifier.add(Linear::with_bias(inp, out, true)?);
                }
            }
        }
        let net = SpecNet {
            features,
            classifier,
            names,
            input: (input.1, input.2),
            spec: self.clone(),
        };
        net.name_layers();
        Ok(net)
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
    input: (usize, usize),
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
        crate::vgg::run(&self.features, None, &self.classifier, x)
    }
    fovea_nn::children!("SpecNet"; features, classifier);
}

impl Model for SpecNet {
    fn layers(&self) -> Vec<(String, String)> {
        crate::vgg::named_layers(&self.names, &self.classifier)
    }
    fn input_size(&self) -> Option<(usize, usize)> {
        Some(self.input)
    }
    fn as_module(&self) -> &dyn Module {
        self
    }
}
