//! Receptive fields: which input pixels an activation can see, for cropping the patches that
//! excite a channel most (Zeiler & Fergus).

/// The receptive field of a layer's activations along one axis (square kernels): output
/// index `i` sees input pixels centred on `start + i * jump`, `size` wide.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReceptiveField {
    /// pixels seen, per side
    pub size: usize,
    /// input pixels between neighbouring outputs
    pub jump: usize,
    /// input coordinate of output 0's centre (may be negative with padding)
    pub start: f64,
}

impl ReceptiveField {
    /// A single input pixel (the identity).
    pub const PIXEL: ReceptiveField = ReceptiveField {
        size: 1,
        jump: 1,
        start: 0.0,
    };

    /// After a window of `kernel` with `stride` and `padding` (a conv or a pool).
    pub fn then(self, kernel: usize, stride: usize, padding: usize) -> ReceptiveField {
        ReceptiveField {
            size: self.size + (kernel - 1) * self.jump,
            jump: self.jump * stride,
            start: self.start + ((kernel - 1) as f64 / 2.0 - padding as f64) * self.jump as f64,
        }
    }

    /// The input range `[lo, hi)` output index `i` sees, clipped to `0..len`.
    pub fn span(&self, i: usize, len: usize) -> (usize, usize) {
        let centre = self.start + (i * self.jump) as f64;
        let half = (self.size as f64 - 1.0) / 2.0;
        let lo = (centre - half).max(0.0).round() as usize;
        let hi = ((centre + half).round() as i64 + 1).clamp(0, len as i64) as usize;
        (lo.min(len), hi.max(lo.min(len)))
    }
}

/// A layer's window `(kernel, stride, padding)`, or `None` when it keeps the geometry.
pub type Window = Option<(usize, usize, usize)>;

/// Receptive fields by layer name along a chain of windows: `steps` holds each layer's
/// name and window.
pub fn chain(steps: &[(String, Window)]) -> Vec<(String, ReceptiveField)> {
    let mut rf = ReceptiveField::PIXEL;
    steps
        .iter()
        .map(|(name, win)| {
            if let Some((k, s, p)) = *win {
                rf = rf.then(k, s, p);
            }
            (name.clone(), rf)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg_block_fields_grow_as_the_textbook_says() {
        // conv3 p1, conv3 p1, pool2: 5x5 after two convs, 6x6 after the pool, jump 2
        let c = chain(&[
            ("a".into(), Some((3, 1, 1))),
            ("b".into(), Some((3, 1, 1))),
            ("relu".into(), None),
            ("pool".into(), Some((2, 2, 0))),
            ("c".into(), Some((3, 1, 1))),
        ]);
        assert_eq!((c[1].1.size, c[1].1.jump), (5, 1));
        assert_eq!(c[2].1, c[1].1);
        assert_eq!((c[3].1.size, c[3].1.jump, c[3].1.start), (6, 2, 0.5));
        assert_eq!((c[4].1.size, c[4].1.jump), (10, 2));
        // output 0 of the pool sees pixels 0..=3 minus padding: [-2, 3] clipped to [0, 4)
        assert_eq!(c[3].1.span(0, 28), (0, 4));
        assert_eq!(c[3].1.span(5, 28), (8, 14));
    }
}
