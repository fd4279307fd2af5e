//! The CPU reference backend: plain loops over host memory, written to be obviously correct.
//! It is the twin every GPU kernel is tested against, not a fast path.

use crate::backend::{Backend, CpuBuf, Storage};
use crate::cpu_gemm::{gemm, MatRef};
use crate::cpu_layers as layers;
use crate::error::Result;
use crate::ops::{
    AdamStep, BinaryOp, Broadcast, ChannelDims, Conv2dGeom, CopyPiece, CrossEntropyGeom,
    Distribution, MatmulDims, Pool2dGeom, PoolKind, ReduceDims, ReduceOp, ResizeGeom, SgdStep,
    UnaryOp,
};
use crate::philox;
use std::sync::{Arc, RwLock};

/// The CPU reference backend.
#[derive(Debug, Default)]
pub struct Cpu;

fn store(v: Vec<f32>) -> Storage {
    Storage::Cpu(Arc::new(RwLock::new(v)))
}

fn read(s: &Storage) -> Result<std::sync::RwLockReadGuard<'_, Vec<f32>>> {
    let buf: &CpuBuf = s.cpu()?;
    Ok(buf.read().unwrap_or_else(|e| e.into_inner()))
}

/// Offsets of every element of `shape` (row-major order) under each stride vector.
///
/// The offsets of the outer dimensions advance like an odometer; the innermost dimension is
/// a tight loop.
fn strided_offsets(shape: &[usize], strides: &[&[usize]]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    let mut out = vec![Vec::with_capacity(n); strides.len()];
    if n == 0 {
        return out;
    }
    let Some((&inner, outer)) = shape.split_last() else {
        out.iter_mut().for_each(|o| o.push(0));
        return out;
    };
    let mut idx = vec![0usize; outer.len()];
    let mut cur = vec![0usize; strides.len()];
    for _ in 0..n / inner {
        for ((o, &c), s) in out.iter_mut().zip(&cur).zip(strides) {
            let step = s[outer.len()];
            o.extend((0..inner).map(|j| c + j * step));
        }
        for d in (0..outer.len()).rev() {
            idx[d] += 1;
            if idx[d] < outer[d] {
                for (c, s) in cur.iter_mut().zip(strides) {
                    *c += s[d];
                }
                break;
            }
            idx[d] = 0;
            for (c, s) in cur.iter_mut().zip(strides) {
                *c -= s[d] * (outer[d] - 1);
            }
        }
    }
    out
}

/// Whether `strides` are the row-major strides of `shape` (ignoring size-1 dimensions).
fn is_contiguous(shape: &[usize], strides: &[usize]) -> bool {
    let mut expect = 1;
    for (&d, &s) in shape.iter().zip(strides).rev() {
        if d != 1 && s != expect {
            return false;
        }
        expect *= d;
    }
    true
}

/// The reference for each unary op.
pub fn unary_ref(op: UnaryOp, v: f32) -> f32 {
    match op {
        UnaryOp::Neg => -v,
        UnaryOp::Abs => v.abs(),
        UnaryOp::Exp => v.exp(),
        UnaryOp::Log => v.ln(),
        UnaryOp::Sqrt => v.sqrt(),
        UnaryOp::Tanh => v.tanh(),
        UnaryOp::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        UnaryOp::Relu => {
            if v < 0.0 {
                0.0
            } else {
                v
            }
        }
        UnaryOp::Powf(p) => v.powf(p),
        UnaryOp::AddScalar(s) => v + s,
        UnaryOp::MulScalar(s) => v * s,
    }
}

/// The reference for each binary op.
pub fn binary_ref(op: BinaryOp, a: f32, b: f32) -> f32 {
    let flag = |c: bool| if c { 1.0 } else { 0.0 };
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Maximum if a.is_nan() || b.is_nan() => f32::NAN,
        BinaryOp::Minimum if a.is_nan() || b.is_nan() => f32::NAN,
        BinaryOp::Maximum => a.max(b),
        BinaryOp::Minimum => a.min(b),
        BinaryOp::Eq => flag(a == b),
        BinaryOp::Ne => flag(a != b),
        BinaryOp::Lt => flag(a < b),
        BinaryOp::Le => flag(a <= b),
        BinaryOp::Gt => flag(a > b),
        BinaryOp::Ge => flag(a >= b),
    }
}

