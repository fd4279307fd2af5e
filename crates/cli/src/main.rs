//! `fovea`: the command line of the Fovea CNN framework.

mod bench;
mod suite;

use clap::{Parser, Subcommand};
use fovea_cli::run::Which;
use fovea_cli::train::{self, TrainConfig};
use fovea_cli::{compare, fetch, predict, report, vis_cmd, Res};
use fovea_device::Device;
use std::path::PathBuf;
use std::process::ExitCode;

/// Fovea: convolutional networks on WebGPU compute shaders, with a CPU reference backend.
#[derive(Parser)]
#[command(name = "fovea", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the adapter Fovea picks, its limits, and run a quick GPU-vs-reference self-check.
    Info {
        /// Device to describe: gpu, cpu or best (GPU, falling back to the CPU).
        #[arg(long, default_value = "best")]
        device: String,
    },
    /// Train a model on Fashion-MNIST, MNIST or an image folder, with a progress bar, a test
    /// pass per epoch and a run folder (metrics.csv, loss.svg, accuracy.svg, confusion.svg,
    /// checkpoints, run.json).
    Train(Box<TrainConfig>),
    /// Evaluate a run folder's best checkpoint on the test set.
    Eval {
        /// The run folder `fovea train --out` wrote.
        run_dir: PathBuf,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "best")]
        device: String,
        /// Folder holding the dataset's IDX files.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Classify image files with a trained run: the top classes and their probabilities.
    Predict {
        /// The run folder `fovea train --out` wrote.
        run_dir: PathBuf,
        /// Image files (PNG, JPEG, BMP, GIF, PNM, TIFF, WebP); resized to the net's input.
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// How many classes to show per image.
        #[arg(long, default_value_t = 3)]
        top: usize,
        /// Which checkpoint to use.
        #[arg(long, value_enum, default_value = "best")]
        checkpoint: Which,
        /// Invert the grey levels first (dark objects on light backgrounds, unlike
        /// Fashion-MNIST).
        #[arg(long)]
        invert: bool,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "best")]
        device: String,
    },
    /// Plot several runs' test accuracy and training loss in one picture.
    Compare {
        /// Run folders written by `fovea train`.
        #[arg(required = true)]
        run_dirs: Vec<PathBuf>,
        /// The SVG to write.
        #[arg(long, default_value = "compare.svg")]
        out: PathBuf,
    },
    /// See what a trained net learned: filters, features, patches, neighbours, PCA, t-SNE,
    /// occlusion, saliency, guided backprop, Grad-CAM, integrated gradients, DeepDream, style.
    Visualize {
        #[command(subcommand)]
        technique: vis_cmd::Technique,
    },
    /// Write one self-contained HTML page showing what a run learned.
    Report(report::ReportConfig),
    /// Datasets: download them.
    Data {
        #[command(subcommand)]
        what: DataCommand,
    },
    /// Measure kernels and print GFLOP/s beside a CPU library baseline run in the same process.
    Bench {
        #[command(subcommand)]
        what: bench::Bench,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Download a dataset's official files, check their SHA-256 and move them into place.
    Fetch {
        /// fashion-mnist or mnist
        dataset: String,
        /// Folder to write to [default: $FOVEA_DATA/<dataset> or ./data/<dataset>].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Base URL to download from instead of the official mirrors (repeatable).
        #[arg(long)]
        mirror: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Res<()> = match cli.command {
        Command::Info { device } => info(&device),
        Command::Bench { what } => bench::run(what),
        Command::Train(cfg) => train::train(&cfg).map(|_| ()),
        Command::Eval {
            run_dir,
            device,
            data_dir,
        } => train::eval_run(&run_dir, &device, data_dir.as_deref()).map(|e| {
            println!("test loss {:.4}, accuracy {:.4}", e.loss, e.acc);
        }),
        Command::Predict {
            run_dir,
            images,
            top,
            checkpoint,
            invert,
            device,
        } => predict::predict(&run_dir, &images, top, checkpoint, &device, invert).map(|preds| {
            for p in preds {
                let classes: Vec<String> = p
                    .top
                    .iter()
                    .map(|(c, prob)| format!("{c} {prob:.3}"))
                    .collect();
                println!("{}: {}", p.path.display(), classes.join(", "));
            }
        }),
        Command::Compare { run_dirs, out } => compare::compare(&run_dirs, &out).map(|rows| {
            for r in rows {
                println!(
                    "{}: best test accuracy {:.4} (epoch {} of {}), {:.1} s/epoch",
                    r.label, r.best.0, r.best.1, r.epochs, r.seconds_per_epoch
                );
            }
            println!("wrote {}", out.display());
        }),
        Command::Visualize { technique } => vis_cmd::run(technique),
        Command::Report(cfg) => report::report(&cfg).map(|(path, timings)| {
            for (name, s) in timings {
                println!("{name}: {s:.2} s");
            }
            println!("wrote {}", path.display());
        }),
        Command::Data {
            what:
                DataCommand::Fetch {
                    dataset,
                    dir,
                    mirror,
                },
        } => fetch::fetch_dataset(&dataset, dir.as_deref(), &mirror).map(|d| {
            println!("{dataset} is in {}", d.display());
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fovea: {e}");
            ExitCode::FAILURE
        }
    }
}

fn info(device: &str) -> Res<()> {
    let adapters = Device::adapters()?;
    println!("adapters ({}):", adapters.len());
    for a in &adapters {
        let kind = if a.is_software() {
            "software"
        } else {
            "hardware"
        };
        println!("  {a} [{kind}]");
    }
    let (dev, why) = Device::choose(device)?;
    println!("{why}");
    println!("device: {}", dev.describe());
    let check = fovea_device::self_check(&dev)?;
    println!("self-check against the CPU reference: {check}");
    Ok(())
}
