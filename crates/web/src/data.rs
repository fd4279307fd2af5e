//! Datasets from bytes the page fetched or the user dropped: MNIST-format IDX files
//! (gzipped or not) and encoded images (PNG, JPEG, ...) with class names.

use crate::Result;
use fovea_data::{decode_idx, decode_image, ImageDataset, MnistKind, Normalize};

/// Images with labels, the dataset's name and the normalisation training uses.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// `fashion-mnist`, `mnist` or `images`
    pub name: String,
    /// pixels, labels, shape and class names
    pub images: ImageDataset,
    /// the normalisation a model trained on it uses (the course's for MNIST-format data,
    /// the pixels' own statistics for images)
    pub norm: Normalize,
}

impl Dataset {
    /// One split of `fashion-mnist` or `mnist` from its images and labels IDX files,
    /// checked as `fovea train` checks the files on disk.
    pub fn from_idx(kind: &str, images: &[u8], labels: &[u8]) -> Result<Dataset> {
        let k = MnistKind::from_name(kind).ok_or_else(|| {
            format!("dataset `{kind}` is not fashion-mnist or mnist; IDX files hold one of those")
        })?;
        let img = decode_idx(images).map_err(|e| format!("the images IDX file: {e}"))?;
        let lab = decode_idx(labels).map_err(|e| format!("the labels IDX file: {e}"))?;
        let images = k.from_idx(img, lab, Some((28, 28))).map_err(|(which, e)| {
            let file = ["images", "labels"][which];
            format!(
                "the {file} IDX file: {}",
                e.replace("{images}", "the images file")
            )
        })?;
        Ok(Dataset {
            name: k.name().into(),
            images,
            norm: k.normalisation(),
        })
    }

    /// A dataset from encoded images, each with its class name; classes are sorted by name
    /// (torchvision's `ImageFolder` order) and images are decoded to `channels` planes of
    /// `size` (height, width) pixels. `norm` is the normalisation to use (a test split
    /// takes its training split's); `None` computes it from these pixels.
    pub fn from_images(
        files: &[(String, Vec<u8>)],
        channels: usize,
        size: (usize, usize),
        norm: Option<Normalize>,
    ) -> Result<Dataset> {
        if files.is_empty() {
            return Err("no images given; pass at least one (class, bytes) pair".into());
        }
        let mut classes: Vec<String> = files.iter().map(|(c, _)| c.clone()).collect();
        classes.sort();
        classes.dedup();
        if classes.len() > 256 {
            return Err(format!(
                "{} classes; a dataset has at most 256",
                classes.len()
            ));
        }
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        for (i, (class, bytes)) in files.iter().enumerate() {
            let (px, _) = decode_image(bytes, channels, Some(size))
                .map_err(|e| format!("image {i} (class {class}): {e}"))?;
            pixels.extend(px);
            labels.push(classes.binary_search(class).expect("listed") as u8);
        }
        let images = ImageDataset {
            pixels,
            labels,
            image_shape: (channels, size.0, size.1),
            classes,
        };
        let norm = match norm {
            Some(n) => n,
            None => Normalize::of_dataset(&images).map_err(crate::err)?,
        };
        Ok(Dataset {
            name: "images".into(),
            images,
            norm,
        })
    }

    /// The first `n` images (all when there are fewer).
    pub fn take(&self, n: usize) -> Dataset {
        self.slice(0, n)
    }

    /// Images `start..end` (clamped to the dataset).
    pub fn slice(&self, start: usize, end: usize) -> Dataset {
        let d = &self.images;
        let end = end.min(d.len());
        let start = start.min(end);
        let per = d.image_len();
        Dataset {
            images: ImageDataset {
                pixels: d.pixels[start * per..end * per].to_vec(),
                labels: d.labels[start..end].to_vec(),
                image_shape: d.image_shape,
                classes: d.classes.clone(),
            },
            name: self.name.clone(),
            norm: self.norm.clone(),
        }
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Image `i` normalised as training sees it (`C * H * W` values).
    pub fn normalized(&self, i: usize) -> Vec<f32> {
        let (c, _, _) = self.images.image_shape;
        let raw = self.images.image(i);
        let mut out = vec![0.0; raw.len()];
        self.norm.apply(raw, c, &mut out);
        out
    }
}
