//! The `fovea` binary end to end on the CPU backend: resuming is exact, predict and compare
//! work on real runs, and every bad input gives one clear line, a non-zero exit, and leaves
//! the user's files as they were.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fovea(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap()
}

/// A fresh folder, deleted when the returned guard drops.
fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("fovea-cmd-{tag}-"))
        .tempdir()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs a command that must fail, and returns its one line of error (after `progress`
/// lines of progress output, for commands that report as they go).
fn fails_after(progress: usize, args: &[&str]) -> String {
    let out = fovea(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} should fail; stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        progress + 1,
        "{args:?}: one line of error, got {err}"
    );
    let last = lines[progress];
    assert!(last.starts_with("fovea: "), "{err}");
    last.to_string()
}

/// Runs a command that must fail with nothing but one line of error.
fn fails(args: &[&str]) -> String {
    fails_after(0, args)
}

/// A small CPU training run's arguments.
fn quick(out: &Path, extra: &[&'static str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "train",
        "--device",
        "cpu",
        "--train-limit",
        "640",
        "--test-limit",
        "300",
        "--seed",
        "3",
        "--out",
    ]
    .map(String::from)
    .to_vec();
    a.push(s(out).into());
    a.extend(extra.iter().map(|e| e.to_string()));
    a
}

fn run_ok(args: &[String]) -> String {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = fovea(&refs);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &err
}

#[test]
fn an_interrupted_run_resumes_to_the_same_weights() {
    let tmp = temp_dir("resume");
    let root = tmp.path().to_path_buf();
    let (straight, broken) = (root.join("straight"), root.join("broken"));
    run_ok(&quick(&straight, &["--epochs", "2"]));
    // 640 images in batches of 64: 10 steps an epoch; stop in the middle of epoch 2.
    let log = run_ok(&quick(&broken, &["--epochs", "2", "--stop-after", "13"]));
    assert!(log.contains("stopped in epoch 2 after batch 3"), "{log}");
    assert!(log.contains("--resume"), "{log}");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(broken.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["epochs_done"], 1);
    assert_eq!(info["position"]["batch"], 3);
    // Training into a folder that holds a run is refused unless asked for.
    let e = fails(
        &quick(&broken, &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        e.contains("already holds a run") && e.contains("--resume"),
        "{e}"
    );

    run_ok(&["train", "--resume", s(&broken), "--device", "cpu"].map(String::from));
    for f in [
        "last.safetensors",
        "best.safetensors",
        "last.optim.safetensors",
    ] {
        assert!(
            std::fs::read(straight.join(f)).unwrap() == std::fs::read(broken.join(f)).unwrap(),
            "{f} differs between the straight and the resumed run"
        );
    }
    let acc = |d: &Path| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("run.json")).unwrap()).unwrap();
        v["metrics"][1]["test_acc"].as_f64().unwrap()
    };
    assert_eq!(acc(&straight), acc(&broken));

    // Going further with --epochs continues the same run.
    run_ok(
        &[
            "train",
            "--resume",
            s(&broken),
            "--device",
            "cpu",
            "--epochs",
            "3",
        ]
        .map(String::from),
    );
    let csv = std::fs::read_to_string(broken.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
}

/// Writes test image `i` of Fashion-MNIST as a PNG, returning its label.
fn write_test_png(i: usize, path: &Path) -> u8 {
    let test = fovea_data::MnistKind::Fashion
        .load(fovea_data::Split::Test, None)
        .unwrap();
    let img = image::GrayImage::from_raw(28, 28, test.image(i).to_vec()).unwrap();
    img.save(path).unwrap();
    test.labels[i]
}

