//! `DataLoader`: batches of normalised images and labels, shuffled with a seed, prepared on a
//! background thread on native targets so the device never waits for the host.

use crate::augment::{Augment, Image};
use crate::dataset::ImageDataset;
use crate::error::{Error, Result};
use crate::transform::Normalize;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::sync::Arc;

/// One batch: `n` images as `[n, C, H, W]` f32 and their labels as f32.
#[derive(Clone, Debug)]
pub struct Batch {
    /// `n * C * H * W` values
    pub images: Vec<f32>,
    /// `n` class indices
    pub labels: Vec<f32>,
    /// `[n, C, H, W]`
    pub shape: [usize; 4],
}

/// Batching settings (`torch.utils.data.DataLoader`'s).
#[derive(Clone, Debug)]
pub struct DataLoader {
    data: Arc<ImageDataset>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    seed: u64,
    transform: Normalize,
    augment: Vec<Augment>,
}

impl DataLoader {
    /// Batches of `batch_size` in order, the last one partial; refuses a batch size of 0.
    pub fn new(data: Arc<ImageDataset>, batch_size: usize) -> Result<DataLoader> {
        if batch_size == 0 {
            return Err(Error::Config {
                what: "batch size",
                msg: "0 images per batch; use at least 1 (64 is the course's choice)".into(),
            });
        }
        Ok(DataLoader {
            data,
            batch_size,
            shuffle: false,
            drop_last: false,
            seed: 0,
            transform: Normalize::identity(),
            augment: Vec::new(),
        })
    }

    /// The same loader reshuffling every epoch from `seed` (epoch `e` uses `seed + e`).
    pub fn shuffle(mut self, seed: u64) -> DataLoader {
        self.shuffle = true;
        self.seed = seed;
        self
    }

    /// The same loader dropping a last, partial batch.
    pub fn drop_last(mut self, on: bool) -> DataLoader {
        self.drop_last = on;
        self
    }

    /// The same loader normalising with `t`.
    pub fn transform(mut self, t: Normalize) -> DataLoader {
        self.transform = t;
        self
    }

    /// The same loader applying `steps` (in order) to each image before normalising it;
    /// random steps draw from a generator seeded by the loader's seed, the epoch and the
    /// batch, so a run is reproducible. Refuses steps that do not fit the images.
    pub fn augment(mut self, steps: Vec<Augment>) -> Result<DataLoader> {
        let mut shape = self.data.image_shape;
        for s in &steps {
            shape = s.out_shape(shape)?;
        }
        self.augment = steps;
        Ok(self)
    }

    /// `(C, H, W)` of the images it yields.
    pub fn image_shape(&self) -> (usize, usize, usize) {
        let mut shape = self.data.image_shape;
        for s in &self.augment {
            shape = s.out_shape(shape).expect("checked in augment()");
        }
        shape
    }

    /// Batches per epoch.
    pub fn len(&self) -> usize {
        let n = self.data.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// Whether an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dataset.
    pub fn dataset(&self) -> &ImageDataset {
        &self.data
    }

    /// The image order of `epoch`.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.data.len()).collect();
        if self.shuffle {
            idx.shuffle(&mut StdRng::seed_from_u64(self.seed.wrapping_add(epoch)));
        }
        idx
    }

    fn make(&self, ids: &[usize], epoch: u64, batch: usize) -> Batch {
        let d = &self.data;
        let (c, h, w) = self.image_shape();
        let per = c * h * w;
        let mut images = vec![0.0f32; ids.len() * per];
        let mut rng = StdRng::seed_from_u64(
            self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (batch as u64).rotate_left(32),
        );
        for (k, &i) in ids.iter().enumerate() {
            let out = &mut images[k * per..(k + 1) * per];
            if self.augment.is_empty() {
                self.transform.apply(d.image(i), c, out);
                continue;
            }
            let mut img = Image {
                data: d.image(i).iter().map(|&b| b as f32 / 255.0).collect(),
                shape: d.image_shape,
            };
            for step in &self.augment {
                img = step.apply(&img, &mut rng);
            }
            out.copy_from_slice(&img.data);
            self.transform.apply_f32(out, c);
        }
        Batch {
            images,
            labels: ids.iter().map(|&i| d.labels[i] as f32).collect(),
            shape: [ids.len(), c, h, w],
        }
    }

    /// The batches of `epoch`. On native targets a thread prepares the next batches while
    /// the caller works on the current one.
    pub fn epoch(&self, epoch: u64) -> Box<dyn Iterator<Item = Batch> + Send> {
        self.epoch_from(epoch, 0)
    }

    /// The batches of `epoch` from batch `first` on (the same batches [`DataLoader::epoch`]
    /// yields there, augmentation included), for resuming mid-epoch.
    pub fn epoch_from(&self, epoch: u64, first: usize) -> Box<dyn Iterator<Item = Batch> + Send> {
        let order = self.order(epoch);
        let chunks: Vec<(usize, Vec<usize>)> = order
            .chunks(self.batch_size)
            .take(self.len())
            .map(<[usize]>::to_vec)
            .enumerate()
            .skip(first)
            .collect();
        #[cfg(not(target_arch = "wasm32"))]
        {
            let (tx, rx) = std::sync::mpsc::sync_channel(2);
            let me = self.clone();
            std::thread::spawn(move || {
                for (k, ids) in &chunks {
                    if tx.send(me.make(ids, epoch, *k)).is_err() {
                        break;
                    }
                }
            });
            Box::new(rx.into_iter())
        }
        #[cfg(target_arch = "wasm32")]
        {
            let me = self.clone();
            Box::new(
                chunks
                    .into_iter()
                    .map(move |(k, ids)| me.make(&ids, epoch, k)),
            )
        }
    }
}
