//! CPU reference of the batch-norm primitives: per-channel moments (summed in f64) and the
//! per-channel affine map.

use super::ChannelDims;
use crate::cpu::{read, store, Cpu};
use crate::error::Result;
use crate::storage::Storage;

/// Per-channel moments: without `z`, `[mean(x), mean((x - mean)^2)]`; with `z`,
/// `[sum(z), sum(z * (x - center))]`. Sums run in f64.
fn moments(x: &[f32], z: Option<&[f32]>, center: &[f32], d: ChannelDims) -> Vec<f32> {
    let mut out = vec![0.0; 2 * d.c];
    let m = d.per_channel() as f64;
    for c in 0..d.c {
        let idx = (0..d.n).flat_map(|n| (0..d.hw).map(move |i| (n * d.c + c) * d.hw + i));
        let (a, b) = match z {
            None => {
                let mean = idx.clone().map(|i| x[i] as f64).sum::<f64>() / m;
                let var = idx.map(|i| (x[i] as f64 - mean).powi(2)).sum::<f64>() / m;
                (mean, var)
            }
            Some(z) => {
                let mu = center[c] as f64;
                let sz = idx.clone().map(|i| z[i] as f64).sum::<f64>();
                let szx = idx.map(|i| z[i] as f64 * (x[i] as f64 - mu)).sum::<f64>();
                (sz, szx)
            }
        };
        out[c] = a as f32;
        out[d.c + c] = b as f32;
    }
    out
}

/// `out = coef[c] * x + coef[C + c] + coef[2C + c] * z` (the `z` term only if given).
fn affine(x: &[f32], z: Option<&[f32]>, coef: &[f32], d: ChannelDims) -> Vec<f32> {
    (0..d.len())
        .map(|i| {
            let c = i / d.hw % d.c;
            let v = coef[c] * x[i] + coef[d.c + c];
            z.map_or(v, |z| v + coef[2 * d.c + c] * z[i])
        })
        .collect()
}

impl Cpu {
    pub(crate) fn channel_moments(
        &self,
        x: &Storage,
        z: Option<(&Storage, &Storage)>,
        d: ChannelDims,
    ) -> Result<Storage> {
        let x = read(x)?;
        let out = match z {
            None => moments(&x, None, &[], d),
            Some((z, center)) => moments(&x, Some(&read(z)?), &read(center)?, d),
        };
        Ok(store(out))
    }

    pub(crate) fn channel_affine(
        &self,
        x: &Storage,
        z: Option<&Storage>,
        coef: &Storage,
        d: ChannelDims,
    ) -> Result<Storage> {
        let z = z.map(read).transpose()?;
        let out = affine(
            &read(x)?,
            z.as_deref().map(|v| v.as_slice()),
            &read(coef)?,
            d,
        );
        Ok(store(out))
    }
}
