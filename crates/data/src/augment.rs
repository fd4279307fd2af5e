//! Geometric transforms on one image (`C x H x W`, values in 0..1, before normalisation):
//! torchvision's `RandomCrop(size, padding)`, `RandomHorizontalFlip(p)` and `Resize(size)`.

use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::Rng;

/// One transform of a training pipeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Augment {
    /// Zero-pads every side by `padding`, then crops `size` (height, width) at a random place.
    RandomCrop {
        /// output (height, width)
        size: (usize, usize),
        /// zeros added on every side first
        padding: usize,
    },
    /// Mirrors the image left-right with probability `p`.
    RandomHorizontalFlip {
        /// probability of a flip
        p: f64,
    },
    /// Bilinear resize to (height, width), `align_corners=False`, without antialiasing.
    Resize {
        /// output (height, width)
        size: (usize, usize),
    },
}

/// An image in a transform pipeline: `C x H x W` values.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// `C * H * W` values
    pub data: Vec<f32>,
    /// `(C, H, W)`
    pub shape: (usize, usize, usize),
}

impl Augment {
    /// Whether it is random (applied to training images only).
    pub fn is_random(&self) -> bool {
        !matches!(self, Augment::Resize { .. })
    }

    /// The shape it turns `shape` into, or why it cannot.
    pub fn out_shape(&self, shape: (usize, usize, usize)) -> Result<(usize, usize, usize)> {
        let (c, h, w) = shape;
        match *self {
            Augment::RandomCrop { size, padding } => {
                if size.0 == 0
                    || size.1 == 0
                    || size.0 > h + 2 * padding
                    || size.1 > w + 2 * padding
                {
                    return Err(Error::Config {
                        what: "RandomCrop",
                        msg: format!(
                            "cannot crop {}x{} from a {h}x{w} image padded by {padding}; \
                             use a size up to {}x{}",
                            size.0,
                            size.1,
                            h + 2 * padding,
                            w + 2 * padding
                        ),
                    });
                }
                Ok((c, size.0, size.1))
            }
            Augment::RandomHorizontalFlip { p } => {
                if !(0.0..=1.0).contains(&p) {
                    return Err(Error::Config {
                        what: "RandomHorizontalFlip",
                        msg: format!("probability {p} is not in 0..=1"),
                    });
                }
                Ok(shape)
            }
            Augment::Resize { size } => {
                if size.0 == 0 || size.1 == 0 {
                    return Err(Error::Config {
                        what: "Resize",
                        msg: format!("size {}x{} is empty; use at least 1x1", size.0, size.1),
                    });
                }
                Ok((c, size.0, size.1))
            }
        }
    }

    /// Applies the transform, drawing any randomness from `rng`.
    pub fn apply(&self, img: &Image, rng: &mut StdRng) -> Image {
        let (c, h, w) = img.shape;
        match *self {
            Augment::RandomCrop { size, padding } => {
                let (ph, pw) = (h + 2 * padding, w + 2 * padding);
                let top = rng.random_range(0..=ph - size.0);
                let left = rng.random_range(0..=pw - size.1);
                let mut data = vec![0.0; c * size.0 * size.1];
                for ch in 0..c {
                    for y in 0..size.0 {
                        let Some(sy) = (top + y).checked_sub(padding).filter(|&v| v < h) else {
                            continue;
                        };
                        for x in 0..size.1 {
                            if let Some(sx) = (left + x).checked_sub(padding).filter(|&v| v < w) {
                                data[(ch * size.0 + y) * size.1 + x] =
                                    img.data[(ch * h + sy) * w + sx];
                            }
                        }
                    }
                }
                Image {
                    data,
                    shape: (c, size.0, size.1),
                }
            }
            Augment::RandomHorizontalFlip { p } => {
                let mut out = img.clone();
                if rng.random_bool(p) {
                    for row in out.data.chunks_mut(w) {
                        row.reverse();
                    }
                }
                out
            }
            Augment::Resize { size } => resize_bilinear(img, size),
        }
    }

    /// Parses the command line's list, e.g. `crop=2,flip,resize=32x32`: `crop[=PADDING]`
    /// (keeps the size, default padding 2), `flip[=P]` (default 0.5), `resize=H[xW]`.
    pub fn parse_list(spec: &str, image_hw: (usize, usize)) -> Result<Vec<Augment>> {
        let bad = |msg: String| Error::Config {
            what: "--augment",
            msg,
        };
        let mut out = Vec::new();
        let mut hw = image_hw;
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, arg) = item.split_once('=').unwrap_or((item, ""));
            let num = |s: &str| {
                s.parse::<usize>()
                    .map_err(|_| bad(format!("`{item}`: `{s}` is not a whole number")))
            };
            let a = match (name, arg) {
                ("none", "") => continue,
                ("crop", a) => Augment::RandomCrop {
                    size: hw,
                    padding: if a.is_empty() { 2 } else { num(a)? },
                },
                ("flip", a) => Augment::RandomHorizontalFlip {
                    p: if a.is_empty() {
                        0.5
                    } else {
                        a.parse()
                            .map_err(|_| bad(format!("`{item}`: `{a}` is not a probability")))?
                    },
                },
                ("resize", a) if !a.is_empty() => {
                    let (h, w) = a.split_once('x').unwrap_or((a, a));
                    hw = (num(h)?, num(w)?);
                    Augment::Resize { size: hw }
                }
                _ => {
                    return Err(bad(format!(
                        "unknown transform `{item}`; known: crop[=PADDING], flip[=P], resize=H[xW], none"
                    )))
                }
            };
            out.push(a);
        }
        Ok(out)
    }
}

/// Bilinear resize with PyTorch's `align_corners=False` sampling.
pub fn resize_bilinear(img: &Image, size: (usize, usize)) -> Image {
    let (c, h, w) = img.shape;
    let (oh, ow) = size;
    let src = |o: usize, in_len: usize, out_len: usize| {
        let s = ((o as f32 + 0.5) * in_len as f32 / out_len as f32 - 0.5).max(0.0);
        let i0 = (s.floor() as usize).min(in_len - 1);
        let i1 = (i0 + 1).min(in_len - 1);
        (i0, i1, s - i0 as f32)
    };
    let mut data = vec![0.0; c * oh * ow];
    for ch in 0..c {
        let plane = &img.data[ch * h * w..][..h * w];
        for y in 0..oh {
            let (y0, y1, fy) = src(y, h, oh);
            for x in 0..ow {
                let (x0, x1, fx) = src(x, w, ow);
                let top = plane[y0 * w + x0] * (1.0 - fx) + plane[y0 * w + x1] * fx;
                let bot = plane[y1 * w + x0] * (1.0 - fx) + plane[y1 * w + x1] * fx;
                data[(ch * oh + y) * ow + x] = top * (1.0 - fy) + bot * fy;
            }
        }
    }
    Image {
        data,
        shape: (c, oh, ow),
    }
}