#[test]
fn predict_compare_and_bad_inputs_on_a_trained_run() {
    let tmp = temp_dir("predict");
    let root = tmp.path().to_path_buf();
    let (a, b) = (root.join("sgd"), root.join("adam"));
    run_ok(&quick(&a, &["--epochs", "2"]));
    run_ok(&quick(
        &b,
        &[
            "--epochs",
            "1",
            "--arch",
            "conv 16 k3 p1, relu, pool 2, linear",
            "--optimizer",
            "adam",
            "--lr",
            "0.001",
        ],
    ));

    // predict: top-k sorted probabilities with class names, the same answer as the net
    let pngs: Vec<PathBuf> = (0..4).map(|i| root.join(format!("test{i}.png"))).collect();
    let labels: Vec<u8> = pngs
        .iter()
        .enumerate()
        .map(|(i, p)| write_test_png(i, p))
        .collect();
    let mut args = vec![
        "predict".to_string(),
        s(&a).into(),
        "--device".into(),
        "cpu".into(),
    ];
    args.extend(["--top".into(), "3".into()]);
    args.extend(pngs.iter().map(|p| s(p).to_string()));
    let out = run_ok(&args);
    let classes = fovea_data::FASHION_CLASSES;
    let mut right = 0;
    for (p, label) in pngs.iter().zip(&labels) {
        let line = out.lines().find(|l| l.starts_with(s(p))).unwrap();
        let probs: Vec<f32> = line
            .split(", ")
            .map(|part| part.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(probs.len(), 3, "{line}");
        assert!(probs.windows(2).all(|w| w[0] >= w[1]) && probs.iter().sum::<f32>() <= 1.001);
        right += line.contains(&format!(": {} ", classes[*label as usize])) as usize;
    }
    assert!(
        right >= 2,
        "a trained net gets most of 4 test images right:\n{out}"
    );

    // compare: one SVG naming both runs, and a summary line per run
    let svg = root.join("cmp.svg");
    let out = run_ok(&["compare", s(&a), s(&b), "--out", s(&svg)].map(String::from));
    assert!(
        out.contains("sgd: best test accuracy") && out.contains("adam: best"),
        "{out}"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("sgd") && text.contains("adam") && text.contains("test accuracy"));

    // an image that is not an image
    let txt = root.join("notes.png");
    std::fs::write(&txt, "not a picture").unwrap();
    let e = fails(&["predict", s(&a), s(&txt), "--device", "cpu"]);
    assert!(e.contains("notes.png") && e.contains("not an image"), "{e}");

    // a checkpoint of another architecture
    std::fs::copy(b.join("best.safetensors"), a.join("best.safetensors")).unwrap();
    let before = std::fs::read(a.join("best.safetensors")).unwrap();
    let e = fails(&["predict", s(&a), s(&pngs[0]), "--device", "cpu"]);
    assert!(
        e.contains("best.safetensors") && e.contains("missing keys [conv1.bias, conv1.weight"),
        "{e}"
    );
    let e = fails(&["eval", s(&a), "--device", "cpu"]);
    assert!(e.contains("does not fit the module"), "{e}");
    assert_eq!(std::fs::read(a.join("best.safetensors")).unwrap(), before);
}

/// Each bad `fovea train` input: one line, non-zero exit, and the --out folder untouched.
#[test]
fn bad_training_inputs_fail_cleanly_and_touch_nothing() {
    let tmp = temp_dir("bad");
    let root = tmp.path().to_path_buf();
    let out = root.join("run");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let o = s(&out);
    let check_untouched = || {
        let names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["keep.txt"], "the out folder was touched");
    };

    // a missing dataset names the command that fetches it
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = fails(&[
        "train",
        "--data-dir",
        s(&empty),
        "--out",
        o,
        "--device",
        "cpu",
    ]);
    assert!(
        e.contains("not found") && e.contains("fovea data fetch fashion-mnist --dir"),
        "{e}"
    );
    check_untouched();

    // a truncated IDX file
    let cut = root.join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    for f in fovea_data::FILES {
        let src = Path::new("/usr/share/datasets/fashion-mnist").join(format!("{f}.gz"));
        let bytes = std::fs::read(&src).unwrap();
        let keep = if f.starts_with("train-images") {
            bytes.len() / 2
        } else {
            bytes.len()
        };
        std::fs::write(cut.join(format!("{f}.gz")), &bytes[..keep]).unwrap();
    }
    let e = fails(&[
        "train",
        "--data-dir",
        s(&cut),
        "--out",
        o,
        "--device",
        "cpu",
    ]);
    assert!(e.contains("train-images-idx3-ubyte.gz"), "{e}");
    check_untouched();

    // an unknown arch spec token lists the known ones
    let e = fails(&[
        "train",
        "--arch",
        "conv 32 k3, wobble, linear",
        "--out",
        o,
        "--device",
        "cpu",
    ]);
    assert!(
        e.contains("unknown layer `wobble`") && e.contains("known: conv OUT"),
        "{e}"
    );
    check_untouched();

    // a batch size of 0
    let e = fails(&["train", "--batch-size", "0", "--out", o, "--device", "cpu"]);
    assert!(e.contains("batch size") && e.contains("at least 1"), "{e}");
    check_untouched();

    // an unknown model and dataset
    let e = fails(&["train", "--model", "resnet", "--out", o, "--device", "cpu"]);
    assert!(
        e.contains("unknown model `resnet`") && e.contains("alexnet"),
        "{e}"
    );
    let e = fails(&["train", "--dataset", "cifar", "--out", o, "--device", "cpu"]);
    assert!(e.contains("unknown dataset `cifar`"), "{e}");
    check_untouched();

    // a download whose bytes do not match the published SHA-256
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut c in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = c.read(&mut buf);
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\njunk!",
            );
        }
    });
    // (one "downloading URL" line, then the error)
    let e = fails_after(
        1,
        &[
            "data",
            "fetch",
            "fashion-mnist",
            "--dir",
            o,
            "--mirror",
            &url,
        ],
    );
    assert!(
        e.contains("SHA-256") && e.contains("train-images-idx3-ubyte.gz"),
        "{e}"
    );
    check_untouched();
}
