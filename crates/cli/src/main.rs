//! `fovea`: the command line of the Fovea CNN framework.

mod bench;

use clap::{Parser, Subcommand};
use fovea_cli::train::{self, TrainConfig};
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
    /// Train a model on Fashion-MNIST or MNIST, with a progress bar, a test pass per epoch
    /// and a run folder (metrics.csv, loss.svg, accuracy.svg, confusion.svg, checkpoints).
    Train(TrainConfig),
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
    /// Measure kernels and print GFLOP/s beside a CPU library baseline run in the same process.
    Bench {
        #[command(subcommand)]
        what: bench::Bench,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fovea: {e}");
            ExitCode::FAILURE
        }
    }
}

fn info(device: &str) -> Result<(), Box<dyn std::error::Error>> {
    let dev = Device::from_name(device)?;
    println!("device: {}", dev.describe());
    let check = fovea_device::self_check(&dev)?;
    println!("self-check against the CPU reference: {check}");
    Ok(())
}
