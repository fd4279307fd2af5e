//! Feature space: the final feature vectors of a dataset, nearest neighbours (L2, L1,
//! cosine), PCA with explained-variance ratios, and Barnes-Hut t-SNE.
//!
//! Distances and covariance products run as matrix products on the device; the t-SNE
//! optimisation runs Barnes-Hut on the host (O(N log N) per iteration, on the host's threads;
//! one in the browser), which on lavapipe is far faster at N = 10,000 than the exact O(N^2)
//! gradient as device ops. Whatever reads the device is an `async fn` (`*_async`, every
//! target); its plain name is the native twin.

use crate::error::{config, Result};
use fovea_device::{Array, Device};
use fovea_graph::{NoGradGuard, Tensor};
use fovea_models::Model;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Row-major `n x d` data.
#[derive(Clone, Debug, PartialEq)]
pub struct Rows {
    /// `n * d` values
    pub values: Vec<f32>,
    /// rows
    pub n: usize,
    /// columns
    pub d: usize,
}

impl Rows {
    /// Wraps values, checking the length.
    pub fn new(values: Vec<f32>, n: usize, d: usize) -> Result<Rows> {
        if values.len() != n * d {
            return Err(config(
                "rows",
                format!("{} values are not {n} rows of {d}", values.len()),
            ));
        }
        Ok(Rows { values, n, d })
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.d..(i + 1) * self.d]
    }
}

/// The activations of `layer` (flattened per image) for `images` (`n` images of
/// `[C, H, W]`, normalised), `batch` at a time; `progress` gets the images done so far.
pub async fn features_async(
    model: &dyn Model,
    dev: &Device,
    images: &[f32],
    shape: (usize, usize, usize),
    layer: &str,
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Rows> {
    let (c, h, w) = shape;
    let per = c * h * w;
    let n = images.len() / per.max(1);
    let mut values = Vec::new();
    let mut d = 0;
    for start in (0..n).step_by(batch.max(1)) {
        let m = batch.max(1).min(n - start);
        let x = Array::from_slice(dev, &images[start * per..(start + m) * per], &[m, c, h, w])?;
        let act = {
            let _g = NoGradGuard::new();
            crate::activation(model, &Tensor::new(x), layer)?
        };
        d = act.numel() / m;
        values.extend(act.to_vec_async().await?);
        progress(start + m);
    }
    Rows::new(values, n, d)
}

/// Native twin of [`features_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn features(
    model: &dyn Model,
    dev: &Device,
    images: &[f32],
    shape: (usize, usize, usize),
    layer: &str,
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Rows> {
    fovea_device::block_on(features_async(
        model, dev, images, shape, layer, batch, progress,
    ))
}

/// How distances are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Euclidean
    L2,
    /// Manhattan
    L1,
    /// `1 - cos(angle)`
    Cosine,
}

/// Squared norms of rows.
fn sq_norms(r: &Rows) -> Vec<f32> {
    (0..r.n)
        .map(|i| r.row(i).iter().map(|v| v * v).sum())
        .collect()
}

/// One row's neighbours: `(row index, distance)`, nearest first.
pub type Neighbours = [(usize, f32)];

/// Data rows prepared once for many distance queries: centred on their mean for L2 (so
/// `|q|^2 + |x|^2 - 2 q.x` does not cancel away the small distances that matter), uploaded
/// to the device for L2 and cosine, with their squared norms.
pub struct Index<'a> {
    data: &'a Rows,
    metric: Metric,
    mean: Vec<f32>,
    prepared: Option<(Array, Vec<f32>)>,
}

