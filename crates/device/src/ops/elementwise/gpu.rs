//! The elementwise kernels: `shaders/unary.wgsl`, `binary.wgsl` and `select.wgsl`, range by
//! range past the binding limit where operands are laid out like the output.

use super::{BinaryOp, Broadcast, UnaryOp};
use crate::error::Result;
use crate::gpu::kernels::KernelKey;
use crate::gpu::strided::StridedParams;
use crate::gpu::{Engine, PER, WG};
use crate::storage::Storage;

uniform! {
    /// `unary.wgsl`: length and the scalar operand.
    pub(crate) struct UnaryParams for ["unary"] {
        len: u32,
        scalar: f32,
        _pad: [u32; 2],
    }
}

impl Engine {
    pub(crate) fn unary(&self, op: UnaryOp, x: &Storage, len: usize) -> Result<Storage> {
        let out = self.out(len)?;
        let (code, scalar) = op.code();
        let key = KernelKey::new(
            "unary",
            &[("OP", code as f64), ("WG", WG as f64), ("PER", PER as f64)],
        );
        let x = x.gpu()?;
        for (s0, n) in self.ranges(len) {
            let p = UnaryParams {
                len: n as u32,
                scalar,
                _pad: [0; 2],
            };
            let bufs = [x.slice(s0, n), out.slice(s0, n)];
            self.dispatch_slices(
                &key,
                bytemuck::bytes_of(&p),
                &bufs,
                self.groups_per_element(n),
            )?;
        }
        Ok(Storage::Gpu(out))
    }

    pub(crate) fn binary(
        &self,
        op: BinaryOp,
        a: &Storage,
        b: &Storage,
        bc: &Broadcast,
    ) -> Result<Storage> {
        let len: usize = bc.shape.iter().product();
        let out = self.out(len)?;
        let (a, b) = (a.gpu()?, b.gpu()?);
        if bc.is_plain() {
            // same shapes: elementwise, range by range past the binding limit
            let key = KernelKey::new(
                "binary",
                &[
                    ("OP", op.code() as f64),
                    ("WG", WG as f64),
                    ("PER", PER as f64),
                    ("PLAIN", 1.0),
                ],
            );
            for (s0, n) in self.ranges(len) {
                let p = StridedParams::new(&[n], &[&[1], &[1]], [0, 0]);
                let bufs = [a.slice(s0, n), b.slice(s0, n), out.slice(s0, n)];
                self.dispatch_slices(
                    &key,
                    bytemuck::bytes_of(&p),
                    &bufs,
                    self.groups_per_element(n),
                )?;
            }
            return Ok(Storage::Gpu(out));
        }
        let p = StridedParams::new(&bc.shape, &[&bc.strides[0], &bc.strides[1]], [0, 0]);
        self.strided("binary", Some(op.code()), Some(false), &p, &[a, b, &out])?;
        Ok(Storage::Gpu(out))
    }

    pub(crate) fn select(
        &self,
        cond: &Storage,
        a: &Storage,
        b: &Storage,
        bc: &Broadcast,
    ) -> Result<Storage> {
        let s: Vec<&[usize]> = bc.strides.iter().map(Vec::as_slice).collect();
        let p = StridedParams::new(&bc.shape, &s, [0, 0]);
        let out = self.out(p.len as usize)?;
        let bufs = [cond.gpu()?, a.gpu()?, b.gpu()?, &out];
        self.strided("select", None, Some(bc.is_plain()), &p, &bufs)?;
        Ok(Storage::Gpu(out))
    }
}
