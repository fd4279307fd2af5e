//! `fovea bench suite`: the peer workloads W1-W6, timed the same way on every device and
//! printed beside other tools' figures from the same sitting.
//!
//! | id | workload |
//! |----|----------|
//! | W1 | matmul, M = N = K = 1024 (2.147 GFLOP) |
//! | W2 | conv2d forward, N 32, C 64 -> 64, 32x32, 3x3, padding 1 (2.416 GFLOP) |
//! | W3 | conv2d backward, grad input + grad weight of W2 (4.832 GFLOP) |
//! | W4 | a training step of the seed Net, batch 64 of 1x28x28, SGD lr 0.01 |
//! | W5 | a training step of the small VGG (no BN), batch 64, SGD momentum 0.9 |
//! | W6 | VGG-16 inference, batch 1, 3x224x224 (30.9 GFLOP) |
//!
//! W1-W3 and W6: the median of the timed runs after warm-up, the result read back to the
//! host inside each timed run. W4 and W5: 3 warm-up steps, then 20 timed steps with the loss
//! read back after the last; the figure is the total over 20. No data loading, no test pass.
//! `--profile` adds, per GPU workload, one run with each kernel waited for, and prints where
//! its time went.

use fovea_device::{Array, Conv2dOptions, CrossEntropyOptions, Device};
use fovea_graph::{cross_entropy, no_grad, Tensor};
use fovea_nn::{Module, ModuleExt, Optimizer, Sgd};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

type Error = Box<dyn std::error::Error>;

/// A workload of the suite.
struct Workload {
    id: &'static str,
    what: &'static str,
    /// GFLOP of one run, or `None` for training steps (rated in steps/s)
    gflop: Option<f64>,
}

const CONV_GFLOP: f64 = 2.0 * 32.0 * 64.0 * 32.0 * 32.0 * 64.0 * 9.0 / 1e9;

const WORKLOADS: [Workload; 6] = [
    Workload {
        id: "W1",
        what: "matmul 1024x1024x1024",
        gflop: Some(2.0 * 1024.0 * 1024.0 * 1024.0 / 1e9),
    },
    Workload {
        id: "W2",
        what: "conv2d forward N32 C64 32x32 3x3",
        gflop: Some(CONV_GFLOP),
    },
    Workload {
        id: "W3",
        what: "conv2d backward (input + weight)",
        gflop: Some(2.0 * CONV_GFLOP),
    },
    Workload {
        id: "W4",
        what: "train step, seed Net, batch 64",
        gflop: None,
    },
    Workload {
        id: "W5",
        what: "train step, small VGG, batch 64",
        gflop: None,
    },
    Workload {
        id: "W6",
        what: "VGG-16 inference, 224x224, batch 1",
        gflop: Some(VGG16_GFLOP),
    },
];

/// Multiply-adds x 2 of torchvision's VGG-16 at 224x224: 13 convolutions and 3 linear layers.
const VGG16_GFLOP: f64 = 30.941;

/// One measurement.
#[derive(Clone, Copy)]
struct Measure {
    seconds: f64,
    rate: f64,
    /// compute dispatches per run (GPU only)
    dispatches: Option<f64>,
    /// device buffers created during the 20 timed training steps (GPU only): 0 when every
    /// step reuses the pool's buffers
    new_buffers: Option<u64>,
}

/// Runs the suite on each device (`gpu`, `cpu`) for the chosen workloads, and prints a table
/// with each peer's figures (files of `ID MEDIAN_SECONDS RATE` lines) and the ratios.
pub fn suite(
    devices: &[String],
    only: &[String],
    reps: usize,
    peers: &[String],
    profile: bool,
) -> Result<(), Error> {
    let chosen: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| only.is_empty() || only.iter().any(|o| o.eq_ignore_ascii_case(w.id)))
        .collect();
    if chosen.is_empty() {
        return Err(format!("--only {}: the workloads are W1 to W6", only.join(",")).into());
    }
    let peers = peers
        .iter()
        .map(|p| read_peer(p))
        .collect::<Result<Vec<_>, Error>>()?;
    let mut columns: Vec<(String, HashMap<&str, Measure>)> = Vec::new();
    for name in devices {
        let (dev, why) = Device::choose(name)?;
        println!("{why}");
        let label = if dev.is_cpu() {
            "fovea cpu".to_string()
        } else {
            "fovea gpu".to_string()
        };
        let mut got = HashMap::new();
        for w in &chosen {
            let m = measure(w, &dev, reps, profile)?;
            let mut per = match m.dispatches {
                Some(d) => format!(", {d:.0} dispatches"),
                None => String::new(),
            };
            if let Some(n) = m.new_buffers {
                per += &format!(", {n} new buffers in 20 steps");
            }
            println!(
                "  {} {:<36} {:>9.4} s  {:>8.2} {}{per}",
                w.id,
                w.what,
                m.seconds,
                m.rate,
                unit(w)
            );
            got.insert(w.id, m);
        }
        columns.push((label, got));
    }
    print_table(&chosen, &columns, &peers);
    Ok(())
}

