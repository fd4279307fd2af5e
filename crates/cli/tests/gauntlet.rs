//! The bad-input gauntlet: the real `fovea` binary, on the CPU backend and tiny data it
//! writes itself, fed every malformed input a user can give it: truncated and corrupt
//! checkpoints and a checkpoint of another architecture, files that are not images, arch
//! specs with an error at each kind of token, broken IDX files, run folders without a
//! readable `run.json`, and outputs that cannot be written.
//!
//! Each refusal must be exactly one line on stderr, starting `fovea: `, naming the file or
//! setting (and, where checked, the fix), with exit code 1 (no panic, no abort), and leave
//! every file and folder under the test's folder as it was (hashed before and after).
//! Inputs Fovea accepts on purpose (an RGB or RGBA picture for a grey net, any picture size)
//! are checked to work.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------
// Running the binary and checking a refusal

/// Runs `fovea args` with `root` as the working folder (so a stray relative write lands
/// where the snapshot sees it).
fn fovea(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(args)
        .current_dir(root)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .env("RUST_BACKTRACE", "0")
        .env_remove("FOVEA_DATA")
        .output()
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file (by SHA-256) and folder under `root`, by path relative to it.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                out.insert(rel, "folder".into());
                walk(root, &path, out);
            } else {
                out.insert(rel, hex(&Sha256::digest(std::fs::read(&path).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Runs `args`, which must be refused cleanly: exit code 1, no panic, exactly one line on
/// stderr that starts `fovea: ` and holds each of `want`, and every file under `root` as
/// it was. Returns the line.
#[track_caller]
fn refuse(root: &Path, args: &[&str], want: &[&str]) -> String {
    let before = snapshot(root);
    let out = fovea(root, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let all = String::from_utf8_lossy(&out.stdout).into_owned() + &err;
    assert!(
        !all.contains("panicked") && !all.contains("RUST_BACKTRACE"),
        "{args:?} panicked:\n{all}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should fail with exit code 1:\n{all}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("fovea: "),
        "{args:?}: exactly one line `fovea: ...` on stderr, got:\n{err}"
    );
    let line = lines[0];
    for w in want {
        assert!(
            line.contains(w),
            "{args:?}: the error should say `{w}`:\n{line}"
        );
    }
    let after = snapshot(root);
    let changed: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.is_empty(),
        "{args:?} changed, added or removed {changed:?}"
    );
    line.to_string()
}

/// Runs `args`, which must succeed; returns stdout and stderr.
#[track_caller]
fn accept(root: &Path, args: &[&str]) -> String {
    let out = fovea(root, args);
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} should work:\n{all}");
    all
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------
// Fixtures: tiny IDX data, a trained run, pictures, safetensors bytes

const TRAIN_N: usize = 64;
const TEST_N: usize = 40;
/// The net of the main run: 8 channels, so the report's 8 patch rows exist.
const ARCH: &str = "conv 8 k3, relu, pool 2, linear";
/// Another architecture, whose checkpoint does not fit [`ARCH`].
const OTHER_ARCH: &str = "conv 6 k5, relu, pool 2, linear";

/// `n` 28x28 images whose class shows as a bright bar (learnable), and their labels.
fn images(n: usize, seed: usize) -> (Vec<u8>, Vec<u8>) {
    let labels: Vec<u8> = (0..n).map(|i| ((i + seed) % 10) as u8).collect();
    let mut px = Vec::with_capacity(n * 784);
    for (i, &l) in labels.iter().enumerate() {
        for r in 0..28 {
            for c in 0..28 {
                let bar = r / 3 == l as usize && (2..26).contains(&c);
                px.push(if bar {
                    200 + (i % 50) as u8
                } else {
                    ((r * 7 + c * 13 + i) % 40) as u8
                });
            }
        }
    }
    (px, labels)
}

/// The four IDX files of a small MNIST-format dataset in `dir`.
fn write_idx_dataset(dir: &Path) {
    use fovea_data::idx::encode_idx;
    std::fs::create_dir_all(dir).unwrap();
    let (train, train_l) = images(TRAIN_N, 0);
    let (test, test_l) = images(TEST_N, 3);
    let files = [
        encode_idx(&[TRAIN_N, 28, 28], &train),
        encode_idx(&[TRAIN_N], &train_l),
        encode_idx(&[TEST_N, 28, 28], &test),
        encode_idx(&[TEST_N], &test_l),
    ];
    for (name, bytes) in fovea_data::FILES.iter().zip(files) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// A test folder with the dataset in `data/`, a 28x28 grey PNG `digit.png`, and runs
/// trained on demand.
struct World {
    dir: TempDir,
    /// `root/data`
    data: PathBuf,
    /// `root/digit.png`
    png: PathBuf,
}

impl World {
    fn new() -> World {
        let dir = tempfile::Builder::new()
            .prefix("fovea-gauntlet-")
            .tempdir()
            .unwrap();
        let (data, png) = (dir.path().join("data"), dir.path().join("digit.png"));
        write_idx_dataset(&data);
        let (px, _) = images(1, 0);
        image::GrayImage::from_raw(28, 28, px)
            .unwrap()
            .save(&png)
            .unwrap();
        World { dir, data, png }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Trains `arch` for one epoch into `root/name`.
    fn train(&self, name: &str, arch: &str) -> PathBuf {
        let out = self.root().join(name);
        accept(
            self.root(),
            &[
                "train",
                "--data-dir",
                s(&self.data),
                "--arch",
                arch,
                "--epochs",
                "1",
                "--batch-size",
                "16",
                "--device",
                "cpu",
                "--out",
                s(&out),
            ],
        );
        out
    }

    /// A copy of run folder `from` called `name`.
    fn copy_run(&self, from: &Path, name: &str) -> PathBuf {
        let to = self.root().join(name);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
            }
        }
        to
    }
}

/// Every command that reads a run folder, as argument lists for `run` (with `png` where
/// a command takes a picture), paired with the checkpoint it loads.
fn run_commands(run: &Path, png: &Path) -> Vec<(Vec<String>, &'static str)> {
    let (r, p) = (s(run), s(png));
    let cmds: Vec<(Vec<&str>, &str)> = vec![
        (vec!["predict", r, p], "best.safetensors"),
        (vec!["eval", r], "best.safetensors"),
        (vec!["visualize", "filters", r], "best.safetensors"),
        (vec!["visualize", "features", r, p], "best.safetensors"),
        (
            vec![
                "visualize",
                "patches",
                r,
                "--limit",
                "20",
                "--channels",
                "0,1",
            ],
            "best.safetensors",
        ),
        (
            vec!["visualize", "neighbours", r, p, "--limit", "20", "--k", "2"],
            "best.safetensors",
        ),
        (
            vec!["visualize", "pca", r, "--limit", "40"],
            "best.safetensors",
        ),
        (
            vec![
                "visualize",
                "tsne",
                r,
                "--limit",
                "40",
                "--iterations",
                "50",
            ],
            "best.safetensors",
        ),
        (vec!["visualize", "occlusion", r, p], "best.safetensors"),
        (vec!["visualize", "saliency", r, p], "best.safetensors"),
        (vec!["visualize", "guided", r, p], "best.safetensors"),
        (vec!["visualize", "gradcam", r, p], "best.safetensors"),
        (
            vec!["visualize", "ig", r, p, "--steps", "4"],
            "best.safetensors",
        ),
        (
            vec![
                "visualize",
                "deepdream",
                r,
                p,
                "--steps",
                "1",
                "--octaves",
                "1",
            ],
            "best.safetensors",
        ),
        (
            vec![
                "report",
                r,
                "--images",
                "1",
                "--map-points",
                "40",
                "--search",
                "20",
            ],
            "best.safetensors",
        ),
        (
            vec!["train", "--resume", r, "--epochs", "2"],
            "last.safetensors",
        ),
    ];
    cmds.into_iter()
        .map(|(mut a, f)| {
            a.extend(["--device", "cpu"]);
            (a.into_iter().map(String::from).collect(), f)
        })
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A safetensors file from `(name, dtype, shape, bytes)` entries, written by hand so any
/// inconsistency can be planted.
fn safetensors(entries: &[(&str, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in entries {
        let start = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut h = serde_json::Value::Object(header).to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

/// The tensors of a checkpoint as `(name, dtype, shape, f32 bytes)` entries.
fn entries(path: &Path) -> Vec<(String, String, Vec<usize>, Vec<u8>)> {
    fovea_nn::read_safetensors(path)
        .unwrap()
        .into_iter()
        .map(|t| {
            let bytes = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (t.name, "F32".to_string(), t.shape, bytes)
        })
        .collect()
}

fn as_refs(e: &[(String, String, Vec<usize>, Vec<u8>)]) -> Vec<(&str, &str, Vec<usize>, Vec<u8>)> {
    e.iter()
        .map(|(n, d, s, b)| (n.as_str(), d.as_str(), s.clone(), b.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The cases

/// Truncated and corrupt checkpoints and a checkpoint of another architecture, through
/// every command that loads one.
#[test]
fn broken_checkpoints_are_refused_by_every_command() {
    let w = World::new();
    let run = w.train("run", ARCH);
    let other = w.train("other", OTHER_ARCH);
    let good = std::fs::read(run.join("best.safetensors")).unwrap();
    let mut f16 = entries(&run.join("best.safetensors"));
    f16[0].1 = "F16".into();
    let half = f16[0].3.len() / 2;
    f16[0].3.truncate(half);
    let mut wrong_len = entries(&run.join("best.safetensors"));
    wrong_len[0].2[0] += 1;
    let garbage = {
        let mut b = 16u64.to_le_bytes().to_vec();
        b.extend(br#"{"a": nope}     "#);
        b.extend([0u8; 8]);
        b
    };
    let mut huge_len = good.clone();
    huge_len[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    // (name, the checkpoint bytes or none, what the error says)
    type Variant<'a> = (&'a str, Option<Vec<u8>>, Vec<&'a str>);
    let variants: Vec<Variant> = vec![
        (
            "cut-in-header",
            Some(good[..40].to_vec()),
            vec!["truncated or corrupted", "again"],
        ),
        (
            "cut-in-data",
            Some(good[..good.len() - 10].to_vec()),
            vec!["the file holds only", "again"],
        ),
        (
            "empty",
            Some(Vec::new()),
            vec!["fewer than the 8-byte header", "again"],
        ),
        (
            "garbage-json",
            Some(garbage),
            vec!["not valid JSON", "again"],
        ),
        (
            "header-length",
            Some(huge_len),
            vec!["the header should be", "again"],
        ),
        (
            "f16",
            Some(safetensors(&as_refs(&f16))),
            vec!["dtype F16", "convert it"],
        ),
        (
            "wrong-length",
            Some(safetensors(&as_refs(&wrong_len))),
            vec!["declares shape", "again"],
        ),
        (
            "other-arch",
            Some(std::fs::read(other.join("best.safetensors")).unwrap()),
            vec!["does not fit the module", "same architecture"],
        ),
        ("missing", None, vec!["not found"]),
    ];
    for (name, bytes, want) in variants {
        let r = w.copy_run(&run, &format!("run-{name}"));
        for f in ["best.safetensors", "last.safetensors"] {
            match &bytes {
                Some(b) => std::fs::write(r.join(f), b).unwrap(),
                None => std::fs::remove_file(r.join(f)).unwrap(),
            }
        }
        for (args, file) in run_commands(&r, &w.png) {
            let mut want = want.clone();
            want.push(file);
            if name == "missing" && file == "last.safetensors" {
                want = vec![file, "saved no checkpoint", "--overwrite"];
            }
            refuse(w.root(), &strs(&args), &want);
        }
    }
    // a checkpoint path that is a folder
    let r = w.copy_run(&run, "run-folder-checkpoint");
    std::fs::remove_file(r.join("best.safetensors")).unwrap();
    std::fs::create_dir(r.join("best.safetensors")).unwrap();
    refuse(
        w.root(),
        &["predict", s(&r), s(&w.png), "--device", "cpu"],
        &["best.safetensors", "cannot read", "check the path"],
    );
    // the optimizer state of --resume: corrupt, and of another architecture
    let r = w.copy_run(&run, "run-bad-optim");
    std::fs::write(r.join("last.optim.safetensors"), &good[..good.len() / 2]).unwrap();
    let resume = [
        "train",
        "--resume",
        s(&r),
        "--epochs",
        "2",
        "--device",
        "cpu",
    ];
    refuse(
        w.root(),
        &resume,
        &["last.optim.safetensors", "truncated or corrupted"],
    );
    std::fs::copy(
        other.join("last.optim.safetensors"),
        r.join("last.optim.safetensors"),
    )
    .unwrap();
    refuse(
        w.root(),
        &resume,
        &[
            "last.optim.safetensors",
            "has shape",
            "needs",
            "restore the run's last.optim.safetensors",
        ],
    );
}

/// Files that are not pictures are refused by every command that takes one, and pictures
/// of another mode or size are converted as torchvision's `Grayscale` / `Resize` would.
#[test]
fn pictures_that_are_not_images_are_refused_and_others_converted() {
    let w = World::new();
    let run = w.train("run", ARCH);
    let root = w.root();
    let text = root.join("notes.png");
    std::fs::write(&text, "not a picture").unwrap();
    let empty = root.join("empty.png");
    std::fs::write(&empty, "").unwrap();
    let cut = root.join("cut.png");
    let png = std::fs::read(&w.png).unwrap();
    std::fs::write(&cut, &png[..png.len() / 2]).unwrap();
    let folder = root.join("folder.png");
    std::fs::create_dir(&folder).unwrap();
    let missing = root.join("missing.png");
    let decode = vec!["not an image Fovea can read", "use PNG"];
    let bad: Vec<(&Path, Vec<&str>)> = vec![
        (&text, decode.clone()),
        (&empty, decode.clone()),
        (&cut, decode.clone()),
        (&folder, vec!["cannot"]),
        (&missing, vec!["cannot open"]),
    ];
    let r = s(&run);
    for (file, want) in &bad {
        let f = s(file);
        let name = file.file_name().unwrap().to_str().unwrap();
        let mut want = want.clone();
        want.push(name);
        let cmds: Vec<Vec<&str>> = vec![
            vec!["predict", r, s(&w.png), f],
            vec!["visualize", "features", r, f],
            vec!["visualize", "neighbours", r, f, "--limit", "20"],
            vec!["visualize", "occlusion", r, f],
            vec!["visualize", "saliency", r, f],
            vec!["visualize", "guided", r, f],
            vec!["visualize", "gradcam", r, f],
            vec!["visualize", "ig", r, f],
            vec!["visualize", "deepdream", r, f],
            vec!["visualize", "style", f, s(&w.png), "--model", "vgg11"],
            vec!["visualize", "style", s(&w.png), f, "--model", "vgg11"],
        ];
        for mut c in cmds {
            c.extend(["--device", "cpu"]);
            if c[1] == "style" {
                c.extend(["--out", "style.png"]);
            }
            refuse(root, &c, &want);
        }
    }

    // RGB, RGBA, 16-bit grey, tiny and odd-sized pictures for a grey 28x28 net: converted
    // to grey and resized, as `transforms.Grayscale()` and `Resize((28, 28))` would.
    let rgb = root.join("rgb.png");
    image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 90])
    })
    .save(&rgb)
    .unwrap();
    let rgba = root.join("rgba.png");
    image::RgbaImage::from_pixel(28, 28, image::Rgba([200, 10, 10, 120]))
        .save(&rgba)
        .unwrap();
    let deep = root.join("deep.png");
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(28, 28, |x, _| {
        image::Luma([(x * 2000) as u16])
    })
    .save(&deep)
    .unwrap();
    let dot = root.join("dot.png");
    image::GrayImage::from_pixel(1, 1, image::Luma([255]))
        .save(&dot)
        .unwrap();
    let jpeg = root.join("photo.jpg");
    image::RgbImage::from_pixel(64, 48, image::Rgb([10, 200, 30]))
        .save(&jpeg)
        .unwrap();
    let pics = [&rgb, &rgba, &deep, &dot, &jpeg];
    let mut args = vec!["predict", r, "--device", "cpu", "--top", "2"];
    args.extend(pics.iter().map(|p| s(p)));
    let out = accept(root, &args);
    for p in pics {
        let line = out.lines().find(|l| l.starts_with(s(p)));
        assert!(
            line.is_some_and(|l| l.split(", ").count() == 2),
            "{p:?}:\n{out}"
        );
    }
    let sal = root.join("saliency-of-rgb.png");
    accept(
        root,
        &[
            "visualize",
            "saliency",
            r,
            s(&rgb),
            "--device",
            "cpu",
            "--out",
            s(&sal),
        ],
    );
    assert!(
        image::open(&sal).is_ok(),
        "the saliency picture was written"
    );

    // A colour net (an image folder decoded to 3 channels) takes a grey picture as RGB, as
    // `transforms.Grayscale(3)` / `convert("RGB")` would.
    let folder_data = root.join("shapes");
    for split in ["train", "test"] {
        for (class, colour) in [("red", [220u8, 20, 20]), ("blue", [20u8, 20, 220])] {
            let d = folder_data.join(split).join(class);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..4u8 {
                image::RgbImage::from_fn(8, 8, |x, y| {
                    let v = ((x + y) as u8 * 3).wrapping_add(i);
                    image::Rgb(colour.map(|c| c.saturating_sub(v)))
                })
                .save(d.join(format!("{i}.png")))
                .unwrap();
            }
        }
    }
    let colour_run = root.join("colour-run");
    let train_colour = |out: &Path| -> Vec<String> {
        [
            "train",
            "--dataset",
            s(&folder_data),
            "--channels",
            "3",
            "--image-size",
            "8",
            "--arch",
            "conv 4 k3 p1, relu, pool 2, linear",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--device",
            "cpu",
            "--out",
            s(out),
        ]
        .map(String::from)
        .to_vec()
    };
    accept(root, &strs(&train_colour(&colour_run)));
    let out = accept(
        root,
        &["predict", s(&colour_run), s(&w.png), "--device", "cpu"],
    );
    assert!(out.contains("digit.png: "), "{out}");
    // A file in the image folder that is not a picture is refused with its path.
    std::fs::write(folder_data.join("train/red/broken.png"), "nope").unwrap();
    refuse(
        root,
        &strs(&train_colour(&root.join("colour-run-2"))),
        &["broken.png", "not an image Fovea can read"],
    );
}

/// An error at each kind of token of an arch spec, a spec that is empty, and a spec file
/// that does not exist.
#[test]
fn arch_specs_with_an_error_at_each_kind_of_token_are_refused() {
    let w = World::new();
    let root = w.root();
    let out = root.join("spec-run");
    let cases: &[(&str, &[&str])] = &[
        (
            "conv 8 k3, wobble, linear",
            &["arch spec", "unknown layer `wobble`", "known: conv OUT"],
        ),
        ("conv eight k3, linear", &["`eight` is not a whole number"]),
        ("conv 8 k3.5, linear", &["`k3.5` is not a whole number"]),
        ("conv 99999999999999999999, linear", &["is too large"]),
        ("conv, linear", &["`conv`", "give the output channels"]),
        ("adaptiveavgpool, linear", &["give the output size"]),
        (
            "linear, linear",
            &["give the output size, e.g. `linear 256`"],
        ),
        (
            "conv 8 q3, linear",
            &["unknown option `q3`", "use `conv OUT"],
        ),
        ("relu 2, linear", &["too many arguments", "use `relu`"]),
        ("conv 8 k0, linear", &["`conv 8 k0`", "must be at least 1"]),
        ("conv 8 s0, linear", &["stride `s0` must be at least 1"]),
        ("conv 8 p-1, linear", &["`p-1` is not a whole number"]),
        ("conv 0, linear", &["must be at least 1"]),
        ("pool 0, linear", &["pool size `0` must be at least 1"]),
        ("linear 0, linear", &["output size `0` must be at least 1"]),
        (
            "adaptiveavgpool 0x3, linear",
            &["output height `0` must be at least 1"],
        ),
        ("dropout 1.5, linear", &["not a probability in [0, 1)"]),
        (
            "conv 8 k3, linear 10, relu",
            &["the last layer is `relu`", "end the spec with `linear`"],
        ),
        (
            "linear 16, conv 8, linear",
            &["cannot follow", "move it before them"],
        ),
        (
            "conv 8 k29, linear",
            &["29x29 kernel does not fit the 28x28 map", "pad more"],
        ),
        (
            "conv 8 k5, pool 30, linear",
            &["30x30 pool does not fit the 24x24 map"],
        ),
        ("conv 8 p9223372036854775807, linear", &["does not fit"]),
        (
            "conv 100000 k3, conv 100000 k3, linear",
            &["layer 2", "is more than one layer may hold"],
        ),
        (
            "linear 99999999999, linear",
            &["is more than one layer may hold", "use fewer"],
        ),
        (
            "linear 20",
            &["20 outputs for 10 classes", "write `linear` or `linear 10`"],
        ),
        ("", &["the spec has no layers"]),
        (" , # only a comment", &["the spec has no layers"]),
    ];
    for (spec, want) in cases {
        let args = [
            "train",
            "--arch",
            spec,
            "--data-dir",
            s(&w.data),
            "--device",
            "cpu",
            "--out",
            s(&out),
        ];
        let mut want = want.to_vec();
        want.push("arch spec");
        refuse(root, &args, &want);
    }
    let train_arch = |arch: &str| {
        [
            "train",
            "--arch",
            arch,
            "--data-dir",
            s(&w.data),
            "--device",
            "cpu",
            "--out",
            s(&out),
        ]
        .map(String::from)
    };
    // a spec file that does not exist
    let missing = root.join("specs").join("missing.arch");
    refuse(
        root,
        &strs(&train_arch(s(&missing))),
        &[
            s(&missing),
            "is neither a spec file that exists",
            "check the file's path",
        ],
    );
    // a spec file with an error inside
    let file = root.join("bad.arch");
    std::fs::write(&file, "conv 8 k3\nwobble\nlinear\n").unwrap();
    refuse(
        root,
        &strs(&train_arch(s(&file))),
        &["bad.arch", "arch spec", "unknown layer `wobble`"],
    );
}

/// Wrong magic, wrong sizes, counts that differ, rows and columns other than 28, a label
/// out of range and truncated gzip, through `fovea train --data-dir` and `fovea eval`.
#[test]
fn broken_idx_files_are_refused_by_train_and_eval() {
    use fovea_data::idx::encode_idx;
    let w = World::new();
    let root = w.root();
    let run = w.train("run", ARCH);
    // (what, the file damaged (0..4 of FILES), its new bytes, what the error says)
    type Damage = (&'static str, Vec<u8>, &'static [&'static str]);
    let damages = |pictures: bool, n: usize| -> Vec<Damage> {
        let (px, labels) = images(n, 0);
        let good = if pictures {
            encode_idx(&[n, 28, 28], &px)
        } else {
            encode_idx(&[n], &labels)
        };
        let mut magic = good.clone();
        magic[..2].copy_from_slice(&[0x12, 0x34]);
        let mut dtype = good.clone();
        dtype[2] = 0x0d;
        let mut more = good.clone();
        more[4..8].copy_from_slice(&(n as u32 + 5).to_be_bytes());
        let mut v: Vec<Damage> = vec![
            ("magic", magic, &["is not IDX", "fetch"]),
            ("dtype", dtype, &["is not unsigned bytes"]),
            (
                "more",
                more,
                &["need", "truncated or corrupt, fetch it again"],
            ),
            ("empty", Vec::new(), &["too short for an IDX header"]),
            (
                "gz",
                gzip(&good)[..20].to_vec(),
                &["gzip data is corrupt or truncated", "fetch the file again"],
            ),
        ];
        if pictures {
            v.push((
                "rows",
                encode_idx(&[n, 14, 56], &px),
                &["images are 14x56", "28x28", "fetch it again"],
            ));
            v.push((
                "none",
                encode_idx(&[0, 28, 28], &[]),
                &["holds no images", "fetch it again"],
            ));
        } else {
            v.push((
                "count",
                encode_idx(&[n - 1], &labels[1..]),
                &["do not match the", "fetch them again"],
            ));
            let mut bad = labels.to_vec();
            bad[1] = 12;
            v.push((
                "label",
                encode_idx(&[n], &bad),
                &["label 12 is not one of the 10 classes", "fetch it again"],
            ));
        }
        v
    };
    for (i, file) in fovea_data::FILES.iter().enumerate() {
        let n = if i < 2 { TRAIN_N } else { TEST_N };
        for (what, bytes, want) in damages(i % 2 == 0, n) {
            let dir = root.join(format!("data-{what}-{i}"));
            write_idx_dataset(&dir);
            let name = if what == "gz" {
                std::fs::remove_file(dir.join(file)).unwrap();
                format!("{file}.gz")
            } else {
                file.to_string()
            };
            std::fs::write(dir.join(&name), bytes).unwrap();
            let mut want = want.to_vec();
            let path = dir.join(&name);
            want.push(s(&path));
            let out = root.join("idx-run");
            refuse(
                root,
                &[
                    "train",
                    "--data-dir",
                    s(&dir),
                    "--arch",
                    ARCH,
                    "--device",
                    "cpu",
                    "--out",
                    s(&out),
                ],
                &want,
            );
            if i >= 2 {
                refuse(
                    root,
                    &["eval", s(&run), "--data-dir", s(&dir), "--device", "cpu"],
                    &want,
                );
            } else {
                // evaluating reads only the test files
                accept(
                    root,
                    &["eval", s(&run), "--data-dir", s(&dir), "--device", "cpu"],
                );
            }
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A run folder without `run.json`, with one that is not JSON, and with ones whose fields
/// would trip the loaders, through every command that reads a run.
#[test]
fn run_folders_without_a_readable_run_json_are_refused() {
    let w = World::new();
    let root = w.root();
    let run = w.train("run", ARCH);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut j = json.clone();
        f(&mut j);
        j.to_string()
    };
    let variants: Vec<(&str, Option<String>, Vec<&str>)> = vec![
        ("none", None, vec!["a run folder written by `fovea train`?"]),
        (
            "truncated",
            Some(json.to_string()[..200].to_string()),
            vec!["not a run description Fovea can read", "restore it"],
        ),
        (
            "not-json",
            Some("epochs: 3\n".into()),
            vec!["not a run description Fovea can read"],
        ),
        (
            "wrong-type",
            Some(edit(&|j| j["input_shape"] = serde_json::json!("28x28"))),
            vec!["not a run description Fovea can read"],
        ),
        (
            "no-classes",
            Some(edit(&|j| j["classes"] = serde_json::json!([]))),
            vec!["0 classes", "restore it"],
        ),
        (
            "zero-input",
            Some(edit(&|j| j["input_shape"] = serde_json::json!([1, 0, 28]))),
            vec!["input_shape [1, 0, 28]", "restore it"],
        ),
        (
            "zero-std",
            Some(edit(&|j| j["std"] = serde_json::json!([0.0]))),
            vec!["std [0.0] must be positive", "restore it"],
        ),
        (
            "bad-arch",
            Some(edit(&|j| {
                j["config"]["arch"] = serde_json::json!("conv 8 k3, wobble, linear")
            })),
            vec!["unknown layer `wobble`", "restore it"],
        ),
        (
            "bad-model",
            Some(edit(&|j| {
                j["config"]["arch"] = serde_json::Value::Null;
                j["config"]["model"] = serde_json::json!("resnet");
            })),
            vec!["unknown model `resnet`", "restore it"],
        ),
    ];
    for (name, text, want) in variants {
        let r = w.copy_run(&run, &format!("run-{name}"));
        match text {
            Some(t) => std::fs::write(r.join("run.json"), t).unwrap(),
            None => std::fs::remove_file(r.join("run.json")).unwrap(),
        }
        let mut cmds: Vec<Vec<String>> =
            run_commands(&r, &w.png).into_iter().map(|c| c.0).collect();
        cmds.push(
            ["compare", s(&r), "--out", s(&root.join("cmp.svg"))]
                .map(String::from)
                .to_vec(),
        );
        for args in cmds {
            let mut want = want.clone();
            let file = r.join("run.json");
            want.push(s(&file));
            refuse(root, &strs(&args), &want);
        }
    }
    // a run folder that does not exist, and run.json that is a folder
    let nowhere = root.join("no-such-run");
    refuse(
        root,
        &["predict", s(&nowhere), s(&w.png), "--device", "cpu"],
        &[
            "no-such-run",
            "run.json",
            "a run folder written by `fovea train`",
        ],
    );
    let r = w.copy_run(&run, "run-json-folder");
    std::fs::remove_file(r.join("run.json")).unwrap();
    std::fs::create_dir(r.join("run.json")).unwrap();
    refuse(
        root,
        &["eval", s(&r), "--device", "cpu"],
        &["run-json-folder", "run.json"],
    );
}

/// Outputs that cannot be written (a parent that is a regular file; tests run as root, so
/// permissions would not stop a write) are refused, and nothing else is written.
#[test]
fn outputs_that_cannot_be_written_are_refused() {
    let w = World::new();
    let root = w.root();
    let run = w.train("run", ARCH);
    let blocker = root.join("a-file");
    std::fs::write(&blocker, "I am a file").unwrap();
    let under = |name: &str| s(&blocker.join(name)).to_string();
    let r = s(&run);
    let png = s(&w.png);
    let hint = "give --out a path in a folder you can write to";
    let f = under("x.png");
    let vis: Vec<Vec<&str>> = vec![
        vec!["visualize", "filters", r, "--out", &f],
        vec!["visualize", "features", r, png, "--out", &f],
        vec![
            "visualize",
            "patches",
            r,
            "--limit",
            "20",
            "--channels",
            "0,1",
            "--out",
            &f,
        ],
        vec![
            "visualize",
            "neighbours",
            r,
            png,
            "--limit",
            "20",
            "--k",
            "2",
            "--out",
            &f,
        ],
        vec!["visualize", "occlusion", r, png, "--out", &f],
        vec!["visualize", "saliency", r, png, "--out", &f],
        vec!["visualize", "gradcam", r, png, "--out", &f],
        vec![
            "visualize",
            "deepdream",
            r,
            png,
            "--steps",
            "1",
            "--octaves",
            "1",
            "--out",
            &f,
        ],
        vec![
            "visualize",
            "style",
            png,
            png,
            "--model",
            "vgg11",
            "--size",
            "32",
            "--steps",
            "1",
            "--out",
            &f,
        ],
    ];
    for mut c in vis {
        c.extend(["--device", "cpu"]);
        refuse(root, &c, &["a-file/x.png", hint]);
    }
    // the default picture folder RUN_DIR/vis blocked by a file
    let blocked = w.copy_run(&run, "run-vis-file");
    std::fs::write(blocked.join("vis"), "not a folder").unwrap();
    for c in [
        vec!["visualize", "filters", s(&blocked)],
        vec!["visualize", "pca", s(&blocked), "--limit", "40"],
    ] {
        let mut c = c;
        c.extend(["--device", "cpu"]);
        refuse(root, &c, &["run-vis-file/vis", hint]);
    }
    // training into a folder under a file, or onto a file
    for out in [under("run"), s(&blocker).to_string()] {
        refuse(
            root,
            &[
                "train",
                "--data-dir",
                s(&w.data),
                "--arch",
                ARCH,
                "--epochs",
                "1",
                "--device",
                "cpu",
                "--out",
                &out,
            ],
            &[
                &out,
                "cannot create",
                "choose an --out folder you can write to",
            ],
        );
    }
    // the report checks --out before any work, so it leaves nothing behind
    let html = under("report.html");
    refuse(
        root,
        &[
            "report",
            r,
            "--images",
            "1",
            "--map-points",
            "40",
            "--search",
            "20",
            "--device",
            "cpu",
            "--out",
            &html,
        ],
        &["a-file/report.html", hint],
    );
    let svg = under("cmp.svg");
    refuse(
        root,
        &["compare", r, "--out", &svg],
        &[
            "a-file/cmp.svg",
            "a folder that exists and that you can write to",
        ],
    );
}
