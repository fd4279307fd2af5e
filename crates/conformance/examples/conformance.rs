//! Runs PyTorch's conformance cases on a device:
//!
//! ```text
//! cargo run --release -p fovea-conformance --example conformance -- tests/fixtures/ops --device gpu
//! ```
//!
//! Prints one line per case with the worst error per tensor, then `N passed, M failed`;
//! exits non-zero if any case fails or a file is malformed.

use clap::Parser;
use fovea_conformance as conformance;
use fovea_device::Device;
use std::process::ExitCode;

/// Check Fovea's ops against PyTorch's conformance cases (safetensors files).
#[derive(Parser)]
struct Args {
    /// folder of case files
    dir: std::path::PathBuf,
    /// gpu, cpu or best
    #[arg(long, default_value = "gpu")]
    device: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let dev = match Device::from_name(&args.device) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("conformance: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("device: {}", dev.name());
    let reports = match conformance::run_dir(&args.dir, &dev) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("conformance: {e}");
            return ExitCode::FAILURE;
        }
    };
    for r in &reports {
        println!("{}", r.line());
    }
    let passed = reports.iter().filter(|r| r.passed()).count();
    println!("{passed} passed, {} failed", reports.len() - passed);
    if passed == reports.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