fn unit(w: &Workload) -> &'static str {
    if w.gflop.is_some() {
        "GFLOP/s"
    } else {
        "steps/s"
    }
}

/// A peer's figures: `name=path` (or a path, named by its file stem) of `ID SECONDS RATE`
/// lines; `#` starts a comment.
fn read_peer(spec: &str) -> Result<(String, HashMap<String, f64>), Error> {
    let (name, path) = match spec.split_once('=') {
        Some((n, p)) => (n.to_string(), PathBuf::from(p)),
        None => {
            let p = PathBuf::from(spec);
            let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned());
            (stem.unwrap_or_else(|| spec.to_string()), p)
        }
    };
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("--peer {}: {e}", path.display()))?;
    let mut rates = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        match (f.first(), f.get(2).and_then(|r| r.parse::<f64>().ok())) {
            (Some(id), Some(rate)) => {
                rates.insert(id.to_uppercase(), rate);
            }
            _ => {
                return Err(format!(
                    "--peer {}: `{line}` is not `ID MEDIAN_SECONDS RATE`",
                    path.display()
                )
                .into())
            }
        }
    }
    Ok((name, rates))
}

fn print_table(
    chosen: &[&Workload],
    columns: &[(String, HashMap<&str, Measure>)],
    peers: &[(String, HashMap<String, f64>)],
) {
    let mut head = format!("\n{:<40} {:>8}", "workload", "unit");
    for (name, _) in columns {
        head += &format!(" {name:>10}");
    }
    for (name, _) in peers {
        head += &format!(" {name:>10}");
    }
    for (peer, _) in peers {
        for (name, _) in columns {
            let short = name.trim_start_matches("fovea ");
            head += &format!(" {:>10}", format!("{short}/{peer}"));
        }
    }
    println!("{head}");
    for w in chosen {
        let mut line = format!("{:<40} {:>8}", format!("{} {}", w.id, w.what), unit(w));
        for (_, got) in columns {
            line += &format!(" {:>10.2}", got[w.id].rate);
        }
        for (_, rates) in peers {
            match rates.get(w.id) {
                Some(r) => line += &format!(" {r:>10.2}"),
                None => line += &format!(" {:>10}", "-"),
            }
        }
        for (_, rates) in peers {
            for (_, got) in columns {
                match rates.get(w.id) {
                    Some(r) => line += &format!(" {:>9.2}x", got[w.id].rate / r),
                    None => line += &format!(" {:>10}", "-"),
                }
            }
        }
        println!("{line}");
    }
    println!("(rates: higher is better; a ratio above 1 means Fovea is faster)");
}

/// The median of `reps` timed runs of `f` after `warmup` untimed ones.
fn median(
    warmup: usize,
    reps: usize,
    mut f: impl FnMut() -> Result<(), Error>,
) -> Result<f64, Error> {
    for _ in 0..warmup {
        f()?;
    }
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Compute dispatches recorded by `dev` so far (0 on the CPU).
fn dispatches(dev: &Device) -> Option<u64> {
    dev.engine().map(|e| e.dispatch_count())
}

/// Device buffers the pool of `dev` has created so far (`None` on the CPU).
fn buffers_created(dev: &Device) -> Option<u64> {
    dev.engine().map(|e| e.pool_stats().created)
}

/// One run of a workload: `run(true)` reads the result back to the host; `run(false)` (a
/// training step before the last) leaves it on the device.
type Run<'a> = Box<dyn FnMut(bool) -> Result<(), Error> + 'a>;

/// Builds a workload's inputs and model on `dev`, and returns its run.
fn prepare<'a>(w: &Workload, dev: &'a Device) -> Result<Run<'a>, Error> {
    Ok(match w.id {
        "W1" => {
            let a = Array::randn(dev, &[1024, 1024], 1)?;
            let b = Array::randn(dev, &[1024, 1024], 2)?;
            Box::new(move |_| {
                a.matmul(&b)?.to_vec()?;
                Ok(())
            })
        }
        "W2" | "W3" => {
            let opts = Conv2dOptions::new(1, 1, 1);
            let x = Array::randn(dev, &[32, 64, 32, 32], 3)?;
            let wt = Array::randn(dev, &[64, 64, 3, 3], 4)?.mul_scalar(0.05)?;
            if w.id == "W2" {
                Box::new(move |_| {
                    x.conv2d(&wt, None, opts)?.to_vec()?;
                    Ok(())
                })
            } else {
                let dy = Array::ones(dev, &[32, 64, 32, 32])?;
                Box::new(move |_| {
                    let dx = Array::conv2d_backward_data(&dy, &wt, x.shape(), opts)?;
                    let dw = Array::conv2d_backward_weight(&x, &dy, wt.shape(), opts)?;
                    dx.to_vec()?;
                    dw.to_vec()?;
                    Ok(())
                })
            }
        }
        "W4" => train_step(dev, fovea_models::Net::new(1, 10), 0.0)?,
        "W5" => train_step(dev, fovea_models::SmallVgg::new(1, 10, false, 0.5), 0.9)?,
        "W6" => {
            let net = fovea_models::Vgg::new(16, false, 3, 1000)?;
            net.to_device(dev)?;
            net.eval();
            let x = Tensor::new(Array::randn(dev, &[1, 3, 224, 224], 5)?);
            Box::new(move |_| {
                no_grad(|| net.call(&x))?.to_vec()?;
                Ok(())
            })
        }
        other => return Err(format!("unknown workload {other}").into()),
    })
}

