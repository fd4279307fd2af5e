//! `fovea data fetch`: downloads a dataset's files over HTTP(S), checks each against its
//! published SHA-256, and moves it into place only once it is verified, so a failed or
//! tampered download never replaces what the user had.

use crate::dataset::{MnistKind, FILES};
use crate::error::{Error, Result};
use fovea_io::AtomicFile;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One file of a download and its SHA-256 (lower-case hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// file name, appended to a mirror's base URL
    pub file: String,
    /// expected SHA-256 of the bytes served
    pub sha256: String,
}

/// What to download: base URLs tried in order, and the files with their checksums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Download {
    /// the dataset's name, for messages
    pub name: String,
    /// base URLs ending in `/`
    pub mirrors: Vec<String>,
    /// files to fetch
    pub files: Vec<Resource>,
}

/// What a fetch reports as it goes, for progress bars.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchEvent {
    /// a download starts; `total` is the Content-Length when the server sends one
    Start {
        /// the file
        file: String,
        /// the URL
        url: String,
        /// bytes expected
        total: Option<u64>,
    },
    /// bytes arrived
    Bytes(u64),
    /// the file is verified and in place
    Done {
        /// the file
        file: String,
    },
    /// the file was already there with the right checksum
    Present {
        /// the file
        file: String,
    },
}

fn resources(pairs: [(&str, &str); 4]) -> Vec<Resource> {
    pairs
        .iter()
        .map(|(file, sha256)| Resource {
            file: file.to_string(),
            sha256: sha256.to_string(),
        })
        .collect()
}

impl MnistKind {
    /// The official files (gzipped IDX), their SHA-256 and the mirrors that serve them:
    /// Zalando's for Fashion-MNIST, the ones torchvision uses for MNIST.
    pub fn download(self) -> Download {
        let gz = |i: usize| format!("{}.gz", FILES[i]);
        let (mirrors, sums) = match self {
            MnistKind::Fashion => (
                vec![
                    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
                ],
                [
                    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                ],
            ),
            MnistKind::Digits => (
                vec![
                    "https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "https://storage.googleapis.com/cvdf-datasets/mnist/",
                ],
                [
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                ],
            ),
        };
        let (g0, g1, g2, g3) = (gz(0), gz(1), gz(2), gz(3));
        Download {
            name: self.name().to_string(),
            mirrors: mirrors.into_iter().map(String::from).collect(),
            files: resources([
                (&g0, sums[0]),
                (&g1, sums[1]),
                (&g2, sums[2]),
                (&g3, sums[3]),
            ]),
        }
    }

    /// Where `fovea data fetch` puts the files by default: `$FOVEA_DATA/<name>`, else
    /// `./data/<name>` (both on [`MnistKind::search_path`]).
    pub fn default_fetch_dir(self) -> PathBuf {
        std::env::var_os("FOVEA_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("data"))
            .join(self.name())
    }
}

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Lower-case hex SHA-256 of bytes in memory.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads `url` into `out`, returning the SHA-256 of what arrived.
fn download_to(
    agent: &ureq::Agent,
    url: &str,
    file: &str,
    out: &mut AtomicFile,
    report: &mut dyn FnMut(FetchEvent),
) -> std::result::Result<String, String> {
    let resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let body = resp.into_body();
    report(FetchEvent::Start {
        file: file.to_string(),
        url: url.to_string(),
        total: body.content_length(),
    });
    let mut reader = body.into_reader();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("download cut off: {e}"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| e.to_string())?;
        report(FetchEvent::Bytes(n as u64));
    }
    Ok(hex(&h.finalize()))
}

/// Fetches every file of `d` into `dir` (created if missing), trying the mirrors in order.
///
/// A file already in `dir` with the right checksum is kept. Each download goes to a
/// temporary file beside its target and is renamed into place only after its SHA-256
/// matches, so on any failure the folder holds what it held before.
pub fn fetch(d: &Download, dir: &Path, report: &mut dyn FnMut(FetchEvent)) -> Result<Vec<PathBuf>> {
    let fail = |reason: String| Error::Download {
        what: d.name.clone(),
        reason,
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut paths = Vec::new();
    for r in &d.files {
        let target = dir.join(&r.file);
        if target.is_file() && sha256_file(&target).is_ok_and(|s| s == r.sha256) {
            report(FetchEvent::Present {
                file: r.file.clone(),
            });
            paths.push(target);
            continue;
        }
        let mut tried = Vec::new();
        let mut verified = None;
        for base in &d.mirrors {
            let url = format!("{base}{}", r.file);
            // A fresh temporary file per mirror; one that is dropped is deleted.
            let mut tmp = AtomicFile::create(&target).map_err(|e| fail(e.to_string()))?;
            match download_to(&agent, &url, &r.file, &mut tmp, report) {
                Ok(sum) if sum == r.sha256 => {
                    verified = Some(tmp);
                    break;
                }
                Ok(sum) => tried.push(format!(
                    "{url}: SHA-256 {sum} does not match the published {}",
                    r.sha256
                )),
                Err(e) => tried.push(format!("{url}: {e}")),
            }
        }
        let Some(tmp) = verified else {
            return Err(fail(format!(
                "no mirror gave a verified {} ({}); {} was left as it was",
                r.file,
                tried.join("; "),
                target.display()
            )));
        };
        tmp.persist().map_err(|e| fail(e.to_string()))?;
        report(FetchEvent::Done {
            file: r.file.clone(),
        });
        paths.push(target);
    }
    Ok(paths)
}
