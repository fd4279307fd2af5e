//! `fovea bench`: kernel throughput next to a CPU library baseline timed in the same run.

use clap::Subcommand;
use fovea_device::gpu::MatmulKernel;
use fovea_device::{Array, Device};
use std::time::Instant;

/// Benchmarks.
#[derive(Subcommand)]
pub enum Bench {
    /// Square matrix products: GPU kernel, CPU reference (small sizes) and matrixmultiply's sgemm.
    Matmul {
        /// Matrix sizes n (each product is n x n x n).
        #[arg(long, value_delimiter = ',', default_value = "1024,4096")]
        sizes: Vec<usize>,
        /// Timed repetitions per size (after one warm-up).
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Largest size the CPU reference loops are timed at.
        #[arg(long, default_value_t = 1024)]
        reference_max: usize,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "gpu")]
        device: String,
    },
}

/// Runs one benchmark.
pub fn run(what: Bench) -> Result<(), Box<dyn std::error::Error>> {
    match what {
        Bench::Matmul {
            sizes,
            reps,
            reference_max,
            device,
        } => matmul(&sizes, reps.max(1), reference_max, &device),
    }
}

/// Seconds per call of `f`, the best of `reps` after a warm-up (best-of filters out noise from
/// other work on a shared machine).
fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = f();
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, out)
}

fn sgemm(n: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut c = vec![0.0f32; n * n];
    let s = n as isize;
    // SAFETY: the three slices hold n*n elements each, row-major with row stride n.
    unsafe {
        matrixmultiply::sgemm(
            n,
            n,
            n,
            1.0,
            a.as_ptr(),
            s,
            1,
            b.as_ptr(),
            s,
            1,
            0.0,
            c.as_mut_ptr(),
            s,
            1,
        );
    }
    c
}

fn matmul(
    sizes: &[usize],
    reps: usize,
    reference_max: usize,
    device: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let dev = Device::from_name(device)?;
    println!("device: {}", dev.name());
    println!(
        "{:>6}  {:>22}  {:>12}  {:>10}",
        "n", "implementation", "GFLOP/s", "ms"
    );
    for &n in sizes {
        let flop = 2.0 * (n as f64).powi(3);
        let host_a = Array::rand(&Device::cpu(), &[n, n], 1)?.to_vec()?;
        let host_b = Array::rand(&Device::cpu(), &[n, n], 2)?.to_vec()?;
        let a = Array::from_slice(&dev, &host_a, &[n, n])?;
        let b = Array::from_slice(&dev, &host_b, &[n, n])?;
        let row = |name: &str, secs: f64| {
            println!(
                "{n:>6}  {name:>22}  {:>12.1}  {:>10.1}",
                flop / secs / 1e9,
                secs * 1e3
            );
        };

        let (gpu_s, c) = time(reps, || -> fovea_device::Result<Array> {
            let c = a.matmul(&b)?;
            dev.sync()?;
            Ok(c)
        });
        let c = c?;
        let name = match dev.engine().map(|e| e.matmul_kernel()) {
            Some(MatmulKernel::Tiled) => "fovea gpu (tiled)".to_string(),
            Some(MatmulKernel::Subgroup { size }) => format!("fovea gpu (subgroup {size})"),
            None => "fovea cpu".to_string(),
        };
        row(&name, gpu_s);

        let (lib_s, want) = time(reps, || sgemm(n, &host_a, &host_b));
        row("matrixmultiply sgemm", lib_s);

        if n <= reference_max && !dev.is_cpu() {
            let (ra, rb) = (
                Array::from_slice(&Device::cpu(), &host_a, &[n, n])?,
                Array::from_slice(&Device::cpu(), &host_b, &[n, n])?,
            );
            let (ref_s, _) = time(1, || ra.matmul(&rb));
            row("fovea cpu reference", ref_s);
        }
        let got = c.to_vec()?;
        let err = got
            .iter()
            .zip(&want)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0f32, f32::max);
        println!(
            "{n:>6}  {:>22}  {:>12.2}  max |fovea - sgemm| = {err:.2e}",
            "ratio fovea / sgemm",
            lib_s / gpu_s
        );
        if err > 1e-3 * n as f32 {
            return Err(format!("the {n}^3 product disagrees with sgemm by {err}").into());
        }
    }
    Ok(())
}