impl<'a> Index<'a> {
    /// Prepares `data` for `metric` on `dev`.
    pub fn new(dev: &Device, data: &'a Rows, metric: Metric) -> Result<Index<'a>> {
        let mean: Vec<f32> = if metric == Metric::L2 {
            let mut m = vec![0.0f32; data.d];
            for i in 0..data.n {
                m.iter_mut().zip(data.row(i)).for_each(|(m, v)| *m += v);
            }
            m.iter_mut().for_each(|m| *m /= data.n.max(1) as f32);
            m
        } else {
            vec![0.0; data.d]
        };
        let prepared = if metric == Metric::L1 {
            None
        } else {
            let centred = Rows {
                values: centre(&data.values, &mean),
                ..*data
            };
            let a = Array::from_slice(dev, &centred.values, &[data.n, data.d])?;
            Some((a, sq_norms(&centred)))
        };
        Ok(Index {
            data,
            metric,
            mean,
            prepared,
        })
    }

    /// Distances from every query row to every data row: `queries.n x data.n`. L2 and
    /// cosine use one device matrix product; L1 runs on the host.
    pub async fn distances_async(&self, queries: &Rows) -> Result<Vec<f32>> {
        let data = self.data;
        if data.d != queries.d {
            return Err(config(
                "distances",
                format!("data has {} columns, queries {}", data.d, queries.d),
            ));
        }
        let Some((a, an)) = &self.prepared else {
            let mut out = Vec::with_capacity(queries.n * data.n);
            for i in 0..queries.n {
                let q = queries.row(i);
                out.extend((0..data.n).map(|j| {
                    q.iter()
                        .zip(data.row(j))
                        .map(|(a, b)| (a - b).abs())
                        .sum::<f32>()
                }));
            }
            return Ok(out);
        };
        let centred = Rows {
            values: centre(&queries.values, &self.mean),
            ..*queries
        };
        let q = Array::from_slice(a.device(), &centred.values, &[queries.n, queries.d])?;
        let dots = q.matmul_t(a, false, true)?.to_vec_async().await?;
        let qn = sq_norms(&centred);
        Ok(dots
            .iter()
            .enumerate()
            .map(|(k, dot)| {
                let (i, j) = (k / data.n, k % data.n);
                match self.metric {
                    Metric::L2 => (qn[i] + an[j] - 2.0 * dot).max(0.0).sqrt(),
                    _ => 1.0 - dot / (qn[i].sqrt() * an[j].sqrt()).max(1e-12),
                }
            })
            .collect())
    }

    /// Native twin of [`Index::distances_async`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn distances(&self, queries: &Rows) -> Result<Vec<f32>> {
        fovea_device::block_on(self.distances_async(queries))
    }

    /// The `k` nearest data rows to each query, `(index, distance)`, nearest first; rows
    /// listed in `skip[query]` (e.g. the query itself) are left out.
    pub async fn nearest_async(
        &self,
        queries: &Rows,
        k: usize,
        skip: &[Option<usize>],
    ) -> Result<Vec<Vec<(usize, f32)>>> {
        let n = self.data.n;
        let dist = self.distances_async(queries).await?;
        Ok((0..queries.n)
            .map(|i| {
                let row = &dist[i * n..(i + 1) * n];
                let mut idx: Vec<usize> = (0..n)
                    .filter(|&j| skip.get(i).copied().flatten() != Some(j))
                    .collect();
                let k = k.min(idx.len());
                if k > 0 && k < idx.len() {
                    idx.select_nth_unstable_by(k - 1, |&a, &b| row[a].total_cmp(&row[b]));
                }
                idx.truncate(k);
                idx.sort_by(|&a, &b| row[a].total_cmp(&row[b]));
                idx.into_iter().map(|j| (j, row[j])).collect()
            })
            .collect())
    }

    /// Native twin of [`Index::nearest_async`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn nearest(
        &self,
        queries: &Rows,
        k: usize,
        skip: &[Option<usize>],
    ) -> Result<Vec<Vec<(usize, f32)>>> {
        fovea_device::block_on(self.nearest_async(queries, k, skip))
    }

    /// Every data row's `k` nearest other rows, 512 queries at a time: `each(row,
    /// neighbours)` in row order.
    pub async fn each_row_neighbours_async(
        &self,
        k: usize,
        each: &mut dyn FnMut(usize, &Neighbours),
    ) -> Result<()> {
        let data = self.data;
        for start in (0..data.n).step_by(512) {
            let m = 512.min(data.n - start);
            let q = Rows::new(
                data.values[start * data.d..(start + m) * data.d].to_vec(),
                m,
                data.d,
            )?;
            let skip: Vec<Option<usize>> = (start..start + m).map(Some).collect();
            for (r, nb) in self.nearest_async(&q, k, &skip).await?.iter().enumerate() {
                each(start + r, nb);
            }
        }
        Ok(())
    }

    /// Native twin of [`Index::each_row_neighbours_async`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn each_row_neighbours(
        &self,
        k: usize,
        each: &mut dyn FnMut(usize, &Neighbours),
    ) -> Result<()> {
        fovea_device::block_on(self.each_row_neighbours_async(k, each))
    }
}

