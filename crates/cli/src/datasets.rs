//! The datasets `fovea train` accepts: Fashion-MNIST and MNIST by name, or an image folder
//! (`DIR/train/<class>/*`, `DIR/test/<class>/*`, torchvision's `ImageFolder` layout).

use crate::Res;
use fovea_data::{ImageDataset, ImageFolder, MnistKind, Normalize, Split};
use std::path::Path;

/// A dataset's two splits and the normalisation the run uses.
pub struct Data {
    /// the name recorded in the run
    pub name: String,
    /// the training split
    pub train: ImageDataset,
    /// the test split
    pub test: ImageDataset,
    /// per-channel mean and std
    pub norm: Normalize,
}

/// The MNIST-format dataset called `name`, if it is one.
pub fn mnist_kind(name: &str) -> Option<MnistKind> {
    MnistKind::from_name(name)
}

/// Per-channel mean and std of a dataset's pixels (scaled to 0..1).
pub fn statistics(d: &ImageDataset) -> Res<Normalize> {
    Ok(Normalize::of_dataset(d)?)
}

/// Loads `name` (fashion-mnist, mnist, or an image folder) with both splits. Folder images
/// are decoded to `channels` planes of `size` pixels and normalised with the training
/// split's statistics.
pub fn load(
    name: &str,
    data_dir: Option<&Path>,
    channels: usize,
    size: (usize, usize),
) -> Res<Data> {
    if let Some(kind) = mnist_kind(name) {
        return Ok(Data {
            name: kind.name().into(),
            train: kind.load_official(Split::Train, data_dir)?,
            test: kind.load_official(Split::Test, data_dir)?,
            norm: kind.normalisation(),
        });
    }
    let root = folder_root(name)?;
    let (train, test) = (
        folder_split(root, &["train"])?,
        folder_split(root, &["test", "val"])?,
    );
    if train.classes != test.classes {
        return Err(format!(
            "{}: train/ has classes [{}] but the test folder has [{}]; they must match",
            root.display(),
            train.classes.join(", "),
            test.classes.join(", ")
        )
        .into());
    }
    let train = train.load(channels, size)?;
    let norm = statistics(&train)?;
    Ok(Data {
        name: root.display().to_string(),
        test: test.load(channels, size)?,
        train,
        norm,
    })
}

/// The folder of an image-folder dataset called `name`, or an error naming the known ones.
fn folder_root(name: &str) -> Res<&Path> {
    let root = Path::new(name);
    if !root.is_dir() {
        return Err(format!(
            "unknown dataset `{name}`; use fashion-mnist, mnist, or a folder holding train/ and \
             test/, each with one sub-folder of images per class"
        )
        .into());
    }
    Ok(root)
}

/// The first of `sub` (e.g. `test`, `val`) under `root`, opened as an image folder.
fn folder_split(root: &Path, sub: &[&str]) -> Res<ImageFolder> {
    let dir = sub
        .iter()
        .map(|s| root.join(s))
        .find(|d| d.is_dir())
        .ok_or_else(|| {
            format!(
                "{}: no {} folder; an image-folder dataset holds train/ and test/ (or val/)",
                root.display(),
                sub.join(" or ")
            )
        })?;
    Ok(ImageFolder::open(&dir)?)
}

/// Only the test split of `name` (what evaluating a trained run needs), whose classes must
/// be the run's `classes`.
pub fn load_test(
    name: &str,
    data_dir: Option<&Path>,
    channels: usize,
    size: (usize, usize),
    classes: &[String],
) -> Res<ImageDataset> {
    let test = match mnist_kind(name) {
        Some(kind) => kind.load_official(Split::Test, data_dir)?,
        None => {
            let root = folder_root(name)?;
            let folder = folder_split(root, &["test", "val"])?;
            if folder.classes != classes {
                return Err(format!(
                    "{}: the test folder has classes [{}] but the run was trained on [{}]; they \
                     must match",
                    root.display(),
                    folder.classes.join(", "),
                    classes.join(", ")
                )
                .into());
            }
            folder.load(channels, size)?
        }
    };
    if test.classes.len() != classes.len() {
        return Err(format!(
            "{name}: {} classes but the run was trained on {}; evaluate it on its own dataset",
            test.classes.len(),
            classes.len()
        )
        .into());
    }
    Ok(test)
}
