//! Barnes-Hut t-SNE (van der Maaten 2014) with scikit-learn's defaults: perplexity 30 on the
//! `3 * perplexity` nearest neighbours, early exaggeration 12 for 250 iterations with
//! momentum 0.5 (then 0.8), learning rate `max(N / 48, 50)`, 1000 iterations, gains, PCA
//! initialisation scaled to a standard deviation of 1e-4, theta 0.5. Nothing is random (the
//! start is PCA, threads sum in a fixed order): the same input gives the same map.
//!
//! [`TsneRun`] runs the optimisation one iteration at a time (a browser draws the map as it
//! forms); [`tsne_async`] runs it to the end. The repulsion runs on the host's threads
//! natively and on the one thread in the browser.

use crate::embed::{pca_async, Index, Metric, Rows};
use crate::error::{config, Result};
use fovea_device::Device;

/// t-SNE's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tsne {
    /// effective number of neighbours
    pub perplexity: f32,
    /// factor on the affinities early on
    pub early_exaggeration: f32,
    /// iterations with exaggeration
    pub exaggeration_iters: usize,
    /// step size; `None` for `max(N / early_exaggeration / 4, 50)`
    pub learning_rate: Option<f32>,
    /// total iterations
    pub iterations: usize,
    /// Barnes-Hut accuracy (0: exact)
    pub theta: f32,
}

impl Default for Tsne {
    fn default() -> Self {
        Tsne {
            perplexity: 30.0,
            early_exaggeration: 12.0,
            exaggeration_iters: 250,
            learning_rate: None,
            iterations: 1000,
            theta: 0.5,
        }
    }
}

/// Sparse symmetric affinities `P` (CSR), from [`affinities`].
pub struct Affinities {
    start: Vec<usize>,
    col: Vec<usize>,
    val: Vec<f32>,
}

/// `p_{j|i}` over the neighbours of each row with the bandwidth matching `perplexity`,
/// then symmetrised and normalised: `P = (P + P^T) / (2N)`.
pub async fn affinities_async(dev: &Device, data: &Rows, perplexity: f32) -> Result<Affinities> {
    let n = data.n;
    let k = ((3.0 * perplexity) as usize).min(n - 1).max(1);
    let mut triples: Vec<(usize, usize, f32)> = Vec::with_capacity(2 * n * k);
    let target = (perplexity as f64).ln();
    let index = Index::new(dev, data, Metric::L2)?;
    index
        .each_row_neighbours_async(k, &mut |i, nb| {
            let d2: Vec<f64> = nb.iter().map(|(_, d)| (*d as f64).powi(2)).collect();
            let (mut lo, mut hi, mut beta) = (0.0f64, f64::INFINITY, 1.0f64);
            let mut p = vec![0.0f64; d2.len()];
            for _ in 0..100 {
                let dmin = d2.iter().copied().fold(f64::INFINITY, f64::min);
                p.iter_mut()
                    .zip(&d2)
                    .for_each(|(p, d)| *p = (-(d - dmin) * beta).exp());
                let sum: f64 = p.iter().sum::<f64>().max(1e-300);
                let h = sum.ln()
                    + beta * p.iter().zip(&d2).map(|(p, d)| p * (d - dmin)).sum::<f64>() / sum;
                p.iter_mut().for_each(|v| *v /= sum);
                if (h - target).abs() < 1e-5 {
                    break;
                }
                if h > target {
                    lo = beta;
                    beta = if hi.is_finite() {
                        (beta + hi) / 2.0
                    } else {
                        beta * 2.0
                    };
                } else {
                    hi = beta;
                    beta = (beta + lo) / 2.0;
                }
            }
            for ((j, _), pv) in nb.iter().zip(&p) {
                triples.push((i, *j, *pv as f32));
                triples.push((*j, i, *pv as f32));
            }
        })
        .await?;
    triples.sort_unstable_by_key(|&(i, j, _)| (i, j));
    let mut a = Affinities {
        start: vec![0; n + 1],
        col: Vec::new(),
        val: Vec::new(),
    };
    let mut last = None;
    for (i, j, v) in triples {
        if last == Some((i, j)) {
            *a.val.last_mut().expect("merged into the previous entry") += v;
        } else {
            a.col.push(j);
            a.val.push(v);
            a.start[i + 1] += 1;
            last = Some((i, j));
        }
    }
    for i in 0..n {
        a.start[i + 1] += a.start[i];
    }
    let total: f32 = a.val.iter().sum();
    a.val.iter_mut().for_each(|v| *v /= total.max(1e-30));
    Ok(a)
}

