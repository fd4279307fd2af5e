//! CPU reference of softmax cross-entropy: each row's loss and gradient in one pass.

use super::CrossEntropyGeom;
use crate::cpu::{filled, read, store, Cpu};
use crate::error::Result;
use crate::storage::Storage;

/// Softmax cross-entropy per row, and its gradient w.r.t. the logits (of the row losses'
/// sum). An ignored row gives 0 and 0; a label that is not a class index gives NaN.
fn rows(logits: &[f32], labels: &[f32], g: &CrossEntropyGeom) -> (Vec<f32>, Vec<f32>) {
    let c = g.classes;
    let mut loss = filled(g.rows, 0.0);
    let mut grad = filled(g.rows * c, 0.0);
    for r in 0..g.rows {
        let z = &logits[r * c..(r + 1) * c];
        let gr = &mut grad[r * c..(r + 1) * c];
        let label = labels[r];
        if label == g.ignore_index as f32 {
            continue;
        }
        if label.fract() != 0.0 || label < 0.0 || label >= c as f32 {
            loss[r] = f32::NAN;
            gr.fill(f32::NAN);
            continue;
        }
        let y = label as usize;
        let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = z.iter().map(|v| (v - max).exp()).sum();
        let lse = max + sum.ln();
        let e = g.smoothing;
        let mean_z = z.iter().sum::<f32>() / c as f32;
        loss[r] = lse - (1.0 - e) * z[y] - e * mean_z;
        for (j, gj) in gr.iter_mut().enumerate() {
            let target = e / c as f32 + if j == y { 1.0 - e } else { 0.0 };
            *gj = (z[j] - lse).exp() - target;
        }
    }
    (loss, grad)
}

impl Cpu {
    pub(crate) fn cross_entropy(
        &self,
        logits: &Storage,
        labels: &Storage,
        g: &CrossEntropyGeom,
    ) -> Result<(Storage, Storage)> {
        let (loss, grad) = rows(&read(logits)?, &read(labels)?, g);
        Ok((store(loss), store(grad)))
    }
}
