//! Reads to the host: copy into a fresh staging buffer, submit, `map_async`, await.
//!
//! Each read gets its own staging buffer, so a buffer is never reused before its
//! `map_async` resolved. On native targets the wait polls the device; in the browser the
//! event loop resolves the mapping and the future simply awaits it.

use super::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// Copies the first `len` elements of `src` to the host.
    pub(crate) async fn read_async(&self, src: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let bytes = len as u64 * 4;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("fovea.readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.copy(src, 0, &staging, 0, bytes);
        self.flush();
        let (tx, rx) = futures_intrusive::channel::shared::oneshot_channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for a readback: {e}")))?;
        match rx.receive().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(Error::Gpu(format!("mapping a readback buffer: {e}"))),
            None => {
                return Err(Error::Gpu(
                    "the readback was dropped before it completed".into(),
                ))
            }
        }
        self.take_error()?;
        let data = {
            let view = staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading a mapped buffer: {e}")))?;
            bytemuck::cast_slice::<u8, f32>(&view).to_vec()
        };
        staging.unmap();
        Ok(data)
    }

    /// Uploads host data through a staging copy recorded in the shared encoder, so the write
    /// is ordered after every op already recorded (pooled buffers may be reused).
    pub(crate) fn upload(&self, data: &[f32]) -> Result<super::buffer_pool::PooledBuffer> {
        let dst = self.alloc(data.len())?;
        if !data.is_empty() {
            let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("fovea.upload"),
                size: data.len() as u64 * 4,
                usage: wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: true,
            });
            staging
                .slice(..)
                .get_mapped_range_mut()
                .expect("a buffer mapped at creation is writable")
                .copy_from_slice(bytemuck::cast_slice(data));
            staging.unmap();
            self.copy(&staging, 0, dst.buffer(), 0, data.len() as u64 * 4);
        }
        Ok(dst)
    }

    /// Copies `len` elements of `x` to the host, blocking (off wasm; the browser must use
    /// [`Array::to_vec_async`](crate::Array::to_vec_async)).
    pub(crate) fn download(&self, x: &crate::storage::Storage, len: usize) -> Result<Vec<f32>> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            pollster::block_on(self.read_async(x.gpu()?.buffer(), len))
        }
        #[cfg(target_arch = "wasm32")]
        {
            let _ = (x, len);
            Err(Error::Gpu(
                "blocking reads are unavailable in the browser; use to_vec_async".into(),
            ))
        }
    }
}
