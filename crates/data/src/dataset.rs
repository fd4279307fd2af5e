//! In-memory image classification datasets, and finding MNIST / Fashion-MNIST on disk.

use crate::error::{Error, Result};
use crate::idx::{read_idx, Idx};
use std::path::{Path, PathBuf};

/// Images as bytes (`N x C x H x W`, 0-255) with class labels and names.
#[derive(Clone, Debug)]
pub struct ImageDataset {
    /// `N * C * H * W` pixel bytes
    pub pixels: Vec<u8>,
    /// one label per image, `< classes.len()`
    pub labels: Vec<u8>,
    /// `(C, H, W)`
    pub image_shape: (usize, usize, usize),
    /// class names, indexed by label
    pub classes: Vec<String>,
}

impl ImageDataset {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image (`C * H * W`).
    pub fn image_len(&self) -> usize {
        let (c, h, w) = self.image_shape;
        c * h * w
    }

    /// The bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The first `n` images (all when there are fewer).
    pub fn take(&self, n: usize) -> ImageDataset {
        let n = n.min(self.len());
        ImageDataset {
            pixels: self.pixels[..n * self.image_len()].to_vec(),
            labels: self.labels[..n].to_vec(),
            image_shape: self.image_shape,
            classes: self.classes.clone(),
        }
    }
}

/// Which MNIST-format dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MnistKind {
    /// Zalando's Fashion-MNIST (10 clothing classes)
    Fashion,
    /// LeCun's handwritten digits
    Digits,
}

/// Which half of the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// 60,000 training images
    Train,
    /// 10,000 test images
    Test,
}

/// Fashion-MNIST's class names, by label.
pub const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

