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

    /// The per-channel affine map, and with `relu` also the ReLU of its output, written by
    /// the same pass.
    pub(crate) fn channel_affine(
        &self,
        x: &Storage,
        z: Option<&Storage>,
        coef: &Storage,
        d: ChannelDims,
        relu: bool,
    ) -> Result<(Storage, Option<Storage>)> {
        let out = self.out(d.len())?;
        let x = x.gpu()?;
        let zb = match z {
            Some(z) => z.gpu()?,
            None => x,
        };
        let key = KernelKey::entry(
            "batch_norm",
            if relu { "affine_relu" } else { "affine" },
            &[
                ("MODE", 0.0),
                ("HAS_Z", z.is_some() as u32 as f64),
                ("WG", WG as f64),
            ],
        );
        let p = Self::channel_params(d);
        let activated = if relu { Some(self.out(d.len())?) } else { None };
        let mut bufs = vec![x, zb, coef.gpu()?, &*out];
        bufs.extend(activated.as_deref());
        self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(d.len()))?;
        Ok((Storage::Gpu(out), activated.map(Storage::Gpu)))
    }
}
