//! Property-based fuzzing of the IDX reader: random bytes and mutated valid files (byte
//! flips, truncation, insertion, deletion, header rewrites), raw and gzipped, through
//! `parse_idx`, `read_idx` and a whole MNIST-format folder. Nothing panics; every result is
//! a consistent array or an error naming the file.

use flate2::write::GzEncoder;
use flate2::Compression;
use fovea_data::idx::{encode_idx, parse_idx};
use fovea_data::{read_idx, MnistKind, Split, FILES};
use proptest::prelude::*;
use proptest::test_runner::Config;
use std::io::Write;
use std::path::Path;

fn config() -> Config {
    Config {
        cases: 256,
        max_shrink_time: 5_000,
        failure_persistence: None,
        ..Config::default()
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A valid little IDX file: `n` images of 28x28 (rank 3) or `n` labels (rank 1).
fn valid(images: bool, n: usize) -> Vec<u8> {
    if images {
        let data: Vec<u8> = (0..n * 784).map(|i| (i * 7 % 256) as u8).collect();
        encode_idx(&[n, 28, 28], &data)
    } else {
        let data: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        encode_idx(&[n], &data)
    }
}

/// How a valid file is damaged.
#[derive(Clone, Debug)]
enum Mutation {
    /// xor a byte, mostly in the 16-byte header
    Flip {
        at: usize,
        header: bool,
        byte: u8,
    },
    Truncate(usize),
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Delete {
        at: usize,
        len: usize,
    },
    /// overwrite one header dimension (or the rank byte when `dim` is 0)
    Header {
        dim: usize,
        value: u32,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<bool>(), 1u8..=255)
            .prop_map(|(at, header, byte)| { Mutation::Flip { at, header, byte } }),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (
            0usize..4,
            prop_oneof![
                Just(0u32),
                Just(1),
                Just(27),
                Just(29),
                Just(u32::MAX),
                any::<u32>()
            ]
        )
            .prop_map(|(dim, value)| Mutation::Header { dim, value }),
    ]
}

fn mutate(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let n = bytes.len().max(1);
        match m {
            Mutation::Flip { at, header, byte } => {
                if !bytes.is_empty() {
                    let span = if *header { n.min(16) } else { n };
                    bytes[at % span] ^= byte;
                }
            }
            Mutation::Truncate(at) => bytes.truncate(at % (n + 1)),
            Mutation::Insert { at, bytes: b } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Delete { at, len } => {
                let at = at % n;
                let end = (at + len).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Mutation::Header { dim, value } => {
                if *dim == 0 {
                    if bytes.len() > 3 {
                        bytes[3] = *value as u8;
                    }
                } else {
                    let at = 4 * dim;
                    if bytes.len() >= at + 4 {
                        bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
                    }
                }
            }
        }
    }
    bytes
}

/// A parsed array must be consistent: its data is exactly what its dimensions say.
fn assert_consistent(idx: &fovea_data::Idx) {
    let want = idx.dims.iter().try_fold(1usize, |a, d| a.checked_mul(*d));
    assert_eq!(want, Some(idx.data.len()), "dims {:?}", idx.dims);
}

/// Reads `bytes` written to `dir/name`; an error must name the file.
fn read_as(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    match read_idx(&path) {
        Ok(idx) => assert_consistent(&idx),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&path.display().to_string()) && msg.len() > path.as_os_str().len() + 4,
                "the error should name {} and say why: {msg}",
                path.display()
            );
            assert!(!msg.contains('\n'), "one line: {msg}");
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        match parse_idx(&bytes) {
            Ok(idx) => assert_consistent(&idx),
            Err(why) => prop_assert!(!why.is_empty()),
        }
    }

    #[test]
    fn random_headers_never_panic(
        rank in any::<u8>(),
        dims in proptest::collection::vec(any::<u32>(), 0..6),
        data in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let mut bytes = vec![0, 0, 8, rank];
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend(data);
        match parse_idx(&bytes) {
            Ok(idx) => assert_consistent(&idx),
            Err(why) => prop_assert!(!why.is_empty()),
        }
    }

    #[test]
    fn mutated_files_never_panic(
        images in any::<bool>(),
        n in 0usize..4,
        muts in proptest::collection::vec(mutation(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        read_as(dir.path(), "raw-idx3-ubyte", &mutate(valid(images, n), &muts));
    }

    #[test]
    fn mutated_gzip_never_panics(
        images in any::<bool>(),
        n in 0usize..4,
        muts in proptest::collection::vec(mutation(), 1..4),
        inside in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        // damage the IDX bytes inside a sound gzip stream, or the gzip stream itself
        let bytes = if inside {
            gzip(&mutate(valid(images, n), &muts))
        } else {
            let mut gz = mutate(gzip(&valid(images, n)), &muts);
            // keep gzip's magic so the reader takes the gzip path
            if gz.len() >= 2 {
                gz[..2].copy_from_slice(&[0x1f, 0x8b]);
            }
            gz
        };
        read_as(dir.path(), "file-idx1-ubyte.gz", &bytes);
    }

    #[test]
    fn random_gzip_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = vec![0x1f, 0x8b];
        bytes.extend(body);
        read_as(dir.path(), "junk.gz", &bytes);
    }

    /// A whole dataset folder with one damaged file: a consistent split or an error naming
    /// one of the folder's files.
    #[test]
    fn a_damaged_mnist_folder_never_panics(
        which in 0usize..4,
        gz in any::<bool>(),
        muts in proptest::collection::vec(mutation(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for (i, f) in FILES.iter().enumerate() {
            let mut bytes = valid(i % 2 == 0, 3);
            if i == which {
                bytes = mutate(bytes, &muts);
            }
            match gz {
                true => std::fs::write(dir.path().join(format!("{f}.gz")), gzip(&bytes)).unwrap(),
                false => std::fs::write(dir.path().join(f), bytes).unwrap(),
            }
        }
        let split = if which < 2 { Split::Train } else { Split::Test };
        for official in [false, true] {
            let loaded = if official {
                MnistKind::Digits.load_official(split, Some(dir.path()))
            } else {
                MnistKind::Digits.load(split, Some(dir.path()))
            };
            match loaded {
                Ok(d) => {
                    let (c, h, w) = d.image_shape;
                    prop_assert!(c == 1 && h > 0 && w > 0);
                    prop_assert!(!official || (h, w) == (28, 28));
                    prop_assert!(!d.is_empty());
                    prop_assert_eq!(d.pixels.len(), d.len() * h * w);
                    prop_assert!(d.labels.iter().all(|&l| l < 10));
                }
                Err(e) => {
                    let msg = e.to_string();
                    let names_one = FILES
                        .iter()
                        .any(|f| msg.contains(&dir.path().join(f).display().to_string()));
                    prop_assert!(names_one, "the error should name a file of the folder: {}", msg);
                    prop_assert!(!msg.contains('\n'), "one line: {}", msg);
                }
            }
        }
    }
}

/// The damage the fuzzer reaches, once each, with the words a user needs.
#[test]
fn each_kind_of_bad_idx_file_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "too short for an IDX header"),
        ("magic", vec![0x12, 0x34, 8, 1, 0, 0, 0, 0], "is not IDX"),
        (
            "type",
            vec![0, 0, 0x0d, 1, 0, 0, 0, 0],
            "is not unsigned bytes",
        ),
        ("rank", vec![0, 0, 8, 3, 0, 0, 0, 1], "header of rank 3"),
        (
            "short",
            encode_idx(&[5], &[1, 2]),
            "need 5 bytes of data but the file holds 2",
        ),
        (
            "huge",
            vec![
                0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
            ],
            "more bytes than a file can hold",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let msg = read_idx(&path).unwrap_err().to_string();
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains(want),
            "{name}: {msg}"
        );
    }
    let cut = gzip(&valid(true, 2));
    let path = dir.path().join("cut.gz");
    std::fs::write(&path, &cut[..cut.len() / 2]).unwrap();
    let msg = read_idx(&path).unwrap_err().to_string();
    assert!(
        msg.contains("cut.gz") && msg.contains("gzip data is corrupt or truncated"),
        "{msg}"
    );
}

