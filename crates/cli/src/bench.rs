//! `fovea bench`: kernel throughput next to a CPU library baseline timed in the same run.

use clap::Subcommand;
use fovea_device::MatmulKernel;
use fovea_device::{Array, Device};
use std::time::Instant;

/// Benchmarks.
#[derive(Subcommand)]
pub enum Bench {
    /// The peer workloads W1-W6 (matmul, conv forward and backward, two training steps,
    /// VGG-16 inference) on each device, beside peers' figures from the same sitting.
    Suite {
        /// Devices, in columns: gpu, cpu or best.
        #[arg(long, value_delimiter = ',', default_value = "gpu,cpu")]
        device: Vec<String>,
        /// Only these workloads (W1 ... W6).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Timed repetitions of W1-W3 (W6: at most 5); W4 and W5 always time 20 steps.
        #[arg(long, default_value_t = 7)]
        reps: usize,
        /// A peer's figures, `NAME=FILE` of `ID MEDIAN_SECONDS RATE` lines (what
        /// scripts/bench_torch.py and the peers' harnesses print); repeatable.
        #[arg(long)]
        peer: Vec<String>,
        /// After each GPU workload, profile one more run: kernels longest first, each
        /// launch waited for (so the total is slower than the timed figure).
        #[arg(long)]
        profile: bool,
    },
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
    /// A 3x3 convolution, forward and backward (data + weight), next to im2col + sgemm.
    Conv {
        #[command(flatten)]
        shape: ConvShape,
        /// Timed repetitions (after one warm-up).
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Device: gpu, cpu or best.
        #[arg(long, default_value = "gpu")]
        device: String,
    },
    /// Peak device memory of one training step (forward, cross-entropy, backward, SGD with
    /// momentum) on random data: the buffer pool's high-water mark.
    Memory {
        /// Model (see `fovea train --model`).
        #[arg(long, default_value = "vgg16")]
        model: String,
        /// Image height and width (3-channel input).
        #[arg(long, default_value_t = 224)]
        size: usize,
        /// Images per step.
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Classes.
        #[arg(long, default_value_t = 1000)]
        classes: usize,
        /// Device: gpu or best (the CPU backend has no buffer pool).
        #[arg(long, default_value = "gpu")]
        device: String,
    },
    /// One t-SNE gradient at N points: exact O(N^2) as device ops against Barnes-Hut on the
    /// host, the choice `fovea visualize tsne` makes.
    Tsne {
        /// Points.
        #[arg(long, default_value_t = 10000)]
        n: usize,
        /// Device for the exact gradient: gpu, cpu or best.
        #[arg(long, default_value = "gpu")]
        device: String,
    },
}

/// Shape of the convolution benchmark (the issue's: N=32, C=64, 32x32, 3x3, padding 1).
#[derive(clap::Args, Clone, Copy)]
pub struct ConvShape {
    /// batch
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// input and output channels
    #[arg(long, default_value_t = 64)]
    pub channels: usize,
    /// image height and width
    #[arg(long, default_value_t = 32)]
    pub size: usize,
}

/// Runs one benchmark.
pub fn run(what: Bench) -> Result<(), Box<dyn std::error::Error>> {
    match what {
        Bench::Suite {
            device,
            only,
            reps,
            peer,
            profile,
        } => crate::suite::suite(&device, &only, reps, &peer, profile),
        Bench::Tsne { n, device } => tsne(n, &device),
        Bench::Memory {
            model,
            size,
            batch,
            classes,
            device,
        } => memory(&model, size, batch, classes, &device),
        Bench::Conv {
            shape,
            reps,
            device,
        } => conv(shape, reps.max(1), &device),
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

/// matrixmultiply's sgemm on every core: C cut into row blocks, one thread each.
fn sgemm(n: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut c = vec![0.0f32; n * n];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let rows = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (i, block) in c.chunks_mut(rows * n).enumerate() {
            let a = &a[i * rows * n..];
            s.spawn(move || {
                let m = block.len() / n;
                let st = n as isize;
                // SAFETY: `a` holds at least m rows of n, `b` n x n and `block` m x n, all
                // row-major with row stride n.
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        n,
                        n,
                        1.0,
                        a.as_ptr(),
                        st,
                        1,
                        b.as_ptr(),
                        st,
                        1,
                        0.0,
                        block.as_mut_ptr(),
                        st,
                        1,
                    );
                }
            });
        }
    });
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