/// Native twin of [`affinities_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn affinities(dev: &Device, data: &Rows, perplexity: f32) -> Result<Affinities> {
    fovea_device::block_on(affinities_async(dev, data, perplexity))
}

/// A quadtree node: the square it covers, its points' centre of mass, and its children.
#[derive(Clone, Copy)]
struct Node {
    cx: f32,
    cy: f32,
    half: f32,
    mx: f32,
    my: f32,
    count: u32,
    /// index of the first of four children, or 0 for a leaf
    child: u32,
    /// the one point a leaf holds (`u32::MAX` when empty or merged)
    point: u32,
}

struct QuadTree {
    nodes: Vec<Node>,
}

impl QuadTree {
    fn build(y: &[f32]) -> QuadTree {
        let n = y.len() / 2;
        let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for i in 0..n {
            x0 = x0.min(y[2 * i]);
            x1 = x1.max(y[2 * i]);
            y0 = y0.min(y[2 * i + 1]);
            y1 = y1.max(y[2 * i + 1]);
        }
        let half = ((x1 - x0).max(y1 - y0) / 2.0).max(1e-6) * 1.0001;
        let root = Node {
            cx: (x0 + x1) / 2.0,
            cy: (y0 + y1) / 2.0,
            half,
            mx: 0.0,
            my: 0.0,
            count: 0,
            child: 0,
            point: u32::MAX,
        };
        let mut t = QuadTree {
            nodes: Vec::with_capacity(4 * n + 1),
        };
        t.nodes.push(root);
        for i in 0..n {
            t.insert(i as u32, y[2 * i], y[2 * i + 1], y);
        }
        t
    }

    fn quadrant(n: &Node, px: f32, py: f32) -> u32 {
        (px > n.cx) as u32 + 2 * (py > n.cy) as u32
    }

    fn insert(&mut self, p: u32, px: f32, py: f32, y: &[f32]) {
        let mut at = 0usize;
        for depth in 0.. {
            let first = self.nodes.len() as u32;
            let node = &mut self.nodes[at];
            let c = node.count as f32;
            node.mx = (node.mx * c + px) / (c + 1.0);
            node.my = (node.my * c + py) / (c + 1.0);
            node.count += 1;
            if node.child == 0 {
                if node.count == 1 {
                    node.point = p;
                    return;
                }
                if depth >= 40 {
                    // coincident points: keep them together in this leaf
                    node.point = u32::MAX;
                    return;
                }
                // split: move the resident point down, then continue with p
                let (cx, cy, h) = (node.cx, node.cy, node.half / 2.0);
                let old = node.point;
                node.child = first;
                node.point = u32::MAX;
                for q in 0..4 {
                    self.nodes.push(Node {
                        cx: cx + if q & 1 == 1 { h } else { -h },
                        cy: cy + if q & 2 == 2 { h } else { -h },
                        half: h,
                        mx: 0.0,
                        my: 0.0,
                        count: 0,
                        child: 0,
                        point: u32::MAX,
                    });
                }
                if old != u32::MAX {
                    let (ox, oy) = (y[2 * old as usize], y[2 * old as usize + 1]);
                    let q = Self::quadrant(&self.nodes[at], ox, oy);
                    let leaf = &mut self.nodes[(first + q) as usize];
                    leaf.mx = ox;
                    leaf.my = oy;
                    leaf.count = 1;
                    leaf.point = old;
                }
            }
            let node = self.nodes[at];
            at = (node.child + Self::quadrant(&node, px, py)) as usize;
        }
    }

    /// The repulsive force on point `i` (unnormalised) and its share of `Z`.
    fn repulsion(
        &self,
        i: usize,
        px: f32,
        py: f32,
        theta2: f32,
        stack: &mut Vec<u32>,
    ) -> (f32, f32, f32) {
        let (mut fx, mut fy, mut z) = (0.0f32, 0.0f32, 0.0f32);
        stack.clear();
        stack.push(0);
        while let Some(k) = stack.pop() {
            let n = &self.nodes[k as usize];
            if n.count == 0 || (n.child == 0 && n.point == i as u32) {
                continue;
            }
            let (dx, dy) = (px - n.mx, py - n.my);
            let d2 = dx * dx + dy * dy;
            let size = 2.0 * n.half;
            if n.child == 0 || size * size < theta2 * d2 {
                let mut count = n.count as f32;
                if n.child == 0 && n.point == u32::MAX && d2 == 0.0 {
                    count -= 1.0; // a merged leaf holding i itself
                }
                let q = 1.0 / (1.0 + d2);
                z += count * q;
                fx += count * q * q * dx;
                fy += count * q * q * dy;
            } else {
                stack.extend(n.child..n.child + 4);
            }
        }
        (fx, fy, z)
    }