/// Whether `b` should replace the running `a` in a max (or min) scan; NaN wins, ties keep `a`.
fn wins(op: ReduceOp, a: f32, b: f32) -> bool {
    if a.is_nan() {
        return false;
    }
    if b.is_nan() {
        return true;
    }
    match op {
        ReduceOp::Max | ReduceOp::Argmax => b > a,
        _ => b < a,
    }
}

/// The value a kept element of a dropout mask takes: `1 / (1 - p)`, or 0 when `p` is 1.
pub fn dropout_scale(p: f32) -> f32 {
    if p >= 1.0 {
        0.0
    } else {
        1.0 / (1.0 - p)
    }
}

fn write(s: &Storage) -> Result<std::sync::RwLockWriteGuard<'_, Vec<f32>>> {
    let buf: &CpuBuf = s.cpu()?;
    Ok(buf.write().unwrap_or_else(|e| e.into_inner()))
}

impl Backend for Cpu {
    fn name(&self) -> String {
        "CPU reference (plain loops)".into()
    }

    fn describe(&self) -> String {
        format!("{}\n  backend: host memory, single thread", self.name())
    }

    fn upload(&self, data: &[f32]) -> Result<Storage> {
        Ok(store(data.to_vec()))
    }

    fn download(&self, x: &Storage, len: usize) -> Result<Vec<f32>> {
        Ok(read(x)?[..len].to_vec())
    }

    fn arange(&self, len: usize, start: f32, step: f32) -> Result<Storage> {
        Ok(store((0..len).map(|i| start + i as f32 * step).collect()))
    }

    fn random(&self, len: usize, dist: Distribution, seed: u64) -> Result<Storage> {
        let mut out = Vec::with_capacity(len + 3);
        for b in 0..len.div_ceil(4) {
            let w = philox::block(seed, b as u32);
            match dist {
                Distribution::Uniform { low, high } => {
                    out.extend(w.iter().map(|&x| low + (high - low) * philox::unit(x)))
                }
                Distribution::Normal { mean, std } => {
                    let (z0, z1) = philox::box_muller(w[0], w[1]);
                    let (z2, z3) = philox::box_muller(w[2], w[3]);
                    out.extend([z0, z1, z2, z3].iter().map(|z| mean + std * z))
                }
                Distribution::DropoutMask { p } => {
                    let keep = dropout_scale(p);
                    out.extend(
                        w.iter()
                            .map(|&x| if philox::unit(x) >= p { keep } else { 0.0 }),
                    )
                }
            }
        }
        out.truncate(len);
        Ok(store(out))
    }

    fn unary(&self, op: UnaryOp, x: &Storage, len: usize) -> Result<Storage> {
        Ok(store(
            read(x)?[..len].iter().map(|&v| unary_ref(op, v)).collect(),
        ))
    }

    fn binary(&self, op: BinaryOp, a: &Storage, b: &Storage, bc: &Broadcast) -> Result<Storage> {
        let (a, b) = (read(a)?, read(b)?);
        let len: usize = bc.shape.iter().product();
        let dense = |s: &[usize]| is_contiguous(&bc.shape, s);
        if dense(&bc.strides[0]) && dense(&bc.strides[1]) {
            let out = a[..len].iter().zip(&b[..len]);
            return Ok(store(out.map(|(&x, &y)| binary_ref(op, x, y)).collect()));
        }
        let offs = strided_offsets(&bc.shape, &[&bc.strides[0], &bc.strides[1]]);
        Ok(store(
            offs[0]
                .iter()
                .zip(&offs[1])
                .map(|(&i, &j)| binary_ref(op, a[i], b[j]))
                .collect(),
        ))
    }