/// `[C*9, N*H*W]` columns of a 3x3, padding-1, stride-1 convolution's input.
fn im2col(x: &[f32], n: usize, c: usize, s: usize) -> Vec<f32> {
    let cols = n * s * s;
    let mut out = vec![0.0; c * 9 * cols];
    for ci in 0..c {
        for t in 0..9 {
            let (dy, dx) = (t / 3, t % 3);
            let row = &mut out[(ci * 9 + t) * cols..(ci * 9 + t + 1) * cols];
            for b in 0..n {
                for y in 0..s {
                    for xx in 0..s {
                        let (iy, ix) = ((y + dy) as isize - 1, (xx + dx) as isize - 1);
                        if iy >= 0 && ix >= 0 && (iy as usize) < s && (ix as usize) < s {
                            row[(b * s + y) * s + xx] =
                                x[((b * c + ci) * s + iy as usize) * s + ix as usize];
                        }
                    }
                }
            }
        }
    }
    out
}

/// `C[m, n] = A[m, k] B[k, n]` with explicit strides for A and B (so transposes are free):
/// matrixmultiply's sgemm on every core, C cut into row blocks.
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    rsa: isize,
    csa: isize,
    b: &[f32],
    rsb: isize,
    csb: isize,
) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let rows = m.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (i, block) in c.chunks_mut(rows * n).enumerate() {
            s.spawn(move || {
                // SAFETY: the callers pass slices holding every element the strides address;
                // this block's rows of A start `i * rows` rows in.
                unsafe {
                    matrixmultiply::sgemm(
                        block.len() / n,
                        k,
                        n,
                        1.0,
                        a.as_ptr().offset((i * rows) as isize * rsa),
                        rsa,
                        csa,
                        b.as_ptr(),
                        rsb,
                        csb,
                        0.0,
                        block.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
            });
        }
    });
    c
}

