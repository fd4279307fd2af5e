//! The IDX format of MNIST-style files (`train-images-idx3-ubyte`, gzipped or not): a magic
//! number `00 00 08 <rank>`, `rank` big-endian u32 dimensions, then the unsigned bytes.

use crate::error::{Error, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    /// dimensions, outermost first (`[60000, 28, 28]`)
    pub dims: Vec<usize>,
    /// the values, row-major
    pub data: Vec<u8>,
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads an IDX file of unsigned bytes, decompressing it when it starts with gzip's magic,
/// and checks the magic number, the rank and that the length matches the dimensions.
pub fn read_idx(path: &Path) -> Result<Idx> {
    let raw = std::fs::read(path).map_err(|e| bad(path, format!("cannot read: {e}")))?;
    decode_idx(&raw).map_err(|reason| bad(path, reason))
}

/// [`read_idx`] on bytes in memory (gzipped or not); the error is the reason.
pub fn decode_idx(raw: &[u8]) -> std::result::Result<Idx, String> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(raw).read_to_end(&mut out).map_err(|e| {
            format!("gzip data is corrupt or truncated ({e}); fetch the file again")
        })?;
        parse_idx(&out)
    } else {
        parse_idx(raw)
    }
}

/// Parses IDX bytes; the error is the reason.
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<Idx, String> {
    if bytes.len() < 4 {
        return Err(format!(
            "{} bytes is too short for an IDX header; the file is truncated, fetch it again",
            bytes.len()
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!(
            "magic number {:02x} {:02x} {:02x} {:02x} is not IDX (it starts 00 00); the file is \
             corrupt or of another format, fetch it again",
            bytes[0], bytes[1], bytes[2], bytes[3]
        ));
    }
    if bytes[2] != 0x08 {
        return Err(format!(
            "element type 0x{:02x} is not unsigned bytes (0x08), which MNIST-format files hold; \
             the file is corrupt or of another dataset, fetch it again",
            bytes[2]
        ));
    }
    let rank = bytes[3] as usize;
    if rank == 0 || bytes.len() < 4 + 4 * rank {
        return Err(format!(
            "header of rank {rank} does not fit in {} bytes; the file is truncated or corrupt, \
             fetch it again",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            let b = &bytes[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let have = bytes.len() - 4 - 4 * rank;
    let Some(want) = dims.iter().try_fold(1usize, |a, d| a.checked_mul(*d)) else {
        return Err(format!(
            "dimensions {dims:?} describe more bytes than a file can hold; the header is \
             corrupt, fetch the file again"
        ));
    };
    if have != want {
        return Err(format!(
            "dimensions {dims:?} need {want} bytes of data but the file holds {have}; it is truncated or corrupt, fetch it again"
        ));
    }
    Ok(Idx {
        dims,
        data: bytes[4 + 4 * rank..].to_vec(),
    })
}

/// IDX bytes for `dims` and `data` (for tests and tools).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&(*d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
