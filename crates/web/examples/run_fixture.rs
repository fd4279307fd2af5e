//! Writes what the browser suite `tests/browser_run.rs` checks a `fovea train` run
//! against: `OUT/run/` (a one-epoch run of the Net on 1,000 Fashion-MNIST images, CPU
//! backend), `OUT/images/0.png ... 7.png` (test images) and `OUT/expected.txt` (the class
//! `fovea predict` gives each, one per line). `make web-test` runs it first.
//!
//! Usage: `cargo run -p fovea-web --example run_fixture -- OUT`

use fovea_cli::predict::predict;
use fovea_cli::run::Which;
use fovea_cli::train::{train, TrainConfig};
use fovea_data::{MnistKind, Split};

/// Test images the browser predicts.
const IMAGES: usize = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: run_fixture OUT_DIR")?,
    );
    let run = out.join("run");
    train(&TrainConfig {
        epochs: Some(1),
        device: "cpu".into(),
        out: run.clone(),
        overwrite: true,
        train_limit: Some(1000),
        test_limit: Some(200),
        ..TrainConfig::default()
    })?;
    let test = MnistKind::Fashion.load_official(Split::Test, None)?;
    let dir = out.join("images");
    std::fs::create_dir_all(&dir)?;
    let mut paths = Vec::new();
    for i in 0..IMAGES {
        let p = dir.join(format!("{i}.png"));
        image::GrayImage::from_raw(28, 28, test.image(i).to_vec())
            .ok_or("a 28x28 image")?
            .save(&p)?;
        paths.push(p);
    }
    let expected: Vec<String> = predict(&run, &paths, 1, Which::Best, "cpu", false)?
        .into_iter()
        .map(|p| p.top[0].0.clone())
        .collect();
    std::fs::write(out.join("expected.txt"), expected.join("\n") + "\n")?;
    eprintln!("wrote {}: run/, images/, expected.txt", out.display());
    Ok(())
}