/// Times a workload. W1-W3: the median of `reps` runs after 2 warm-up runs; W6: of at most
/// 5 after 1; W4 and W5: 3 warm-up steps, then 20 timed steps with the loss read back after
/// the last. With `profile` (GPU only), one more run with the kernel profiler on follows.
fn measure(w: &Workload, dev: &Device, reps: usize, profile: bool) -> Result<Measure, Error> {
    let mut run = prepare(w, dev)?;
    let before = dispatches(dev);
    let mut new_buffers = None;
    let (seconds, runs) = match w.id {
        "W4" | "W5" => {
            run(false)?;
            run(false)?;
            run(true)?;
            let created = buffers_created(dev);
            let t = Instant::now();
            for i in 0..20 {
                run(i == 19)?;
            }
            let seconds = t.elapsed().as_secs_f64() / 20.0;
            if let (Some(b), Some(a)) = (created, buffers_created(dev)) {
                new_buffers = Some(a - b);
            }
            (seconds, 23)
        }
        "W6" => (median(1, reps.min(5), || run(true))?, 1 + reps.min(5)),
        _ => (median(2, reps, || run(true))?, 2 + reps),
    };
    let rate = match w.gflop {
        Some(g) => g / seconds,
        None => 1.0 / seconds,
    };
    let dispatches = match (before, dispatches(dev)) {
        (Some(b), Some(a)) => Some((a - b) as f64 / runs as f64),
        _ => None,
    };
    if let (true, Some(e)) = (profile, dev.engine()) {
        e.set_profiling(true)?;
        let done = run(true);
        e.set_profiling(false)?;
        done?;
        print_profile(&e.kernel_times());
    }
    Ok(Measure {
        seconds,
        rate,
        dispatches,
        new_buffers,
    })
}

/// The kernels of one profiled run, longest first: the top 12 and the rest summed.
fn print_profile(times: &[fovea_device::KernelTime]) {
    let total: f64 = times.iter().map(|t| t.time.as_secs_f64()).sum();
    println!(
        "     profile of one run ({:.1} ms, each launch waited for):",
        total * 1e3
    );
    for t in times.iter().take(12) {
        let ms = t.time.as_secs_f64() * 1e3;
        let [x, y, z] = t.groups;
        println!(
            "     {:>8.2} ms {:>5.1}%  {:>3}x {:<28} {x}x{y}x{z} workgroups",
            ms,
            100.0 * ms / (total * 1e3),
            t.calls,
            t.kernel
        );
    }
    if times.len() > 12 {
        let rest: f64 = times[12..].iter().map(|t| t.time.as_secs_f64()).sum();
        println!(
            "     {:>8.2} ms {:>5.1}%  in {} other kernels",
            rest * 1e3,
            100.0 * rest / total,
            times.len() - 12
        );
    }
}

/// A training step on a batch of 64 random 1x28x28 images with labels `7i mod 10`; the
/// loss is read back when asked.
fn train_step<'a>(dev: &'a Device, net: impl Module + 'a, momentum: f32) -> Result<Run<'a>, Error> {
    net.to_device(dev)?;
    net.train();
    let mut opt = Sgd::new(net.parameters(), 0.01).momentum(momentum);
    let x = Tensor::new(Array::randn(dev, &[64, 1, 28, 28], 6)?);
    let labels: Vec<f32> = (0..64).map(|i| (i * 7 % 10) as f32).collect();
    let y = Array::from_slice(dev, &labels, &[64])?;
    Ok(Box::new(move |read| {
        let loss = cross_entropy(&net.call(&x)?, &y, CrossEntropyOptions::default())?;
        opt.zero_grad();
        loss.backward()?;
        opt.step()?;
        if read {
            loss.item()?;
        }
        Ok(())
    }))
}
