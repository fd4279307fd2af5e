//! Every `fovea visualize` technique and `fovea report` on a small trained run (CPU
//! backend): each command succeeds, writes a real picture, and a bad layer name is one line.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fovea(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fovea"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn png_size(path: &Path) -> (u32, u32) {
    image::image_dimensions(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_technique_and_the_report_run_on_a_trained_net() {
    let run = std::env::temp_dir().join(format!("fovea-vis-run-{}", std::process::id()));
    let r = run.to_str().unwrap();
    let (ok, log) = fovea(&[
        "train",
        "--arch",
        "conv 8 k3 p1, relu, pool 2, conv 16 k3 p1, relu, pool 2, linear 32, relu, linear",
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--train-limit",
        "1280",
        "--test-limit",
        "200",
        "--out",
        r,
        "--overwrite",
    ]);
    assert!(ok, "{log}");
    let vis = run.join("vis");
    let cases: &[(&[&str], &str)] = &[
        (&["filters"], "filters.png"),
        (&["features", "--layer", "relu2_1"], "features.png"),
        (
            &[
                "patches",
                "--limit",
                "300",
                "--channels",
                "0,1,2",
                "--top",
                "4",
            ],
            "patches.png",
        ),
        (
            &[
                "neighbours",
                "--limit",
                "300",
                "--k",
                "4",
                "--metric",
                "cosine",
            ],
            "neighbours.png",
        ),
        (&["occlusion", "--index", "0,1"], "occlusion.png"),
        (
            &["saliency", "--index", "0,1", "--smoothgrad", "4"],
            "smoothgrad.png",
        ),
        (
            &[
                "guided",
                "--index",
                "0",
                "--layer",
                "relu2_1",
                "--channel",
                "3",
            ],
            "guided.png",
        ),
        (
            &[
                "gradcam", "--index", "0", "--method", "heat", "--sign", "positive",
            ],
            "gradcam.png",
        ),
        (
            &["ig", "--index", "0", "--steps", "16", "--sign", "all"],
            "ig.png",
        ),
        (&["deepdream", "--steps", "4"], "deepdream.png"),
    ];
    for (args, file) in cases {
        let mut a = vec!["visualize", args[0], r];
        a.extend_from_slice(&args[1..]);
        a.extend_from_slice(&["--device", "cpu"]);
        let (ok, log) = fovea(&a);
        assert!(ok, "{a:?}: {log}");
        let (w, h) = png_size(&vis.join(file));
        assert!(w > 20 && h > 20, "{file}: {w}x{h}");
    }
    for technique in ["pca", "tsne"] {
        let (ok, log) = fovea(&[
            "visualize",
            technique,
            r,
            "--limit",
            "200",
            "--device",
            "cpu",
        ]);
        assert!(ok, "{technique}: {log}");
        for what in ["features", "pixels"] {
            let svg = std::fs::read_to_string(vis.join(format!("{technique}-{what}.svg"))).unwrap();
            assert!(
                svg.contains("<circle") && svg.contains("Ankle boot"),
                "{technique}-{what}.svg"
            );
        }
    }
    let (ok, log) = fovea(&[
        "report",
        r,
        "--images",
        "2",
        "--map-points",
        "150",
        "--search",
        "150",
        "--device",
        "cpu",
    ]);
    assert!(ok, "{log}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    for section in [
        "Training",
        "Filters",
        "Feature maps",
        "Max-activating patches",
        "Nearest neighbours",
        "PCA",
        "t-SNE",
        "Attributions",
        "DeepDream",
        "Timings",
    ] {
        assert!(
            html.contains(&format!(">{section}</h2>")),
            "report lacks {section}"
        );
    }
    assert!(html.matches("data:image/png;base64,").count() > 10);
    assert!(
        !html.contains("src=\"/") && !html.contains("src=\"file:"),
        "self-contained"
    );

    // A layer the net does not have: one line naming the layers it has.
    let (ok, log) = fovea(&[
        "visualize",
        "features",
        r,
        "--layer",
        "conv9",
        "--device",
        "cpu",
    ]);
    assert!(!ok);
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("no layer `conv9`") && lines[0].contains("relu1_1"),
        "{log}"
    );

    // Style transfer with any VGG (random vgg11 weights here): it runs and writes the image.
    let (a, b) = (run.join("content.png"), run.join("style.png"));
    image::RgbImage::from_fn(40, 40, |x, y| image::Rgb([x as u8 * 6, y as u8 * 6, 128]))
        .save(&a)
        .unwrap();
    image::RgbImage::from_fn(40, 40, |x, _| {
        image::Rgb(if x / 4 % 2 == 0 {
            [250, 20, 20]
        } else {
            [20, 20, 250]
        })
    })
    .save(&b)
    .unwrap();
    let out: PathBuf = run.join("styled.png");
    let (ok, log) = fovea(&[
        "visualize",
        "style",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--model",
        "vgg11",
        "--size",
        "32",
        "--steps",
        "3",
        "--device",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{log}");
    assert!(log.contains("style loss"), "{log}");
    assert_eq!(png_size(&out), (32, 32));
}