    /// The repulsion on the points `first..` that `forces` (`x, y` pairs) covers, written
    /// there; returns their share of `Z`, summed in point order.
    fn repel(&self, forces: &mut [f32], first: usize, y: &[f32], theta2: f32) -> f32 {
        let mut stack = Vec::new();
        let mut z = 0.0f32;
        for (k, f) in forces.chunks_mut(2).enumerate() {
            let i = first + k;
            let (fx, fy, zi) = self.repulsion(i, y[2 * i], y[2 * i + 1], theta2, &mut stack);
            f[0] = fx;
            f[1] = fy;
            z += zi;
        }
        z
    }
}

/// Threads for the repulsion: up to 8 natively, one in the browser (wasm has no threads).
fn repulsion_threads() -> usize {
    if cfg!(target_arch = "wasm32") {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(8)
    }
}

/// The gradient of KL(P || Q) at `y` (`n x 2`), P scaled by `exaggeration`, with
/// Barnes-Hut repulsion (`theta`) on the host's threads (one thread on wasm).
pub fn gradient(p: &Affinities, y: &[f32], exaggeration: f32, theta: f32) -> Vec<f32> {
    let n = y.len() / 2;
    let tree = QuadTree::build(y);
    let threads = repulsion_threads();
    let chunk = n.div_ceil(threads);
    let mut rep = vec![0.0f32; 2 * n];
    let mut zs = vec![0.0f32; threads];
    let parts = rep.chunks_mut(2 * chunk).zip(zs.iter_mut()).enumerate();
    if threads == 1 {
        for (t, (part, zt)) in parts {
            *zt = tree.repel(part, t * chunk, y, theta * theta);
        }
    } else {
        std::thread::scope(|s| {
            for (t, (part, zt)) in parts {
                let tree = &tree;
                s.spawn(move || *zt = tree.repel(part, t * chunk, y, theta * theta));
            }
        });
    }
    let z: f32 = zs.iter().sum::<f32>().max(1e-12);
    let mut grad = vec![0.0f32; 2 * n];
    for i in 0..n {
        let (mut ax, mut ay) = (0.0f32, 0.0f32);
        for e in p.start[i]..p.start[i + 1] {
            let j = p.col[e];
            let (dx, dy) = (y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1]);
            let q = 1.0 / (1.0 + dx * dx + dy * dy);
            ax += p.val[e] * q * dx;
            ay += p.val[e] * q * dy;
        }
        grad[2 * i] = 4.0 * (exaggeration * ax - rep[2 * i] / z);
        grad[2 * i + 1] = 4.0 * (exaggeration * ay - rep[2 * i + 1] / z);
    }
    grad
}

/// A t-SNE optimisation in progress: the affinities, the map and the optimiser's state.
/// [`TsneRun::step`] runs one iteration on the host, so a caller can draw the map between
/// iterations; [`tsne_async`] runs every iteration at once.
pub struct TsneRun {
    p: Affinities,
    cfg: Tsne,
    lr: f32,
    y: Vec<f32>,
    update: Vec<f32>,
    gains: Vec<f32>,
    it: usize,
}

impl TsneRun {
    /// Computes the affinities of `data`'s rows and the PCA start (the device work and
    /// reads); no iteration has run yet.
    pub async fn start_async(dev: &Device, data: &Rows, cfg: &Tsne) -> Result<TsneRun> {
        let n = data.n;
        if n < 4 || cfg.perplexity <= 0.0 || cfg.perplexity >= n as f32 {
            return Err(config(
                "t-SNE",
                format!(
                    "{n} points with perplexity {}; need 4+ points and 0 < perplexity < N",
                    cfg.perplexity
                ),
            ));
        }
        let p = affinities_async(dev, data, cfg.perplexity).await?;
        let start = pca_async(dev, data, 2).await?;
        let col0: Vec<f32> = (0..n).map(|i| start.projected[2 * i]).collect();
        let mean = col0.iter().sum::<f32>() / n as f32;
        let sd = (col0.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n as f32)
            .sqrt()
            .max(1e-12);
        let y: Vec<f32> = start.projected.iter().map(|v| v / sd * 1e-4).collect();
        let lr = cfg
            .learning_rate
            .unwrap_or((n as f32 / cfg.early_exaggeration / 4.0).max(50.0));
        Ok(TsneRun {
            p,
            cfg: *cfg,
            lr,
            y,
            update: vec![0.0; 2 * n],
            gains: vec![1.0; 2 * n],
            it: 0,
        })
    }

