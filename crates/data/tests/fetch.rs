//! `fetch` against a small HTTP server on 127.0.0.1: verified files land, bad or cut-off
//! downloads are refused without touching what the folder held, mirrors are tried in order.

use fovea_data::fetch::{fetch, sha256_file, sha256_hex, Download, FetchEvent, Resource};
use fovea_data::MnistKind;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

/// What the server answers for a path: a full body, or a Content-Length it does not honour.
#[derive(Clone)]
enum Reply {
    Body(Vec<u8>),
    CutOff(Vec<u8>),
}

/// Serves `routes` on a free port until the test ends; returns the base URL.
fn serve(routes: HashMap<String, Reply>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() <= 2 {
                    break;
                }
            }
            let _ = match routes.get(&path) {
                Some(Reply::Body(b)) => s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| s.write_all(b)),
                Some(Reply::CutOff(b)) => s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len() * 2
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| s.write_all(b)),
                None => s.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    format!("http://127.0.0.1:{port}/")
}

/// A fresh folder, deleted when the returned guard drops.
fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("fovea-fetch-{tag}-"))
        .tempdir()
        .unwrap()
}

fn sha(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn files() -> Vec<(String, Vec<u8>)> {
    vec![
        ("a.gz".into(), b"first file".repeat(1000)),
        ("b.gz".into(), b"second".to_vec()),
    ]
}

fn download(mirrors: Vec<String>) -> Download {
    Download {
        name: "tiny".into(),
        mirrors,
        files: files()
            .iter()
            .map(|(f, b)| Resource {
                file: f.clone(),
                sha256: sha(b),
            })
            .collect(),
    }
}

#[test]
fn sha256_of_a_known_string_in_memory_and_on_disk() {
    // `printf abc | sha256sum`
    let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(sha(b"abc"), want);
    let tmp = temp_dir("sha");
    let p = tmp.path().join("abc");
    std::fs::write(&p, b"abc").unwrap();
    assert_eq!(sha256_file(&p).unwrap(), want);
}

#[test]
fn verified_files_land_and_a_second_fetch_keeps_them() {
    let routes = files()
        .into_iter()
        .map(|(f, b)| (format!("/{f}"), Reply::Body(b)))
        .collect();
    let base = serve(routes);
    let tmp = temp_dir("ok");
    let dir = tmp.path().to_path_buf();
    let mut events = Vec::new();
    let paths = fetch(&download(vec![base.clone()]), &dir, &mut |e| events.push(e)).unwrap();
    assert_eq!(paths.len(), 2);
    for (f, b) in files() {
        assert_eq!(std::fs::read(dir.join(&f)).unwrap(), b);
    }
    assert_eq!(listing(&dir), ["a.gz", "b.gz"], "no temporary files left");
    let bytes: u64 = events
        .iter()
        .filter_map(|e| match e {
            FetchEvent::Bytes(n) => Some(*n),
            _ => None,
        })
        .sum();
    assert_eq!(bytes, 10_006);
    assert!(events.contains(&FetchEvent::Done {
        file: "a.gz".into()
    }));

    let mut again = Vec::new();
    fetch(&download(vec![base]), &dir, &mut |e| again.push(e)).unwrap();
    assert_eq!(
        again,
        [
            FetchEvent::Present {
                file: "a.gz".into()
            },
            FetchEvent::Present {
                file: "b.gz".into()
            }
        ]
    );
}

#[test]
fn a_missing_mirror_falls_through_to_the_next() {
    let routes = files()
        .into_iter()
        .map(|(f, b)| (format!("/mirror2/{f}"), Reply::Body(b)))
        .collect();
    let base = serve(routes);
    let tmp = temp_dir("mirrors");
    let dir = tmp.path().to_path_buf();
    let d = download(vec![format!("{base}mirror1/"), format!("{base}mirror2/")]);
    fetch(&d, &dir, &mut |_| {}).unwrap();
    assert_eq!(listing(&dir), ["a.gz", "b.gz"]);
}

#[test]
fn a_tampered_file_is_refused_and_the_old_one_kept() {
    let mut routes: HashMap<String, Reply> = files()
        .into_iter()
        .map(|(f, b)| (format!("/{f}"), Reply::Body(b)))
        .collect();
    routes.insert("/b.gz".into(), Reply::Body(b"evil".to_vec()));
    let base = serve(routes);
    let tmp = temp_dir("tampered");
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("b.gz"), b"what the user had").unwrap();
    let err = fetch(&download(vec![base]), &dir, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("b.gz") && err.contains("does not match the published"),
        "{err}"
    );
    assert!(!err.contains('\n'), "one line: {err}");
    assert_eq!(
        std::fs::read(dir.join("b.gz")).unwrap(),
        b"what the user had"
    );
    assert_eq!(listing(&dir), ["a.gz", "b.gz"], "no temporary files left");
}

#[test]
fn a_cut_off_download_is_refused() {
    let routes = files()
        .into_iter()
        .map(|(f, b)| (format!("/{f}"), Reply::CutOff(b)))
        .collect();
    let base = serve(routes);
    let tmp = temp_dir("cut");
    let dir = tmp.path().to_path_buf();
    let err = fetch(&download(vec![base]), &dir, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("a.gz"), "{err}");
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
}

#[test]
fn the_official_manifests_pin_every_file() {
    for kind in [MnistKind::Fashion, MnistKind::Digits] {
        let d = kind.download();
        assert_eq!(d.files.len(), 4);
        assert!(d.mirrors.len() >= 2);
        for f in &d.files {
            assert!(f.file.ends_with("-ubyte.gz"));
            assert_eq!(f.sha256.len(), 64);
            assert!(f.sha256.chars().all(|c| c.is_ascii_hexdigit()));
        }
    }
    // A local server that serves the right names with the wrong bytes is refused against
    // the published checksums.
    let mut d = MnistKind::Fashion.download();
    let routes = d
        .files
        .iter()
        .map(|f| {
            (
                format!("/{}", f.file),
                Reply::Body(b"not the dataset".to_vec()),
            )
        })
        .collect();
    d.mirrors = vec![serve(routes)];
    let tmp = temp_dir("official");
    let dir = tmp.path().to_path_buf();
    let err = fetch(&d, &dir, &mut |_| {}).unwrap_err().to_string();
    assert!(
        err.contains("train-images-idx3-ubyte.gz") && err.contains("3aede38d"),
        "{err}"
    );
    assert!(listing(&dir).is_empty());
}
