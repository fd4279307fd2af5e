//! Attribution pictures the way Captum's `visualize_image_attr` draws them: the map summed
//! over channels, normalised by the value where the cumulative sum of magnitudes reaches
//! `100 - outlier_perc` percent (clipping outliers), then shown as a heat map, blended over
//! the grey image, or as the image masked by the attribution.

use crate::picture::{self, Colormap};
use image::{Rgb, RgbImage};

/// How the attribution is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// the map alone
    HeatMap,
    /// the map over the grey image
    BlendedHeatMap,
    /// the image multiplied by the (non-negative) map
    MaskedImage,
}

/// Which part of the attribution is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// negative in red, positive in green
    All,
    /// positive values only (greens)
    Positive,
    /// negative values only, as magnitudes (reds)
    Negative,
    /// magnitudes (blues)
    Absolute,
}

/// Captum's `visualize_image_attr` settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Display {
    /// how to draw
    pub method: Method,
    /// which sign
    pub sign: Sign,
    /// percent of the cumulative magnitude treated as outliers and clipped
    pub outlier_perc: f32,
    /// opacity of the map over the image
    pub alpha: f32,
}

impl Default for Display {
    /// Captum's defaults for `blended_heat_map`: absolute values, 2% outliers, alpha 0.5.
    fn default() -> Self {
        Display {
            method: Method::BlendedHeatMap,
            sign: Sign::Absolute,
            outlier_perc: 2.0,
            alpha: 0.5,
        }
    }
}

/// The value where the cumulative sum of the sorted `values` first reaches `percentile`
/// percent of their total (Captum's `_cumulative_sum_threshold`).
pub fn cumulative_sum_threshold(values: &[f32], percentile: f32) -> f32 {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    let total: f64 = sorted.iter().map(|&v| v as f64).sum();
    let target = total * (percentile as f64 / 100.0);
    let mut acc = 0.0f64;
    for &v in &sorted {
        acc += v as f64;
        if acc >= target {
            return v;
        }
    }
    sorted.last().copied().unwrap_or(0.0)
}

/// The map summed over channels (`[C, H, W]` -> `[H, W]`) and normalised for `sign`:
/// `[-1, 1]` for [`Sign::All`], `[0, 1]` otherwise.
pub fn normalize(attr: &[f32], plane: usize, sign: Sign, outlier_perc: f32) -> Vec<f32> {
    let c = attr.len() / plane.max(1);
    let summed: Vec<f32> = (0..plane)
        .map(|i| (0..c).map(|ch| attr[ch * plane + i]).sum())
        .collect();
    let kept: Vec<f32> = summed
        .iter()
        .map(|&v| match sign {
            Sign::All => v,
            Sign::Positive => v.max(0.0),
            Sign::Negative => (-v).max(0.0),
            Sign::Absolute => v.abs(),
        })
        .collect();
    let mags: Vec<f32> = kept.iter().map(|v| v.abs()).collect();
    let t = cumulative_sum_threshold(&mags, 100.0 - outlier_perc);
    let t = if t > 0.0 { t } else { 1.0 };
    let lo = if sign == Sign::All { -1.0 } else { 0.0 };
    kept.iter().map(|v| (v / t).clamp(lo, 1.0)).collect()
}

/// Draws an attribution `attr` (`[C, H, W]` or `[H, W]`) for an image given as values in
/// `[0, 1]` (`[c, H, W]`, 1 or 3 planes).
pub fn visualize(
    attr: &[f32],
    image: &[f32],
    c: usize,
    h: usize,
    w: usize,
    d: &Display,
) -> RgbImage {
    let plane = h * w;
    let norm = normalize(attr, plane, d.sign, d.outlier_perc);
    let map = match d.sign {
        Sign::All => Colormap::Diverging,
        Sign::Positive => Colormap::Greens,
        Sign::Negative => Colormap::Reds,
        Sign::Absolute => Colormap::Blues,
    };
    let img = picture::planes(image, c, h, w);
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        match d.method {
            Method::HeatMap => map.color(norm[i]),
            Method::BlendedHeatMap => {
                let p = img.get_pixel(x, y).0;
                let grey = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) as f32;
                let hm = map.color(norm[i]).0;
                let mix =
                    |k: usize| (grey * (1.0 - d.alpha) + hm[k] as f32 * d.alpha).round() as u8;
                Rgb([mix(0), mix(1), mix(2)])
            }
            Method::MaskedImage => {
                let p = img.get_pixel(x, y).0;
                let m = norm[i].abs();
                Rgb(p.map(|v| (v as f32 * m).round() as u8))
            }
        }
    })
}
