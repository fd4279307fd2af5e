//! IDX files and the loader: the real Fashion-MNIST (which must be installed), and small files written
//! here for every way a file can be wrong.

use fovea_data::idx::{encode_idx, parse_idx};
use fovea_data::{read_idx, DataLoader, Error, ImageDataset, MnistKind, Normalize, Split};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// A fresh folder, deleted when the returned guard drops.
fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("fovea-data-{name}-"))
        .tempdir()
        .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A tiny MNIST-format dataset: `n` 4x4 images whose pixels equal their label * 20.
fn tiny_dataset(dir: &Path, n: usize, zipped: bool) {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let pixels: Vec<u8> = labels.iter().flat_map(|l| [l * 20; 16]).collect();
    let write = |name: &str, bytes: Vec<u8>| {
        let (name, bytes) = if zipped {
            (format!("{name}.gz"), gzip(&bytes))
        } else {
            (name.to_string(), bytes)
        };
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    for (img, lab) in [
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    ] {
        write(img, encode_idx(&[n, 4, 4], &pixels));
        write(lab, encode_idx(&[n], &labels));
    }
}

#[test]
fn real_fashion_mnist_loads() {
    let dir = MnistKind::Fashion.find().unwrap_or_else(|e| {
        panic!(
            "Fashion-MNIST is needed by this test and was not found ({e}); install it with \
             `apt-get install dataset-fashion-mnist` or `fovea data fetch fashion-mnist`"
        )
    });
    let test = MnistKind::Fashion.load(Split::Test, Some(&dir)).unwrap();
    assert_eq!((test.len(), test.image_shape), (10_000, (1, 28, 28)));
    assert_eq!(test.classes[9], "Ankle boot");
    let counts = test.labels.iter().fold([0; 10], |mut c, &l| {
        c[l as usize] += 1;
        c
    });
    assert_eq!(counts, [1000; 10], "Fashion-MNIST's test set is balanced");
    let mean =
        test.pixels.iter().map(|&p| p as f64).sum::<f64>() / test.pixels.len() as f64 / 255.0;
    assert!((mean - 0.286).abs() < 0.01, "mean pixel {mean}");
}

#[test]
fn gzipped_and_plain_files_read_the_same() {
    for zipped in [false, true] {
        let tmp = scratch(if zipped { "gz" } else { "plain" });
        let dir = tmp.path().to_path_buf();
        tiny_dataset(&dir, 25, zipped);
        let d = MnistKind::Digits.load(Split::Train, Some(&dir)).unwrap();
        assert_eq!((d.len(), d.image_shape), (25, (1, 4, 4)));
        assert_eq!(d.image(13), &[60; 16]);
        assert_eq!(d.labels[13], 3);
    }
}

#[test]
fn bad_files_are_refused_with_path_and_reason() {
    let tmp = scratch("bad");
    let dir = tmp.path().to_path_buf();
    tiny_dataset(&dir, 10, false);
    let img = dir.join("train-images-idx3-ubyte");
    let good = std::fs::read(&img).unwrap();

    std::fs::write(&img, &good[..good.len() - 5]).unwrap();
    let msg = MnistKind::Digits
        .load(Split::Train, Some(&dir))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("train-images-idx3-ubyte")
            && msg.contains("need 160 bytes of data but the file holds 155"),
        "{msg}"
    );

    let mut magic = good.clone();
    magic[2] = 0x0d;
    std::fs::write(&img, &magic).unwrap();
    let msg = read_idx(&img).unwrap_err().to_string();
    assert!(msg.contains("element type 0x0d"), "{msg}");

    std::fs::write(&img, b"\x89PNG\r\n\x1a\n....").unwrap();
    let msg = read_idx(&img).unwrap_err().to_string();
    assert!(msg.contains("is not IDX"), "{msg}");

    let gz = dir.join("cut.gz");
    let zipped = gzip(&good);
    std::fs::write(&gz, &zipped[..zipped.len() / 2]).unwrap();
    let msg = read_idx(&gz).unwrap_err().to_string();
    assert!(msg.contains("cut.gz") && msg.contains("gzip"), "{msg}");

    std::fs::write(&img, &good).unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        encode_idx(&[10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 12]),
    )
    .unwrap();
    let msg = MnistKind::Digits
        .load(Split::Train, Some(&dir))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("label 12"), "{msg}");
    assert!(parse_idx(&encode_idx(&[2, 2], &[1, 2, 3, 4])).is_ok());
}

#[test]
fn a_missing_dataset_names_the_fetch_command() {
    let tmp = scratch("empty");
    let empty = tmp.path().to_path_buf();
    let err = MnistKind::Digits
        .load(Split::Test, Some(&empty))
        .unwrap_err();
    assert!(matches!(err, Error::Missing { .. }));
    let msg = err.to_string();
    assert!(msg.contains("fovea data fetch mnist --dir"), "{msg}");
}

#[test]
fn the_loader_batches_shuffles_and_normalises() {
    let tmp = scratch("loader");
    let dir = tmp.path().to_path_buf();
    tiny_dataset(&dir, 10, false);
    let d: Arc<ImageDataset> = Arc::new(MnistKind::Digits.load(Split::Train, Some(&dir)).unwrap());
    let msg = DataLoader::new(d.clone(), 0).unwrap_err().to_string();
    assert!(
        msg.contains("batch size") && msg.contains("at least 1"),
        "{msg}"
    );

    let plain = DataLoader::new(d.clone(), 4).unwrap();
    let sizes: Vec<usize> = plain.epoch(0).map(|b| b.shape[0]).collect();
    assert_eq!(sizes, [4, 4, 2]);
    let dropped = DataLoader::new(d.clone(), 4).unwrap().drop_last(true);
    assert_eq!(dropped.epoch(0).count(), 2);

    let shuffled = DataLoader::new(d.clone(), 10).unwrap().shuffle(7);
    let a: Vec<f32> = shuffled.epoch(0).next().unwrap().labels;
    let b: Vec<f32> = shuffled.epoch(0).next().unwrap().labels;
    let c: Vec<f32> = shuffled.epoch(1).next().unwrap().labels;
    assert_eq!(a, b, "the same seed and epoch give the same order");
    assert_ne!(a, c, "each epoch reshuffles");
    let mut sorted = a.clone();
    sorted.sort_by(f32::total_cmp);
    assert_eq!(sorted, (0..10).map(|v| v as f32).collect::<Vec<_>>());

    let norm = DataLoader::new(d, 10)
        .unwrap()
        .transform(Normalize::new(0.5, 0.25).unwrap());
    let batch = norm.epoch(0).next().unwrap();
    // image 3's pixels are 60: (60 / 255 - 0.5) / 0.25
    let want = (60.0 / 255.0 - 0.5) / 0.25;
    assert!((batch.images[3 * 16] - want).abs() < 1e-6);
    assert!(Normalize::new(0.5, 0.0).is_err());
}
