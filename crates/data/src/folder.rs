//! Image files: reading one (any format the `image` crate reads) and torchvision's
//! `ImageFolder` layout, one sub-folder per class.

use crate::dataset::ImageDataset;
use crate::error::{Error, Result};
use image::imageops::FilterType;
use std::path::{Path, PathBuf};

/// File extensions treated as images (torchvision's list, for the formats compiled in).
pub const IMAGE_EXTENSIONS: [&str; 12] = [
    "png", "jpg", "jpeg", "bmp", "gif", "pgm", "ppm", "pbm", "pnm", "tif", "tiff", "webp",
];

/// Whether `path` has one of [`IMAGE_EXTENSIONS`] (any case).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Reads an image file as `channels` (1: luma, 3: RGB) planes of bytes, resized to `size`
/// (height, width) with a triangle (bilinear, antialiased) filter when given.
/// Returns the `C * H * W` bytes and `(C, H, W)`.
pub fn read_image(
    path: &Path,
    channels: usize,
    size: Option<(usize, usize)>,
) -> Result<(Vec<u8>, (usize, usize, usize))> {
    let bad = |reason: String| Error::BadFile {
        path: path.to_path_buf(),
        reason,
    };
    let raw = std::fs::read(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    decode_image(&raw, channels, size).map_err(bad)
}

/// An image's `C * H * W` bytes and `(C, H, W)`.
pub type DecodedImage = (Vec<u8>, (usize, usize, usize));

/// [`read_image`] on the bytes of an encoded image (an upload in the browser); the error is
/// the reason.
pub fn decode_image(
    raw: &[u8],
    channels: usize,
    size: Option<(usize, usize)>,
) -> std::result::Result<DecodedImage, String> {
    let img = image::ImageReader::new(std::io::Cursor::new(raw))
        .with_guessed_format()
        .map_err(|e| format!("cannot read: {e}"))?
        .decode()
        .map_err(|e| {
            format!("not an image Fovea can read ({e}); use PNG, JPEG, BMP, GIF, PNM, TIFF or WebP")
        })?;
    let img = match size {
        Some((h, w)) if (h, w) != (img.height() as usize, img.width() as usize) => {
            img.resize_exact(w as u32, h as u32, FilterType::Triangle)
        }
        _ => img,
    };
    let (w, h) = (img.width() as usize, img.height() as usize);
    let plane = h * w;
    let bytes = match channels {
        1 => img.to_luma8().into_raw(),
        3 => {
            let rgb = img.to_rgb8().into_raw();
            let mut planar = vec![0u8; 3 * plane];
            for (i, px) in rgb.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    planar[c * plane + i] = px[c];
                }
            }
            planar
        }
        other => return Err(format!("{other} channels; use 1 (grey) or 3 (RGB)")),
    };
    Ok((bytes, (channels, h, w)))
}

/// torchvision's `ImageFolder`: `root/<class>/<image>`, classes sorted by name, files sorted
/// within each class; files without an image extension are skipped, as torchvision does.
#[derive(Clone, Debug)]
pub struct ImageFolder {
    /// the folder
    pub root: PathBuf,
    /// class names (sub-folder names), by label
    pub classes: Vec<String>,
    /// every image file and its label
    pub samples: Vec<(PathBuf, u8)>,
}

impl ImageFolder {
    /// Lists `root`'s classes and images; refuses a folder with no class folders or no
    /// images, and more than 256 classes.
    pub fn open(root: &Path) -> Result<ImageFolder> {
        let bad = |reason: String| Error::BadFile {
            path: root.to_path_buf(),
            reason,
        };
        let listing = |dir: &Path| -> Result<Vec<PathBuf>> {
            let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| bad(format!("cannot list {}: {e}", dir.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            v.sort();
            Ok(v)
        };
        let class_dirs: Vec<PathBuf> = listing(root)?.into_iter().filter(|p| p.is_dir()).collect();
        if class_dirs.is_empty() {
            return Err(bad(
                "no class folders; an image folder holds one sub-folder of images per class".into(),
            ));
        }
        if class_dirs.len() > 256 {
            return Err(bad(format!(
                "{} class folders; at most 256 are supported",
                class_dirs.len()
            )));
        }
        let mut classes = Vec::new();
        let mut samples = Vec::new();
        for (label, dir) in class_dirs.iter().enumerate() {
            classes.push(
                dir.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
            for f in listing(dir)? {
                if f.is_file() && has_image_extension(&f) {
                    samples.push((f, label as u8));
                }
            }
        }
        if samples.is_empty() {
            return Err(bad(format!(
                "the class folders ({}) hold no images (extensions: {})",
                classes.join(", "),
                IMAGE_EXTENSIONS.join(", ")
            )));
        }
        Ok(ImageFolder {
            root: root.to_path_buf(),
            classes,
            samples,
        })
    }

    /// Decodes every image as `channels` planes resized to `size` (height, width) into an
    /// in-memory dataset; a file that does not decode is refused with its path.
    pub fn load(&self, channels: usize, size: (usize, usize)) -> Result<ImageDataset> {
        let mut pixels = Vec::with_capacity(self.samples.len() * channels * size.0 * size.1);
        for (path, _) in &self.samples {
            let (bytes, _) = read_image(path, channels, Some(size))?;
            pixels.extend_from_slice(&bytes);
        }
        Ok(ImageDataset {
            pixels,
            labels: self.samples.iter().map(|(_, l)| *l).collect(),
            image_shape: (channels, size.0, size.1),
            classes: self.classes.clone(),
        })
    }
}