fn conv(shape: ConvShape, reps: usize, device: &str) -> Result<(), Box<dyn std::error::Error>> {
    use fovea_device::ConvAlgo;
    use fovea_device::{Conv2dOptions, GpuOptions};
    let dev = Device::from_name(device)?;
    let (n, c, s) = (shape.batch, shape.channels, shape.size);
    let opts = Conv2dOptions::new(1, 1, 1);
    let flop = 2.0 * (n * c * s * s * c * 9) as f64;
    println!("device: {}", dev.name());
    println!(
        "conv2d N={n} C_in=C_out={c} {s}x{s} 3x3 pad 1: {:.2} GFLOP forward, {:.2} backward",
        flop / 1e9,
        2.0 * flop / 1e9
    );
    println!(
        "{:>10}  {:>24}  {:>10}  {:>10}",
        "direction", "implementation", "GFLOP/s", "ms"
    );
    let row = |dir: &str, name: &str, f: f64, secs: f64| {
        println!(
            "{dir:>10}  {name:>24}  {:>10.1}  {:>10.1}",
            f / secs / 1e9,
            secs * 1e3
        );
    };
    let host_x = Array::rand(&Device::cpu(), &[n, c, s, s], 1)?.to_vec()?;
    let host_w = Array::rand(&Device::cpu(), &[c, c, 3, 3], 2)?.to_vec()?;
    let host_dy = Array::rand(&Device::cpu(), &[n, c, s, s], 3)?.to_vec()?;
    let upload = |d: &Device| -> fovea_device::Result<(Array, Array, Array)> {
        Ok((
            Array::from_slice(d, &host_x, &[n, c, s, s])?,
            Array::from_slice(d, &host_w, &[c, c, 3, 3])?,
            Array::from_slice(d, &host_dy, &[n, c, s, s])?,
        ))
    };
    let (_, w, dy) = upload(&dev)?;

    // Each of the engine's ways (a device opened with each, on the same adapter), then the
    // batched GEMMs alone: the ceiling of im2col + matmul.
    let algos: Vec<(Device, &str)> = match dev.engine() {
        Some(_) => {
            let with = |algo| -> fovea_device::Result<Device> {
                Device::gpu_with(&GpuOptions {
                    conv: Some(algo),
                    ..GpuOptions::from_env()?
                })
            };
            vec![
                (with(ConvAlgo::Im2col)?, "fovea im2col + matmul"),
                (with(ConvAlgo::ImplicitGemm)?, "fovea implicit GEMM"),
            ]
        }
        None => vec![(dev.clone(), "fovea reference")],
    };
    let mut fwd_s = f64::MAX;
    for (d, name) in &algos {
        let (x, w, _) = upload(d)?;
        let (secs, _) = time(reps, || -> fovea_device::Result<()> {
            x.conv2d(&w, None, opts)?;
            d.sync()
        });
        row("forward", name, flop, secs);
        fwd_s = fwd_s.min(secs);
    }
    let (k, p) = (c * 9, s * s);
    let w2 = w.reshape(&[c, k])?;
    let cols = Array::rand(&dev, &[n, k, p], 4)?;
    let dy3 = dy.reshape(&[n, c, p])?;
    let (gemm_fwd, _) = time(reps, || -> fovea_device::Result<()> {
        w2.matmul(&cols)?;
        dev.sync()
    });
    row("forward", "its GEMM alone", flop, gemm_fwd);
    let (base_fwd, _) = time(reps, || {
        gemm(
            c,
            c * 9,
            n * s * s,
            &host_w,
            (c * 9) as isize,
            1,
            &im2col(&host_x, n, c, s),
            (n * s * s) as isize,
            1,
        )
    });
    row("forward", "im2col + sgemm", flop, base_fwd);

    let mut bwd_s = f64::MAX;
    for (d, name) in &algos {
        let (x, w, dy) = upload(d)?;
        let (secs, _) = time(reps, || -> fovea_device::Result<()> {
            Array::conv2d_backward_data(&dy, &w, &[n, c, s, s], opts)?;
            Array::conv2d_backward_weight(&x, &dy, &[c, c, 3, 3], opts)?;
            d.sync()
        });
        row("backward", name, 2.0 * flop, secs);
        bwd_s = bwd_s.min(secs);
    }
    let (gemm_bwd, _) = time(reps, || -> fovea_device::Result<()> {
        w2.matmul_t(&dy3, true, false)?;
        dy3.matmul_t(&cols, false, true)?;
        dev.sync()
    });
    row("backward", "its 2 GEMMs alone", 2.0 * flop, gemm_bwd);
    // Baseline: d(cols) = W^T dY (the col2im scatter is left out, which favours the baseline),
    // dW = dY cols^T; dY is laid out [C, N*H*W] as im2col's columns are.
    let cols_n = n * s * s;
    let (base_bwd, _) = time(reps, || {
        let cols = im2col(&host_x, n, c, s);
        let dcols = gemm(
            c * 9,
            c,
            cols_n,
            &host_w,
            1,
            (c * 9) as isize,
            &host_dy,
            cols_n as isize,
            1,
        );
        let dw = gemm(
            c,
            cols_n,
            c * 9,
            &host_dy,
            cols_n as isize,
            1,
            &cols,
            1,
            cols_n as isize,
        );
        (dcols, dw)
    });
    row("backward", "im2col + 2 sgemm", 2.0 * flop, base_bwd);
    println!(
        "ratios best fovea / baseline: forward {:.2}, backward {:.2}",
        base_fwd / fwd_s,
        base_bwd / bwd_s
    );
    Ok(())
}