/// Whole-folder checks: rows and columns other than 28, an empty split, counts that differ,
/// and a label out of range, each naming its file.
#[test]
fn inconsistent_mnist_folders_are_refused_with_the_file() {
    let write = |files: [Vec<u8>; 4]| {
        let dir = tempfile::tempdir().unwrap();
        for (f, b) in FILES.iter().zip(files) {
            std::fs::write(dir.path().join(f), b).unwrap();
        }
        dir
    };
    let good = || {
        [
            valid(true, 3),
            valid(false, 3),
            valid(true, 2),
            valid(false, 2),
        ]
    };
    let cases: Vec<([Vec<u8>; 4], Split, usize, &str)> = vec![
        (
            {
                let mut f = good();
                f[0] = encode_idx(&[3, 14, 56], &vec![0; 3 * 784]);
                f
            },
            Split::Train,
            0,
            "images are 14x56 but mnist images are 28x28",
        ),
        (
            {
                let mut f = good();
                f[2] = encode_idx(&[0, 28, 28], &[]);
                f[3] = encode_idx(&[0], &[]);
                f
            },
            Split::Test,
            2,
            "holds no images",
        ),
        (
            {
                let mut f = good();
                f[1] = valid(false, 2);
                f
            },
            Split::Train,
            1,
            "do not match the 3 images",
        ),
        (
            {
                let mut f = good();
                f[3] = encode_idx(&[2], &[3, 12]);
                f
            },
            Split::Test,
            3,
            "label 12 is not one of the 10 classes",
        ),
    ];
    for (files, split, bad, want) in cases {
        let dir = write(files);
        let msg = MnistKind::Digits
            .load_official(split, Some(dir.path()))
            .unwrap_err()
            .to_string();
        let path = dir.path().join(FILES[bad]);
        assert!(
            msg.starts_with(&path.display().to_string()) && msg.contains(want),
            "{want}: {msg}"
        );
    }
}