impl MnistKind {
    /// The name used on the command line and in folder names.
    pub fn name(self) -> &'static str {
        match self {
            MnistKind::Fashion => "fashion-mnist",
            MnistKind::Digits => "mnist",
        }
    }

    /// `fashion-mnist` or `mnist`, as `fovea train --dataset` names them.
    pub fn from_name(name: &str) -> Option<MnistKind> {
        match name {
            "fashion-mnist" => Some(MnistKind::Fashion),
            "mnist" => Some(MnistKind::Digits),
            _ => None,
        }
    }

    /// The course's normalisation: Fashion-MNIST's (0.286, 0.353), MNIST's (0.1307, 0.3081).
    pub fn normalisation(self) -> crate::Normalize {
        let (mean, std) = match self {
            MnistKind::Fashion => (crate::FASHION_MEAN, crate::FASHION_STD),
            MnistKind::Digits => (0.1307, 0.3081),
        };
        crate::Normalize::new(mean, std).expect("valid constants")
    }

    /// Class names, by label.
    pub fn classes(self) -> Vec<String> {
        match self {
            MnistKind::Fashion => FASHION_CLASSES.iter().map(|s| s.to_string()).collect(),
            MnistKind::Digits => (0..10).map(|d| d.to_string()).collect(),
        }
    }

    /// Folders searched, in order: `$FOVEA_DATA/<name>`, `$FOVEA_DATA`, `./data/<name>`,
    /// `./data`, and for Fashion-MNIST Debian's `/usr/share/datasets/fashion-mnist`.
    pub fn search_path(self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(d) = std::env::var_os("FOVEA_DATA") {
            let d = PathBuf::from(d);
            dirs.push(d.join(self.name()));
            dirs.push(d);
        }
        dirs.push(PathBuf::from("data").join(self.name()));
        dirs.push(PathBuf::from("data"));
        if self == MnistKind::Fashion {
            dirs.push(PathBuf::from("/usr/share/datasets/fashion-mnist"));
        }
        dirs
    }

    /// The first folder of [`MnistKind::search_path`] holding all four files.
    pub fn find(self) -> Result<PathBuf> {
        let dirs = self.search_path();
        for d in &dirs {
            if FILES.iter().all(|f| file_in(d, f).is_some()) {
                return Ok(d.clone());
            }
        }
        Err(Error::Missing {
            what: format!("{} (the four IDX files)", self.name()),
            searched: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            fix: format!("fovea data fetch {}", self.name()),
        })
    }

    /// Loads one split from `dir`, or from the first folder that holds the files. Images
    /// of any size are accepted (small MNIST-format files serve tests and tools); see
    /// [`MnistKind::load_official`] for the dataset's own 28x28.
    pub fn load(self, split: Split, dir: Option<&Path>) -> Result<ImageDataset> {
        self.load_sized(split, dir, None)
    }

    /// Like [`MnistKind::load`], also refusing images that are not the dataset's 28x28
    /// (a damaged header, or files of another dataset).
    pub fn load_official(self, split: Split, dir: Option<&Path>) -> Result<ImageDataset> {
        self.load_sized(split, dir, Some((28, 28)))
    }

    fn load_sized(
        self,
        split: Split,
        dir: Option<&Path>,
        size: Option<(usize, usize)>,
    ) -> Result<ImageDataset> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => self.find()?,
        };
        let (images, labels) = match split {
            Split::Train => (FILES[0], FILES[1]),
            Split::Test => (FILES[2], FILES[3]),
        };
        let path = |f: &str| {
            file_in(&dir, f).ok_or_else(|| Error::Missing {
                what: format!("{f}[.gz]"),
                searched: dir.display().to_string(),
                fix: format!("fovea data fetch {} --dir {}", self.name(), dir.display()),
            })
        };
        let (ip, lp) = (path(images)?, path(labels)?);
        let (img, lab) = (read_idx(&ip)?, read_idx(&lp)?);
        self.from_idx(img, lab, size)
            .map_err(|(which, reason)| Error::BadFile {
                path: if which == 0 { ip.clone() } else { lp.clone() },
                reason: reason.replace("{images}", &ip.display().to_string()),
            })
    }

    /// A dataset from decoded image and label files (see [`crate::idx::decode_idx`]),
    /// checking their dimensions agree and every label names a class; `size`, when given,
    /// is the image size required. The error says which file is wrong (0 images, 1 labels)
    /// and why, with `{images}` standing for the images file's name.
    pub fn from_idx(
        self,
        img: Idx,
        lab: Idx,
        size: Option<(usize, usize)>,
    ) -> std::result::Result<ImageDataset, (usize, String)> {
        if img.dims.len() != 3 {
            return Err((
                0,
                format!(
                    "images need 3 dimensions [N, H, W], the file has {:?}",
                    img.dims
                ),
            ));
        }
        let (h, w) = (img.dims[1], img.dims[2]);
        if h == 0 || w == 0 || size.is_some_and(|s| s != (h, w)) {
            let (sh, sw) = size.unwrap_or((28, 28));
            return Err((
                0,
                format!(
                    "images are {h}x{w} but {} images are {sh}x{sw}; the file is corrupt or of \
                     another dataset, fetch it again with `fovea data fetch {}`",
                    self.name(),
                    self.name()
                ),
            ));
        }
        if img.dims[0] == 0 {
            return Err((
                0,
                format!(
                    "holds no images; fetch it again with `fovea data fetch {}`",
                    self.name()
                ),
            ));
        }
        if lab.dims.len() != 1 || lab.dims[0] != img.dims[0] {
            return Err((
                1,
                format!(
                    "labels of dimensions {:?} do not match the {} images of {{images}}; the two \
                     files must come from the same download, fetch them again",
                    lab.dims, img.dims[0],
                ),
            ));
        }
        if let Some(bad) = lab.data.iter().find(|&&l| l >= 10) {
            return Err((
                1,
                format!(
                    "label {bad} is not one of the 10 classes (0-9); the file is corrupt, fetch \
                     it again"
                ),
            ));
        }
        Ok(ImageDataset {
            pixels: img.data,
            labels: lab.data,
            image_shape: (1, img.dims[1], img.dims[2]),
            classes: self.classes(),
        })
    }
}

/// The four files, train images / labels then test images / labels.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

fn file_in(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(format!("{name}.gz")), dir.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}