/// Times one exact t-SNE gradient as device ops (pairwise affinities, `(P - Q) * num`, and
/// the product with `y`) against one Barnes-Hut gradient on the host.
fn tsne(n: usize, device: &str) -> Result<(), Box<dyn std::error::Error>> {
    use fovea_vis::embed::Rows;
    use fovea_vis::tsne::{affinities, gradient};
    let dev = Device::from_name(device)?;
    println!("t-SNE gradient at N = {n}; exact on {dev}, Barnes-Hut (theta 0.5) on the host");
    // 20 Gaussian clusters in 50-d, and a 2-D layout spread as mid-optimisation.
    let mut s = 7u64;
    let mut rnd = move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let data: Vec<f32> = (0..n * 50)
        .map(|i| rnd() + ((i / 50) % 20) as f32 * 0.3)
        .collect();
    let y: Vec<f32> = (0..2 * n).map(|_| rnd() * 60.0).collect();
    let t = Instant::now();
    let p = affinities(&Device::cpu(), &Rows::new(data, n, 50)?, 30.0)?;
    println!(
        "  affinities (90 neighbours each): {:.2} s, once per run",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let g = gradient(&p, &y, 1.0, 0.5);
    let bh = t.elapsed().as_secs_f64();
    println!("  Barnes-Hut gradient: {:.3} s ({} values)", bh, g.len());

    // Row blocks keep each N-wide array under the adapter's storage-binding limit: one pass
    // for Z = sum(1 / (1 + d^2)), one for the gradient rows.
    let ya = Array::from_slice(&dev, &y, &[n, 2])?;
    let block = (16 << 20) / n.max(1);
    let sq = ya.mul(&ya)?.sum(&[1], false)?.reshape(&[1, n])?;
    let num_rows = |r0: usize, r1: usize| -> Result<Array, Box<dyn std::error::Error>> {
        let yb = ya.slice(0, r0, r1, 1)?;
        let sb = yb.mul(&yb)?.sum(&[1], true)?;
        let d = sb
            .add(&sq)?
            .sub(&yb.matmul_t(&ya, false, true)?.mul_scalar(2.0)?)?;
        Ok(d.add_scalar(1.0)?.powf(-1.0)?)
    };
    let t = Instant::now();
    let mut z = 0.0f64;
    for r0 in (0..n).step_by(block) {
        z += num_rows(r0, (r0 + block).min(n))?
            .sum(&[], false)?
            .to_vec()?[0] as f64;
    }
    z -= n as f64;
    let mut rows = Vec::with_capacity(2 * n);
    for r0 in (0..n).step_by(block) {
        let r1 = (r0 + block).min(n);
        let num = num_rows(r0, r1)?;
        let p = Array::uniform(&dev, &[r1 - r0, n], 0.0, 2.0 / (n * n) as f32, r0 as u64)?;
        let w = p.sub(&num.mul_scalar(1.0 / z as f32)?)?.mul(&num)?;
        let g = w
            .sum(&[1], true)?
            .mul(&ya.slice(0, r0, r1, 1)?)?
            .sub(&w.matmul(&ya)?)?
            .mul_scalar(4.0)?;
        rows.extend(g.to_vec()?);
    }
    let exact = t.elapsed().as_secs_f64();
    println!("  exact O(N^2) gradient on the device: {exact:.3} s");
    println!(
        "  per 1000 iterations: Barnes-Hut {:.0} s, exact {:.0} s ({:.1}x)",
        bh * 1000.0,
        exact * 1000.0,
        exact / bh.max(1e-9)
    );
    Ok(())
}

fn memory(
    model: &str,
    size: usize,
    batch: usize,
    classes: usize,
    device: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use fovea_device::CrossEntropyOptions;
    use fovea_graph::{cross_entropy, Tensor};
    use fovea_nn::{ModuleExt, Optimizer, Sgd};
    let dev = Device::from_name(device)?;
    let engine = dev.engine().ok_or(
        "fovea bench memory: --device cpu has no buffer pool to measure; use --device gpu",
    )?;
    let net = fovea_models::by_name(model, 3, classes)?;
    net.to_device(&dev)?;
    net.train();
    let mut opt = Sgd::new(net.parameters(), 0.01).momentum(0.9);
    let x = Tensor::new(Array::randn(&dev, &[batch, 3, size, size], 1)?);
    let labels: Vec<f32> = (0..batch).map(|i| (i % classes) as f32).collect();
    let y = Array::from_slice(&dev, &labels, &[batch])?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let params: usize = net
        .parameters()
        .iter()
        .map(|p| p.shape().iter().product::<usize>())
        .sum();
    println!("device: {}", dev.name());
    println!(
        "{model}, {batch} x 3 x {size} x {size}, {classes} classes: {:.1} M parameters ({:.0} MiB)",
        params as f64 / 1e6,
        mib(params as u64 * 4)
    );
    for step in 1..=2 {
        dev.sync()?;
        let before = engine.pool_stats().in_use_bytes;
        engine.reset_peak_bytes();
        let t = Instant::now();
        let loss = cross_entropy(&net.forward(&x)?, &y, CrossEntropyOptions::default())?;
        opt.zero_grad();
        loss.backward()?;
        opt.step()?;
        let value = loss.item()?;
        let peak = engine.pool_stats().peak_in_use_bytes;
        println!(
            "step {step}: {:.1} s, loss {value:.3}; in use before {:.0} MiB, peak {:.0} MiB \
             ({:.0} MiB above)",
            t.elapsed().as_secs_f64(),
            mib(before),
            mib(peak),
            mib(peak - before)
        );
    }
    Ok(())
}
