//! The batch-norm kernels, `shaders/batch_norm.wgsl`: per-channel moments (a workgroup per
//! channel) and the per-channel affine map.

use super::ChannelDims;
use crate::error::Result;
use crate::gpu::kernels::KernelKey;
use crate::gpu::{Engine, WG};
use crate::storage::Storage;

uniform! {
    /// `batch_norm.wgsl`: batch, channels and pixels per channel.
    pub(crate) struct ChannelParams for ["batch_norm"] {
        n: u32,
        c: u32,
        hw: u32,
        _pad: u32,
    }
}

impl Engine {
    fn channel_params(d: ChannelDims) -> ChannelParams {
        ChannelParams {
            n: d.n as u32,
            c: d.c as u32,
            hw: d.hw as u32,
            _pad: 0,
        }
    }

    pub(crate) fn channel_moments(
        &self,
        x: &Storage,
        z: Option<(&Storage, &Storage)>,
        d: ChannelDims,
    ) -> Result<Storage> {
        let out = self.out(2 * d.c)?;
        let x = x.gpu()?;
        let (z, center) = match z {
            Some((z, c)) => (z.gpu()?, c.gpu()?),
            None => (x, x),
        };
        let mode = if std::ptr::eq(z, x) { 0.0 } else { 1.0 };
        let key = KernelKey::entry(
            "batch_norm",
            "moments",
            &[("MODE", mode), ("HAS_Z", 0.0), ("WG", WG as f64)],
        );
        let p = Self::channel_params(d);
        let bufs = [x, z, center, &out];
        self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, self.groups_flat(d.c))?;
        Ok(Storage::Gpu(out))
    }

    pub(crate) fn channel_affine(
        &self,
        x: &Storage,
        z: Option<&Storage>,
        coef: &Storage,
        d: ChannelDims,
    ) -> Result<Storage> {
        let out = self.out(d.len())?;
        let x = x.gpu()?;
        let zb = match z {
            Some(z) => z.gpu()?,
            None => x,
        };
        let key = KernelKey::entry(
            "batch_norm",
            "affine",
            &[
                ("MODE", 0.0),
                ("HAS_Z", z.is_some() as u32 as f64),
                ("WG", WG as f64),
            ],
        );
        let p = Self::channel_params(d);
        let bufs = [x, zb, coef.gpu()?, &out];
        self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(d.len()))?;
        Ok(Storage::Gpu(out))
    }
}
