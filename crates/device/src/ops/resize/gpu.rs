//! The bilinear resize kernel, `shaders/resize_bilinear.wgsl`: forward, and backward as a
//! gather over the outputs each input feeds.

use super::ResizeGeom;
use crate::error::Result;
use crate::gpu::kernels::KernelKey;
use crate::gpu::{Engine, WG};
use crate::storage::Storage;

uniform! {
    /// `resize_bilinear.wgsl`: planes, input and output sizes, alignment and scales.
    pub(crate) struct ResizeParams for ["resize_bilinear"] {
        planes: u32,
        h: u32,
        w: u32,
        oh: u32,
        ow: u32,
        align: u32,
        scale_y: f32,
        scale_x: f32,
    }
}

impl Engine {
    fn resize_pass(&self, src: &Storage, g: &ResizeGeom, backward: bool) -> Result<Storage> {
        let len = if backward {
            g.planes * g.h * g.w
        } else {
            g.planes * g.oh * g.ow
        };
        let out = self.out(len)?;
        let p = ResizeParams {
            planes: g.planes as u32,
            h: g.h as u32,
            w: g.w as u32,
            oh: g.oh as u32,
            ow: g.ow as u32,
            align: g.align_corners as u32,
            scale_y: g.scale(g.h, g.oh),
            scale_x: g.scale(g.w, g.ow),
        };
        let entry = if backward { "backward" } else { "forward" };
        let key = KernelKey::entry("resize_bilinear", entry, &[("WG", WG as f64)]);
        let bufs = [src.gpu()?, &out];
        self.dispatch(&key, bytemuck::bytes_of(&p), &bufs, self.groups_1d(len))?;
        Ok(Storage::Gpu(out))
    }

    pub(crate) fn resize_bilinear(&self, x: &Storage, g: &ResizeGeom) -> Result<Storage> {
        self.resize_pass(x, g, false)
    }

    pub(crate) fn resize_bilinear_backward(
        &self,
        grad_y: &Storage,
        g: &ResizeGeom,
    ) -> Result<Storage> {
        self.resize_pass(grad_y, g, true)
    }
}
