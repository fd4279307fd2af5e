//! Image files, torchvision-style image folders, the augmentations and the loader's
//! reproducibility.

use fovea_data::{
    read_image, resize_bilinear, Augment, DataLoader, Image, ImageDataset, ImageFolder, Normalize,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::Arc;

/// A fresh folder, deleted when the returned guard drops.
fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("fovea-folder-{tag}-"))
        .tempdir()
        .unwrap()
}

/// A 6x4 RGB picture whose red channel encodes x, green y, blue the `tag`.
fn picture(tag: u8) -> image::RgbImage {
    image::RgbImage::from_fn(6, 4, |x, y| image::Rgb([x as u8 * 40, y as u8 * 60, tag]))
}

#[test]
fn an_image_folder_lists_sorted_classes_and_decodes_every_format() {
    let tmp = temp_dir("classes");
    let root = tmp.path().to_path_buf();
    for (class, files) in [("sneaker", ["b.png", "a.bmp"]), ("bag", ["x.jpg", "y.png"])] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for (i, f) in files.iter().enumerate() {
            picture(i as u8 * 100)
                .save(root.join(class).join(f))
                .unwrap();
        }
    }
    std::fs::write(
        root.join("bag").join("notes.txt"),
        "skipped: not an image extension",
    )
    .unwrap();
    let folder = ImageFolder::open(&root).unwrap();
    assert_eq!(folder.classes, ["bag", "sneaker"]);
    let names: Vec<String> = folder
        .samples
        .iter()
        .map(|(p, l)| format!("{l}:{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    assert_eq!(names, ["0:x.jpg", "0:y.png", "1:a.bmp", "1:b.png"]);

    let rgb = folder.load(3, (4, 6)).unwrap();
    assert_eq!(rgb.image_shape, (3, 4, 6));
    assert_eq!(rgb.labels, [0, 0, 1, 1]);
    // b.png (lossless, tag 0): planar RGB, red = 40 x, green = 60 y, blue = 0
    let b = rgb.image(3);
    assert_eq!(b[5], 200, "red at (0, 5)");
    assert_eq!(b[24 + 3 * 6], 180, "green at (3, 0)");
    assert!(b[48..].iter().all(|&v| v == 0), "blue plane");

    let grey = folder.load(1, (8, 12)).unwrap();
    assert_eq!(grey.image_shape, (1, 8, 12));
    assert_eq!(grey.pixels.len(), 4 * 8 * 12);
}

#[test]
fn a_file_that_is_not_an_image_is_refused_with_its_path() {
    let tmp = temp_dir("broken");
    let root = tmp.path().to_path_buf();
    std::fs::create_dir_all(root.join("cat")).unwrap();
    let bad = root.join("cat").join("photo.png");
    std::fs::write(&bad, "this is text, not a PNG").unwrap();
    let folder = ImageFolder::open(&root).unwrap();
    let err = folder.load(1, (28, 28)).unwrap_err().to_string();
    assert!(
        err.contains("photo.png") && err.contains("not an image"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    let err = read_image(&bad, 1, None).unwrap_err().to_string();
    assert!(err.contains("photo.png"), "{err}");
    let err = read_image(&root.join("nope.png"), 1, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nope.png") && err.contains("cannot open"),
        "{err}"
    );
}

#[test]
fn empty_folders_are_refused() {
    let tmp = temp_dir("empty");
    let root = tmp.path().to_path_buf();
    let err = ImageFolder::open(&root).unwrap_err().to_string();
    assert!(err.contains("no class folders"), "{err}");
    std::fs::create_dir_all(root.join("a")).unwrap();
    let err = ImageFolder::open(&root).unwrap_err().to_string();
    assert!(err.contains("hold no images"), "{err}");
}

fn ramp(c: usize, h: usize, w: usize) -> Image {
    Image {
        data: (0..c * h * w).map(|i| i as f32 + 1.0).collect(),
        shape: (c, h, w),
    }
}

#[test]
fn random_crop_without_padding_at_full_size_is_the_identity() {
    let img = ramp(2, 5, 7);
    let crop = Augment::RandomCrop {
        size: (5, 7),
        padding: 0,
    };
    assert_eq!(crop.apply(&img, &mut StdRng::seed_from_u64(3)), img);
}

#[test]
fn random_crop_with_padding_shifts_the_image_and_fills_zeros() {
    let img = ramp(1, 6, 6);
    let crop = Augment::RandomCrop {
        size: (6, 6),
        padding: 2,
    };
    let mut rng = StdRng::seed_from_u64(7);
    let mut shifts = std::collections::HashSet::new();
    for _ in 0..200 {
        let out = crop.apply(&img, &mut rng);
        // Every output pixel is 0 or the input pixel at one common offset (dy, dx).
        let first = out.data.iter().position(|&v| v != 0.0).unwrap();
        let src = out.data[first] as usize - 1;
        let (oy, ox) = (first / 6, first % 6);
        let (sy, sx) = (src / 6, src % 6);
        let (dy, dx) = (sy as isize - oy as isize, sx as isize - ox as isize);
        for y in 0..6isize {
            for x in 0..6isize {
                let v = out.data[(y * 6 + x) as usize];
                let (iy, ix) = (y + dy, x + dx);
                let want = if (0..6).contains(&iy) && (0..6).contains(&ix) {
                    img.data[(iy * 6 + ix) as usize]
                } else {
                    0.0
                };
                assert_eq!(v, want, "shift ({dy}, {dx}) at ({y}, {x})");
            }
        }
        assert!(dy.abs() <= 2 && dx.abs() <= 2);
        shifts.insert((dy, dx));
    }
    assert_eq!(shifts.len(), 25, "all 5x5 placements occur: {shifts:?}");
}

#[test]
fn horizontal_flip_mirrors_rows() {
    let img = ramp(2, 3, 4);
    let always = Augment::RandomHorizontalFlip { p: 1.0 };
    let never = Augment::RandomHorizontalFlip { p: 0.0 };
    let mut rng = StdRng::seed_from_u64(0);
    let flipped = always.apply(&img, &mut rng);
    assert_eq!(&flipped.data[..4], &[4.0, 3.0, 2.0, 1.0]);
    assert_eq!(always.apply(&flipped, &mut rng), img);
    assert_eq!(never.apply(&img, &mut rng), img);
}

#[test]
fn resize_matches_pytorch_bilinear_on_a_ramp() {
    // F.interpolate(arange(4.).view(1,1,1,4), size=(1,8), mode="bilinear",
    // align_corners=False) = [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3]
    let img = Image {
        data: vec![0.0, 1.0, 2.0, 3.0],
        shape: (1, 1, 4),
    };
    let up = resize_bilinear(&img, (1, 8));
    assert_eq!(up.data, [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0]);
    let same = resize_bilinear(&ramp(2, 3, 5), (3, 5));
    assert_eq!(same, ramp(2, 3, 5));
}

#[test]
fn augment_lists_parse_and_refuse_unknown_steps() {
    let steps = Augment::parse_list("crop=4, flip, resize=32", (28, 28)).unwrap();
    assert_eq!(
        steps,
        [
            Augment::RandomCrop {
                size: (28, 28),
                padding: 4
            },
            Augment::RandomHorizontalFlip { p: 0.5 },
            Augment::Resize { size: (32, 32) },
        ]
    );
    assert!(Augment::parse_list("none", (28, 28)).unwrap().is_empty());
    let err = Augment::parse_list("crop,rotate", (28, 28))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rotate") && err.contains("known: crop"),
        "{err}"
    );
}

fn dataset(n: usize) -> Arc<ImageDataset> {
    Arc::new(ImageDataset {
        pixels: (0..n * 36).map(|i| (i * 7 % 251) as u8).collect(),
        labels: (0..n).map(|i| (i % 3) as u8).collect(),
        image_shape: (1, 6, 6),
        classes: vec!["a".into(), "b".into(), "c".into()],
    })
}

#[test]
fn augmented_batches_are_reproducible_and_resumable() {
    let make = || {
        DataLoader::new(dataset(40), 8)
            .unwrap()
            .shuffle(5)
            .transform(Normalize::new(0.5, 0.25).unwrap())
            .augment(Augment::parse_list("crop=2,flip,resize=8", (6, 6)).unwrap())
            .unwrap()
    };
    let (a, b) = (make(), make());
    assert_eq!(a.image_shape(), (1, 8, 8));
    let ea: Vec<Vec<f32>> = a.epoch(3).map(|b| b.images).collect();
    let eb: Vec<Vec<f32>> = b.epoch(3).map(|b| b.images).collect();
    assert_eq!(ea, eb, "same seed, same batches");
    assert_eq!(ea[0].len(), 8 * 64);
    let other: Vec<Vec<f32>> = a.epoch(4).map(|b| b.images).collect();
    assert_ne!(ea, other, "another epoch draws other crops");
    let tail: Vec<Vec<f32>> = a.epoch_from(3, 2).map(|b| b.images).collect();
    assert_eq!(tail, ea[2..], "resuming mid-epoch gives the same batches");
    let err = DataLoader::new(dataset(4), 2)
        .unwrap()
        .augment(vec![Augment::RandomCrop {
            size: (20, 20),
            padding: 1,
        }])
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot crop 20x20 from a 6x6 image"), "{err}");
}
