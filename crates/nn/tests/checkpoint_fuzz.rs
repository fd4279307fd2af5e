//! Property-based fuzzing of the safetensors checkpoint reader and loader: random bytes,
//! random headers and mutated real checkpoints (byte flips, truncation, insertion,
//! deletion, rewritten header fields) through `read_safetensors` and a strict load into a
//! small module on the CPU backend. Nothing panics; a read gives tensors whose values match
//! their shapes, and every error is one line naming the file. A refused load leaves the
//! module as it was.

use fovea_nn::{read_safetensors, BatchNorm2d, Conv2d, Linear, Module, ModuleExt, Sequential};
use proptest::prelude::*;
use proptest::test_runner::Config;
use std::path::Path;

fn config() -> Config {
    Config {
        cases: 256,
        max_shrink_time: 5_000,
        failure_persistence: None,
        ..Config::default()
    }
}

/// A small module with weights, biases and BatchNorm buffers (an I64 in the file).
fn module() -> Sequential {
    Sequential::new()
        .add(Conv2d::new(1, 2, 3))
        .add(BatchNorm2d::new(2))
        .add(Linear::new(4, 3))
}

fn values(m: &dyn Module) -> Vec<(String, Vec<f32>)> {
    m.state_dict()
        .into_iter()
        .map(|(n, t)| (n, t.to_vec().unwrap()))
        .collect()
}

/// The module's checkpoint, as `save_safetensors` writes it.
fn valid_bytes() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    module().save_safetensors(&path).unwrap();
    std::fs::read(path).unwrap()
}

/// The header's length (from its first 8 bytes).
fn header_len(bytes: &[u8]) -> usize {
    bytes
        .get(..8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
}

/// Header words that are valid somewhere, to swap in for others.
const WORDS: &[&str] = &[
    "F32",
    "F16",
    "BF16",
    "F64",
    "I64",
    "I32",
    "U8",
    "BOOL",
    "F8_E4M3",
    "\"dtype\"",
    "\"shape\"",
    "\"data_offsets\"",
    "0",
    "1",
    "3",
    "4294967296",
    "18446744073709551615",
    "-1",
    "1.5",
    "[]",
    "[0,0]",
    "null",
    "{}",
    "\"0.weight\"",
    "\"__metadata__\"",
    ",",
    ":",
    "]",
    "}",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// xor a byte, in the header when `header`
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
    /// replace a run of the header's characters by a word, keeping the length prefix honest
    Word {
        at: usize,
        len: usize,
        word: &'static str,
    },
    /// rewrite the 8-byte header length
    Length(u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<usize>(), any::<bool>(), 1u8..=255)
            .prop_map(|(at, header, byte)| Mutation::Flip { at, header, byte }),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        3 => (any::<usize>(), 0usize..6, proptest::sample::select(WORDS))
            .prop_map(|(at, len, word)| Mutation::Word { at, len, word }),
        1 => prop_oneof![Just(0u64), Just(1), Just(7), Just(u64::MAX), any::<u64>(), 0u64..600]
            .prop_map(Mutation::Length),
    ]
}

fn mutate(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let n = bytes.len().max(1);
        match m {
            Mutation::Flip { at, header, byte } => {
                if !bytes.is_empty() {
                    let span = if *header {
                        header_len(&bytes).saturating_add(8).clamp(1, n)
                    } else {
                        n
                    };
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
            Mutation::Word { at, len, word } => {
                let h = header_len(&bytes);
                if h > 0 && bytes.len().saturating_sub(8) >= h {
                    let start = 8 + at % h;
                    let end = (start + len).min(8 + h);
                    bytes.splice(start..end, word.bytes());
                    let new_h = (h + word.len() - (end - start)) as u64;
                    bytes[..8].copy_from_slice(&new_h.to_le_bytes());
                }
            }
            Mutation::Length(v) => {
                if bytes.len() >= 8 {
                    bytes[..8].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    bytes
}

/// A clear error: one line naming the file, with a reason after it.
fn assert_names(path: &Path, e: &fovea_nn::Error) {
    let msg = e.to_string();
    let shown = path.display().to_string();
    assert!(
        msg.contains(&shown) && msg.len() > shown.len() + "checkpoint : ".len(),
        "the error should name {shown} and say why: {msg}"
    );
    assert!(!msg.contains('\n'), "one line: {msg}");
}

/// Reads and loads `bytes` as a checkpoint file: tensors consistent with their shapes, or
/// an error naming the file; a refused load changes nothing.
fn exercise(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.safetensors");
    std::fs::write(&path, bytes).unwrap();
    match read_safetensors(&path) {
        Ok(tensors) => {
            for t in &tensors {
                let n = t.shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d));
                assert_eq!(n, Some(t.data.len()), "{}: {:?}", t.name, t.shape);
            }
        }
        Err(e) => assert_names(&path, &e),
    }
    let m = module();
    m.to_device(&fovea_device::Device::cpu()).unwrap();
    let before = values(&m);
    match m.load_safetensors(&path) {
        Ok(_) => {}
        Err(e) => {
            assert_names(&path, &e);
            assert_eq!(values(&m), before, "a refused load changed the module");
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        exercise(&bytes);
    }

    #[test]
    fn random_headers_never_panic(
        header in "\\{[\"a-zA-Z0-9_.:,\\[\\]{} -]{0,120}\\}",
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.bytes());
        bytes.extend(data);
        exercise(&bytes);
    }

    #[test]
    fn mutated_checkpoints_never_panic(muts in proptest::collection::vec(mutation(), 1..4)) {
        exercise(&mutate(valid_bytes(), &muts));
    }
}

/// A valid checkpoint loads, so the mutations start from one that works.
#[test]
fn the_seed_checkpoint_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.safetensors");
    std::fs::write(&path, valid_bytes()).unwrap();
    module().load_safetensors(&path).unwrap();
}

/// A header whose shape product overflows is refused (it panicked in the diagnosis).
#[test]
fn a_shape_too_large_to_count_is_refused() {
    let header =
        r#"{"0.bias":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.bytes());
    bytes.extend([0u8; 8]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    let e = read_safetensors(&path).unwrap_err();
    assert_names(&path, &e);
    assert!(e.to_string().contains("0.bias"), "{e}");
}
