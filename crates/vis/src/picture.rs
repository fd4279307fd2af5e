//! Pictures: colour maps, enlarged pixels, grids of tiles, and PNG files written atomically.

use crate::error::{Error, Result};
use image::{Rgb, RgbImage};
use std::path::Path;

/// How a value in `[0, 1]` (or `[-1, 1]` for [`Colormap::Diverging`]) becomes a colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colormap {
    /// black to white
    Grey,
    /// matplotlib's viridis (dark blue, green, yellow)
    Viridis,
    /// red for negative, white for 0, green for positive (Captum's `RdWhGn`)
    Diverging,
    /// white to green
    Greens,
    /// white to red
    Reds,
    /// white to blue
    Blues,
}

const VIRIDIS: [[f32; 3]; 9] = [
    [68.0, 1.0, 84.0],
    [71.0, 44.0, 122.0],
    [59.0, 81.0, 139.0],
    [44.0, 113.0, 142.0],
    [33.0, 144.0, 141.0],
    [39.0, 173.0, 129.0],
    [92.0, 200.0, 99.0],
    [170.0, 220.0, 50.0],
    [253.0, 231.0, 37.0],
];

fn lerp(a: [f32; 3], b: [f32; 3], t: f32) -> Rgb<u8> {
    let c = |i: usize| (a[i] + (b[i] - a[i]) * t).round().clamp(0.0, 255.0) as u8;
    Rgb([c(0), c(1), c(2)])
}

impl Colormap {
    /// The colour of `v` (clamped to the map's range).
    pub fn color(self, v: f32) -> Rgb<u8> {
        let v = if v.is_nan() { 0.0 } else { v };
        const WHITE: [f32; 3] = [255.0; 3];
        match self {
            Colormap::Grey => {
                let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                Rgb([g, g, g])
            }
            Colormap::Viridis => {
                let t = v.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f32;
                let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
                lerp(VIRIDIS[i], VIRIDIS[i + 1], t - i as f32)
            }
            Colormap::Diverging => {
                let v = v.clamp(-1.0, 1.0);
                if v < 0.0 {
                    lerp(WHITE, [202.0, 0.0, 32.0], -v)
                } else {
                    lerp(WHITE, [26.0, 150.0, 65.0], v)
                }
            }
            Colormap::Greens => lerp(WHITE, [0.0, 109.0, 44.0], v.clamp(0.0, 1.0)),
            Colormap::Reds => lerp(WHITE, [165.0, 15.0, 21.0], v.clamp(0.0, 1.0)),
            Colormap::Blues => lerp(WHITE, [8.0, 69.0, 148.0], v.clamp(0.0, 1.0)),
        }
    }
}

/// How a map's values are scaled into the colour map's range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// `(v - min) / (max - min)` over the map itself
    PerMap,
    /// `(v - lo) / (hi - lo)` with bounds shared by several maps
    Shared(f32, f32),
}

/// `(min, max)` of finite values (`(0, 0)` when there are none).
pub fn bounds(values: &[f32]) -> (f32, f32) {
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    if lo > hi {
        (0.0, 0.0)
    } else {
        (lo, hi)
    }
}

/// One map (`h x w` values, row-major) as a picture.
pub fn heat(values: &[f32], h: usize, w: usize, scale: Scale, map: Colormap) -> RgbImage {
    let (lo, hi) = match scale {
        Scale::PerMap => bounds(values),
        Scale::Shared(lo, hi) => (lo, hi),
    };
    let span = if hi > lo { hi - lo } else { 1.0 };
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        map.color((values[y as usize * w + x as usize] - lo) / span)
    })
}

/// An RGB picture from `c` planes of values in `[0, 1]` (1 plane: grey, 3: RGB).
pub fn planes(values: &[f32], c: usize, h: usize, w: usize) -> RgbImage {
    let plane = h * w;
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        let v =
            |ch: usize| (values[ch.min(c - 1) * plane + i].clamp(0.0, 1.0) * 255.0).round() as u8;
        Rgb([v(0), v(1), v(2)])
    })
}

/// An input image as the eye sees it: undoes `(v - mean) / std` per channel.
pub fn denormalize(values: &[f32], c: usize, mean: &[f32], std: &[f32]) -> Vec<f32> {
    let plane = values.len() / c.max(1);
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let ch = (i / plane).min(mean.len() - 1);
            v * std[ch] + mean[ch]
        })
        .collect()
}

/// Each pixel repeated `factor` times in both directions.
pub fn enlarge(img: &RgbImage, factor: u32) -> RgbImage {
    let f = factor.max(1);
    RgbImage::from_fn(img.width() * f, img.height() * f, |x, y| {
        *img.get_pixel(x / f, y / f)
    })
}

/// The smallest side, in pixels, of a tile drawn in a grid: a 5x5 filter or an 8x8 patch is
/// enlarged until it is at least this wide and tall, so a person can read it.
pub const MIN_TILE: u32 = 48;

/// The white gap, in pixels, between the tiles of a grid.
pub const GAP: u32 = 2;

/// The integer enlargement that draws a `w x h` map with both sides at least `min_side`
/// pixels, and never less than `factor`.
pub fn tile_factor(w: u32, h: u32, factor: u32, min_side: u32) -> u32 {
    factor.max(1).max(min_side.div_ceil(w.min(h).max(1)))
}

/// A small map enlarged by nearest neighbour to at least [`MIN_TILE`] pixels a side (and at
/// least `factor` times), for grids of filters, patches and feature maps.
pub fn enlarge_tile(img: &RgbImage, factor: u32) -> RgbImage {
    enlarge(
        img,
        tile_factor(img.width(), img.height(), factor, MIN_TILE),
    )
}

/// Tiles in rows of `cols`, `pad` white pixels between them; tiles may differ in size (each
/// cell is as large as the largest tile).
pub fn grid(tiles: &[RgbImage], cols: usize, pad: u32) -> RgbImage {
    let cols = cols.max(1).min(tiles.len().max(1));
    let rows = tiles.len().div_ceil(cols).max(1);
    let cw = tiles.iter().map(|t| t.width()).max().unwrap_or(1);
    let ch = tiles.iter().map(|t| t.height()).max().unwrap_or(1);
    let (w, h) = (
        cols as u32 * (cw + pad) + pad,
        rows as u32 * (ch + pad) + pad,
    );
    let mut out = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    for (i, t) in tiles.iter().enumerate() {
        let (r, c) = ((i / cols) as u32, (i % cols) as u32);
        image::imageops::replace(
            &mut out,
            t,
            (pad + c * (cw + pad)) as i64,
            (pad + r * (ch + pad)) as i64,
        );
    }
    out
}

/// Tiles side by side in one row, each at its own width, top-aligned.
pub fn row(tiles: &[RgbImage], pad: u32) -> RgbImage {
    let w = tiles.iter().map(|t| t.width() + pad).sum::<u32>() + pad;
    let h = tiles.iter().map(|t| t.height()).max().unwrap_or(1) + 2 * pad;
    let mut out = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let mut x = pad;
    for t in tiles {
        image::imageops::replace(&mut out, t, x as i64, pad as i64);
        x += t.width() + pad;
    }
    out
}

/// The picture as PNG bytes.
pub fn png_bytes(img: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("PNG encoding into memory cannot fail");
    out.into_inner()
}

/// Writes the picture as a PNG atomically ([`fovea_io::write_atomic`]), so a failure leaves
/// any older file in place.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    fovea_io::write_atomic(path, &png_bytes(img)).map_err(|e| Error::Write {
        path: path.to_path_buf(),
        msg: fovea_io::reason(&e),
    })
}