/// `values` (rows of `mean.len()`) minus `mean`.
fn centre(values: &[f32], mean: &[f32]) -> Vec<f32> {
    values
        .iter()
        .enumerate()
        .map(|(k, v)| v - mean[k % mean.len()])
        .collect()
}

/// Distances from every query row to every data row (see [`Index::distances_async`]).
pub async fn distances_async(
    dev: &Device,
    data: &Rows,
    queries: &Rows,
    metric: Metric,
) -> Result<Vec<f32>> {
    Index::new(dev, data, metric)?
        .distances_async(queries)
        .await
}

/// Native twin of [`distances_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn distances(dev: &Device, data: &Rows, queries: &Rows, metric: Metric) -> Result<Vec<f32>> {
    fovea_device::block_on(distances_async(dev, data, queries, metric))
}

/// The `k` nearest data rows to each query (see [`Index::nearest_async`]).
pub async fn nearest_async(
    dev: &Device,
    data: &Rows,
    queries: &Rows,
    k: usize,
    metric: Metric,
    skip: &[Option<usize>],
) -> Result<Vec<Vec<(usize, f32)>>> {
    Index::new(dev, data, metric)?
        .nearest_async(queries, k, skip)
        .await
}

/// Native twin of [`nearest_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn nearest(
    dev: &Device,
    data: &Rows,
    queries: &Rows,
    k: usize,
    metric: Metric,
    skip: &[Option<usize>],
) -> Result<Vec<Vec<(usize, f32)>>> {
    fovea_device::block_on(nearest_async(dev, data, queries, k, metric, skip))
}

/// Leave-one-out k-nearest-neighbour accuracy of `labels` in `points` (`n x d`): how
/// well a space keeps the classes apart.
pub async fn knn_accuracy_async(
    dev: &Device,
    points: &Rows,
    labels: &[u8],
    k: usize,
) -> Result<f64> {
    let mut right = 0usize;
    let index = Index::new(dev, points, Metric::L2)?;
    index
        .each_row_neighbours_async(k, &mut |i, nb| {
            let mut votes = [0usize; 256];
            for (j, _) in nb {
                votes[labels[*j] as usize] += 1;
            }
            let best = (0..256)
                .max_by_key(|&c| (votes[c], std::cmp::Reverse(c)))
                .unwrap_or(0);
            right += (best == labels[i] as usize) as usize;
        })
        .await?;
    Ok(right as f64 / points.n.max(1) as f64)
}

/// Native twin of [`knn_accuracy_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn knn_accuracy(dev: &Device, points: &Rows, labels: &[u8], k: usize) -> Result<f64> {
    fovea_device::block_on(knn_accuracy_async(dev, points, labels, k))
}

/// A PCA fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    /// the column means subtracted first
    pub mean: Vec<f32>,
    /// `k x d` principal axes, strongest first
    pub components: Vec<f32>,
    /// variance along each axis (sample variance, `n - 1`)
    pub explained_variance: Vec<f64>,
    /// each axis' share of the total variance (all `d` directions)
    pub explained_variance_ratio: Vec<f64>,
    /// `n x k` coordinates of the rows
    pub projected: Vec<f32>,
}

/// Eigenvalues (descending) and eigenvectors (rows) of a symmetric `n x n` matrix, by
/// cyclic Jacobi rotations.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        let scale: f64 = (0..n)
            .map(|i| a[i * n + i] * a[i * n + i])
            .sum::<f64>()
            .max(1e-300);
        if off <= 1e-24 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let vectors = order
        .iter()
        .map(|&i| (0..n).map(|k| v[k * n + i]).collect())
        .collect();
    (values, vectors)
}

/// Orthonormalises the columns of a `d x p` matrix in place (modified Gram-Schmidt).
fn orthonormalize(m: &mut [f64], d: usize, p: usize) {
    for j in 0..p {
        for i in 0..j {
            let dot: f64 = (0..d).map(|r| m[r * p + i] * m[r * p + j]).sum();
            (0..d).for_each(|r| m[r * p + j] -= dot * m[r * p + i]);
        }
        let norm = (0..d)
            .map(|r| m[r * p + j].powi(2))
            .sum::<f64>()
            .sqrt()
            .max(1e-300);
        (0..d).for_each(|r| m[r * p + j] /= norm);
    }
}