    fn select(&self, cond: &Storage, a: &Storage, b: &Storage, bc: &Broadcast) -> Result<Storage> {
        let (c, a, b) = (read(cond)?, read(a)?, read(b)?);
        let s: Vec<&[usize]> = bc.strides.iter().map(Vec::as_slice).collect();
        let offs = strided_offsets(&bc.shape, &s);
        let out = (0..offs[0].len())
            .map(|e| {
                if c[offs[0][e]] != 0.0 {
                    a[offs[1][e]]
                } else {
                    b[offs[2][e]]
                }
            })
            .collect();
        Ok(store(out))
    }

    fn reduce(&self, op: ReduceOp, x: &Storage, d: ReduceDims, scale: f32) -> Result<Storage> {
        let x = read(x)?;
        let mut out = Vec::with_capacity(d.outer * d.inner);
        for o in 0..d.outer {
            for i in 0..d.inner {
                let at = |j: usize| x[(o * d.len + j) * d.inner + i];
                let v = match op {
                    ReduceOp::Sum => (0..d.len).map(at).sum::<f32>() * scale,
                    _ => {
                        let mut best = 0;
                        for j in 1..d.len {
                            if wins(op, at(best), at(j)) {
                                best = j;
                            }
                        }
                        match op {
                            ReduceOp::Argmax | ReduceOp::Argmin => best as f32,
                            _ => at(best),
                        }
                    }
                };
                out.push(v);
            }
        }
        Ok(store(out))
    }

    fn softmax(&self, x: &Storage, d: ReduceDims, log: bool) -> Result<Storage> {
        let x = read(x)?;
        let mut out = vec![0.0; d.outer * d.len * d.inner];
        for o in 0..d.outer {
            for i in 0..d.inner {
                let at = |j: usize| (o * d.len + j) * d.inner + i;
                let max = (0..d.len)
                    .map(|j| x[at(j)])
                    .fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = (0..d.len).map(|j| (x[at(j)] - max).exp()).sum();
                for j in 0..d.len {
                    let z = x[at(j)] - max;
                    out[at(j)] = if log { z - sum.ln() } else { z.exp() / sum };
                }
            }
        }
        Ok(store(out))
    }

    fn matmul(&self, a: &Storage, b: &Storage, d: &MatmulDims) -> Result<Storage> {
        let (a, b) = (read(a)?, read(b)?);
        let mut c = vec![0.0f32; d.batch * d.m * d.n];
        for p in 0..d.batch {
            let a_view = if d.trans_a {
                MatRef::dense(&a, p * d.a_stride, d.k, d.m).t()
            } else {
                MatRef::dense(&a, p * d.a_stride, d.m, d.k)
            };
            let b_view = if d.trans_b {
                MatRef::dense(&b, p * d.b_stride, d.n, d.k).t()
            } else {
                MatRef::dense(&b, p * d.b_stride, d.k, d.n)
            };
            gemm(a_view, b_view, 0.0, &mut c, p * d.m * d.n);
        }
        Ok(store(c))
    }

    fn assemble(
        &self,
        len: usize,
        fill: Option<f32>,
        pieces: &[(&Storage, CopyPiece)],
    ) -> Result<Storage> {
        let mut out = vec![fill.unwrap_or(0.0); len];
        for (src, p) in pieces {
            let src = read(src)?;
            let offs = strided_offsets(&p.shape, &[&p.src_strides, &p.dst_strides]);
            for (s, d) in offs[0].iter().zip(&offs[1]) {
                out[p.dst_offset + d] = src[p.src_offset + s];
            }
        }
        Ok(store(out))
    }

    fn conv2d(
        &self,
        x: &Storage,
        w: &Storage,
        bias: Option<&Storage>,
        g: &Conv2dGeom,
    ) -> Result<Storage> {
        let b = bias.map(read).transpose()?;
        Ok(store(crate::cpu_conv::forward(
            &read(x)?,
            &read(w)?,
            b.as_deref().map(Vec::as_slice),
            g,
        )))
    }