    /// Native twin of [`TsneRun::start_async`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn start(dev: &Device, data: &Rows, cfg: &Tsne) -> Result<TsneRun> {
        fovea_device::block_on(TsneRun::start_async(dev, data, cfg))
    }

    /// Runs the next iteration (host only); false, doing nothing, once all have run.
    pub fn step(&mut self) -> bool {
        if self.it >= self.cfg.iterations {
            return false;
        }
        let cfg = &self.cfg;
        let early = self.it < cfg.exaggeration_iters;
        let (exag, momentum) = if early {
            (cfg.early_exaggeration, 0.5)
        } else {
            (1.0, 0.8)
        };
        let g = gradient(&self.p, &self.y, exag, cfg.theta);
        let (y, update, gains) = (&mut self.y, &mut self.update, &mut self.gains);
        for k in 0..y.len() {
            gains[k] = if (update[k] * g[k]) < 0.0 {
                gains[k] + 0.2
            } else {
                (gains[k] * 0.8).max(0.01)
            };
            update[k] = momentum * update[k] - self.lr * gains[k] * g[k];
            y[k] += update[k];
        }
        self.it += 1;
        true
    }

    /// Iterations run so far.
    pub fn iteration(&self) -> usize {
        self.it
    }

    /// Iterations in all (the settings' `iterations`).
    pub fn iterations(&self) -> usize {
        self.cfg.iterations
    }

    /// The current map: `n x 2`.
    pub fn positions(&self) -> &[f32] {
        &self.y
    }

    /// The current map, taken: `n x 2`.
    pub fn into_positions(self) -> Vec<f32> {
        self.y
    }
}

/// Embeds the rows of `data` in 2-D; `progress` gets `(iteration, total)`. Returns `n x 2`.
pub async fn tsne_async(
    dev: &Device,
    data: &Rows,
    cfg: &Tsne,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<f32>> {
    let mut run = TsneRun::start_async(dev, data, cfg).await?;
    while run.step() {
        progress(run.iteration(), run.iterations());
    }
    Ok(run.into_positions())
}

/// Native twin of [`tsne_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn tsne(
    dev: &Device,
    data: &Rows,
    cfg: &Tsne,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<f32>> {
    fovea_device::block_on(tsne_async(dev, data, cfg, progress))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 points in 5-D on two noisy lines, deterministic.
    fn data() -> Rows {
        let values = (0..40 * 5)
            .map(|k| {
                let (i, j) = (k / 5, k % 5);
                let side = if i % 2 == 0 { 1.0 } else { -1.0 };
                side * (j as f32 + 1.0) + (i as f32 * 0.37 + j as f32 * 1.3).sin() * 0.5
            })
            .collect();
        Rows::new(values, 40, 5).unwrap()
    }

    #[test]
    fn stepping_gives_the_same_map_as_running_to_the_end() {
        let dev = Device::cpu();
        let cfg = Tsne {
            perplexity: 5.0,
            exaggeration_iters: 10,
            iterations: 25,
            ..Tsne::default()
        };
        let mut calls = Vec::new();
        let whole = tsne(&dev, &data(), &cfg, &mut |i, t| calls.push((i, t))).unwrap();
        assert_eq!(calls, (1..=25).map(|i| (i, 25)).collect::<Vec<_>>());
        let mut run = TsneRun::start(&dev, &data(), &cfg).unwrap();
        assert_eq!((run.iteration(), run.iterations()), (0, 25));
        let mut steps = 0;
        while run.step() {
            steps += 1;
            assert_eq!(run.iteration(), steps);
            assert_eq!(run.positions().len(), 80);
        }
        assert_eq!(steps, 25);
        assert!(!run.step());
        assert_eq!(run.positions(), &whole[..]);
    }

    #[test]
    fn one_thread_sums_the_repulsion_like_many() {
        let dev = Device::cpu();
        let d = data();
        let p = affinities(&dev, &d, 5.0).unwrap();
        let y: Vec<f32> = d
            .values
            .iter()
            .step_by(5)
            .flat_map(|v| [*v, v * 0.5])
            .collect();
        let tree = QuadTree::build(&y);
        let mut one = vec![0.0f32; y.len()];
        let z1 = tree.repel(&mut one, 0, &y, 0.25);
        let mut halves = vec![0.0f32; y.len()];
        let (a, b) = halves.split_at_mut(y.len() / 2);
        let (za, zb) = (tree.repel(a, 0, &y, 0.25), tree.repel(b, 20, &y, 0.25));
        assert_eq!(one, halves);
        assert!((z1 - (za + zb)).abs() <= 1e-5 * z1.abs());
        let g = gradient(&p, &y, 1.0, 0.5);
        assert!(g.iter().all(|v| v.is_finite()));
    }
}
