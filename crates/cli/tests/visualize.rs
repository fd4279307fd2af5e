//! Every `fovea visualize` technique and `fovea report` on a small trained run (CPU
//! backend): each command succeeds and writes a picture of the size its grid geometry gives,
//! with real content (not blank, maps not uniform, filters and patches drawn at least 48 px
//! a tile); the report is titled by the model; a bad layer name is one line.

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

/// Distinct colours in a picture.
fn colours(img: &image::RgbImage) -> usize {
    img.pixels()
        .map(|p| p.0)
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// The `w x h` cell at column `c`, row `r` of a grid with `pad` pixels around and between
/// its cells.
fn cell(img: &image::RgbImage, c: u32, r: u32, (w, h): (u32, u32), pad: u32) -> image::RgbImage {
    image::imageops::crop_imm(img, pad + c * (w + pad), pad + r * (h + pad), w, h).to_image()
}

/// Checks one picture `fovea visualize` wrote against the geometry of its grid (the net
/// below: 28x28 grey input, conv 8 k3 p1 / pool / conv 16 k3 p1 / pool) and for content.
fn check_picture(file: &str, pic: &image::RgbImage) {
    let size = pic.dimensions();
    assert!(
        colours(pic) >= 8,
        "{file} is blank: {} colours",
        colours(pic)
    );
    // Attributions: rows of [test image | map], 28 px enlarged 6 times, 4 px apart.
    let attribution = |rows: u32| {
        assert_eq!(size, (2 * 172 + 4, rows * 172 + 4), "{file}");
        for r in 0..rows {
            let (image, map) = (
                cell(pic, 0, r, (168, 168), 4),
                cell(pic, 1, r, (168, 168), 4),
            );
            assert!(colours(&image) >= 8, "{file}, row {r}: the image is blank");
            assert!(colours(&map) >= 8, "{file}, row {r}: the map is uniform");
            assert_ne!(image, map, "{file}, row {r}: the map is the image");
        }
    };
    match file {
        "filters.png" => {
            // 8 filters of 3x3, 3 a row, each enlarged 16 times to 48 px, 2 px apart
            assert_eq!(size, (3 * 50 + 2, 3 * 50 + 2), "{file}");
            for f in 0..8 {
                let t = cell(pic, f % 3, f / 3, (48, 48), 2);
                // scaled to its own range: black and white both appear, in 16 px blocks
                assert!(
                    t.pixels().any(|p| p.0 == [0; 3]) && t.pixels().any(|p| p.0 == [255; 3]),
                    "{file}: filter {f} does not span black to white"
                );
                assert!(colours(&t) <= 9, "{file}: filter {f} is not 3x3 blocks");
                assert_eq!(
                    t,
                    picture_blocks(&t, 16),
                    "{file}: filter {f} is not enlarged by nearest neighbour"
                );
            }
        }
        "features.png" => {
            // the image (168 px), then relu2_1's 16 maps of 14x14 enlarged 6 times (84 px),
            // 4 a row 2 px apart, 8 px around and between the two
            let grid = 4 * 86 + 2;
            assert_eq!(size, (8 + 168 + 8 + grid + 8, grid + 16), "{file}");
            let maps = image::imageops::crop_imm(pic, 8 + 168 + 8, 8, grid, grid).to_image();
            let live = (0..16)
                .filter(|m| colours(&cell(&maps, m % 4, m / 4, (84, 84), 2)) >= 4)
                .count();
            assert!(
                live >= 8,
                "{file}: only {live} of 16 feature maps show anything"
            );
        }
        "patches.png" => {
            // 3 channels x the top 4 crops of relu2_1's 8x8 field, each at least 48 px
            // (6 times; a crop cut by the border, 5 px or more, up to 10 times), 2 px apart
            let (w, h) = size;
            assert!(
                (4 * 50 + 2..=4 * 82 + 2).contains(&w) && (3 * 50 + 2..=3 * 82 + 2).contains(&h),
                "{file}: {w}x{h}"
            );
            let first = cell(pic, 0, 0, (48, 48), 2);
            assert!(colours(&first) >= 2, "{file}: the first patch is blank");
        }
        "neighbours.png" => {
            // per query: [query, 4 by features] over [blank, 4 by pixels], 112 px, 3 px apart
            assert_eq!(size, (5 * 115 + 3, 6 * 115 + 3), "{file}");
            for q in 0..3 {
                let query = cell(pic, 0, 2 * q, (112, 112), 3);
                assert!(colours(&query) >= 8, "{file}: query {q} is blank");
                // a test image's nearest test image is itself, in both spaces
                assert_eq!(
                    cell(pic, 1, 2 * q, (112, 112), 3),
                    query,
                    "{file}: query {q}"
                );
                assert_eq!(
                    cell(pic, 1, 2 * q + 1, (112, 112), 3),
                    query,
                    "{file}: query {q}"
                );
                assert_eq!(
                    colours(&cell(pic, 0, 2 * q + 1, (112, 112), 3)),
                    1,
                    "{file}: the gap before the pixel neighbours is blank"
                );
            }
        }
        "occlusion.png" | "smoothgrad.png" => attribution(2),
        "guided.png" | "gradcam.png" | "ig.png" => attribution(1),
        "deepdream.png" => {
            // the image and the dream, 28 px enlarged 8 times, 8 px around and between
            assert_eq!(size, (3 * 8 + 2 * 224, 224 + 16), "{file}");
            let image = image::imageops::crop_imm(pic, 8, 8, 224, 224).to_image();
            let dream = image::imageops::crop_imm(pic, 8 + 224 + 8, 8, 224, 224).to_image();
            assert!(colours(&dream) >= 8, "{file}: the dream is blank");
            assert_ne!(image, dream, "{file}: the dream did not change the image");
        }
        other => panic!("no expectations for {other}"),
    }
}

/// `img` redrawn from every `f`-th pixel, each repeated `f` times: equal to `img` exactly
/// when `img` is an enlargement by `f`.
fn picture_blocks(img: &image::RgbImage, f: u32) -> image::RgbImage {
    image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
        *img.get_pixel(x / f * f, y / f * f)
    })
}

#[test]
fn every_technique_and_the_report_run_on_a_trained_net() {
    let tmp = tempfile::Builder::new()
        .prefix("fovea-vis-run-")
        .tempdir()
        .unwrap();
    let run = tmp.path().join("run");
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
        let path = vis.join(file);
        let pic = image::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_rgb8();
        check_picture(file, &pic);
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
    assert!(
        html.contains("<title>What the arch spec learned</title>")
            && html.contains("<h1>What the arch spec learned</h1>"),
        "the report is titled by the model"
    );
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