    fn conv2d_backward_data(
        &self,
        grad_y: &Storage,
        w: &Storage,
        g: &Conv2dGeom,
    ) -> Result<Storage> {
        Ok(store(crate::cpu_conv::backward_data(
            &read(grad_y)?,
            &read(w)?,
            g,
        )))
    }

    fn conv2d_backward_weight(
        &self,
        x: &Storage,
        grad_y: &Storage,
        g: &Conv2dGeom,
    ) -> Result<Storage> {
        Ok(store(crate::cpu_conv::backward_weight(
            &read(x)?,
            &read(grad_y)?,
            g,
        )))
    }

    fn pool2d(&self, x: &Storage, g: &Pool2dGeom) -> Result<(Storage, Option<Storage>)> {
        let (y, idx) = layers::pool2d(&read(x)?, g);
        Ok((store(y), (g.kind == PoolKind::Max).then(|| store(idx))))
    }

    fn pool2d_backward(
        &self,
        grad_y: &Storage,
        indices: Option<&Storage>,
        g: &Pool2dGeom,
    ) -> Result<Storage> {
        let idx = indices.map(read).transpose()?;
        let idx: &[f32] = idx.as_deref().map_or(&[], |v| v.as_slice());
        Ok(store(layers::pool2d_backward(&read(grad_y)?, idx, g)))
    }

    fn resize_bilinear(&self, x: &Storage, g: &ResizeGeom) -> Result<Storage> {
        Ok(store(layers::resize_bilinear(&read(x)?, g)))
    }

    fn resize_bilinear_backward(&self, grad_y: &Storage, g: &ResizeGeom) -> Result<Storage> {
        Ok(store(layers::resize_bilinear_backward(&read(grad_y)?, g)))
    }

    fn channel_moments(
        &self,
        x: &Storage,
        z: Option<(&Storage, &Storage)>,
        d: ChannelDims,
    ) -> Result<Storage> {
        let x = read(x)?;
        let out = match z {
            None => layers::channel_moments(&x, None, &[], d),
            Some((z, center)) => layers::channel_moments(&x, Some(&read(z)?), &read(center)?, d),
        };
        Ok(store(out))
    }

    fn channel_affine(
        &self,
        x: &Storage,
        z: Option<&Storage>,
        coef: &Storage,
        d: ChannelDims,
    ) -> Result<Storage> {
        let z = z.map(read).transpose()?;
        let out = layers::channel_affine(
            &read(x)?,
            z.as_deref().map(|v| v.as_slice()),
            &read(coef)?,
            d,
        );
        Ok(store(out))
    }

    fn cross_entropy(
        &self,
        logits: &Storage,
        labels: &Storage,
        g: &CrossEntropyGeom,
    ) -> Result<(Storage, Storage)> {
        let (loss, grad) = layers::cross_entropy(&read(logits)?, &read(labels)?, g);
        Ok((store(loss), store(grad)))
    }

    fn sgd_step(
        &self,
        param: &Storage,
        grad: &Storage,
        momentum_buf: Option<&Storage>,
        len: usize,
        s: &SgdStep,
    ) -> Result<()> {
        let grad = read(grad)?;
        let mut p = write(param)?;
        let mut buf = momentum_buf.map(write).transpose()?;
        let buf = buf.as_deref_mut().map(|b| &mut b[..len]);
        layers::sgd_step(&mut p[..len], &grad[..len], buf, s);
        Ok(())
    }

    fn adam_step(
        &self,
        param: &Storage,
        grad: &Storage,
        m: &Storage,
        v: &Storage,
        vmax: Option<&Storage>,
        len: usize,
        s: &AdamStep,
    ) -> Result<()> {
        let grad = read(grad)?;
        let (mut p, mut m, mut v) = (write(param)?, write(m)?, write(v)?);
        let mut vmax = vmax.map(write).transpose()?;
        let vmax = vmax.as_deref_mut().map(|b| &mut b[..len]);
        layers::adam_step(
            &mut p[..len],
            &grad[..len],
            &mut m[..len],
            &mut v[..len],
            vmax,
            s,
        );
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }
}