/// PCA with `k` components. Small `d` (<= 128) diagonalises the full covariance; larger `d`
/// runs subspace iteration (`k + 10` vectors, 40 rounds of `Xc^T (Xc Q)` on the device)
/// with a Rayleigh-Ritz step, so a 10,000 x 4,608 feature matrix never forms its covariance.
pub async fn pca_async(dev: &Device, data: &Rows, k: usize) -> Result<Pca> {
    let (n, d) = (data.n, data.d);
    if n < 2 || k == 0 || k > d {
        return Err(config(
            "PCA",
            format!("{k} components of {n} rows of {d}; need 2+ rows and 1 <= k <= {d}"),
        ));
    }
    let mut mean = vec![0.0f64; d];
    for i in 0..n {
        data.row(i)
            .iter()
            .zip(mean.iter_mut())
            .for_each(|(v, m)| *m += *v as f64);
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let centred: Vec<f32> = (0..n * d)
        .map(|i| (data.values[i] as f64 - mean[i % d]) as f32)
        .collect();
    let total: f64 = centred.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / (n - 1) as f64;
    let xc = Array::from_slice(dev, &centred, &[n, d])?;
    let (values, vectors): (Vec<f64>, Vec<Vec<f64>>) = if d <= 128 {
        let cov = xc.matmul_t(&xc, true, false)?.to_vec_async().await?;
        let cov: Vec<f64> = cov.iter().map(|v| *v as f64 / (n - 1) as f64).collect();
        let (vals, vecs) = symmetric_eigen(&cov, d);
        (vals[..k].to_vec(), vecs[..k].to_vec())
    } else {
        let p = (k + 10).min(d);
        let mut rng = StdRng::seed_from_u64(0);
        let mut q: Vec<f64> = (0..d * p)
            .map(|_| crate::attribution::gaussian(&mut rng) as f64)
            .collect();
        orthonormalize(&mut q, d, p);
        for _ in 0..40 {
            let qa = Array::from_slice(
                dev,
                &q.iter().map(|v| *v as f32).collect::<Vec<_>>(),
                &[d, p],
            )?;
            let z = xc
                .matmul_t(&xc.matmul(&qa)?, true, false)?
                .to_vec_async()
                .await?;
            q = z.iter().map(|v| *v as f64).collect();
            orthonormalize(&mut q, d, p);
        }
        let qa = Array::from_slice(
            dev,
            &q.iter().map(|v| *v as f32).collect::<Vec<_>>(),
            &[d, p],
        )?;
        let y = xc.matmul(&qa)?;
        let t = y.matmul_t(&y, true, false)?.to_vec_async().await?;
        let t: Vec<f64> = t.iter().map(|v| *v as f64 / (n - 1) as f64).collect();
        let (vals, small) = symmetric_eigen(&t, p);
        let vecs = small[..k]
            .iter()
            .map(|s| {
                (0..d)
                    .map(|r| (0..p).map(|c| q[r * p + c] * s[c]).sum())
                    .collect()
            })
            .collect();
        (vals[..k].to_vec(), vecs)
    };
    let components: Vec<f32> = vectors.iter().flatten().map(|v| *v as f32).collect();
    let comp = Array::from_slice(dev, &components, &[k, d])?;
    let projected = xc.matmul_t(&comp, false, true)?.to_vec_async().await?;
    Ok(Pca {
        mean: mean.iter().map(|m| *m as f32).collect(),
        components,
        explained_variance_ratio: values.iter().map(|v| v / total.max(1e-300)).collect(),
        explained_variance: values,
        projected,
    })
}

/// Native twin of [`pca_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn pca(dev: &Device, data: &Rows, k: usize) -> Result<Pca> {
    fovea_device::block_on(pca_async(dev, data, k))
}

#[cfg(not(target_arch = "wasm32"))]
pub use crate::tsne::tsne;
pub use crate::tsne::{tsne_async, Tsne, TsneRun};
