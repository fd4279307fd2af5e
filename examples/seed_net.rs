//! The course's first CNN, written the way the PyTorch course writes it, then a few training
//! steps on one random batch. Run: `cargo run --example seed_net`.

use fovea_device::{Array, Device};
use fovea_nn::loss::CrossEntropyLoss;
use fovea_nn::{Conv2d, Linear, MaxPool2d, Module, ModuleExt, Optimizer, Result, Sgd, Tensor};

/// conv1 (1 -> 32, 5x5) -> ReLU -> 2x2 max pool -> flatten -> fc1 (4608 -> 10).
struct Net {
    conv1: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
}

impl Net {
    fn new() -> Net {
        Net {
            conv1: Conv2d::new(1, 32, 5),
            pool: MaxPool2d::new(2),
            fc1: Linear::new(32 * 12 * 12, 10),
        }
    }
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.pool.forward(&self.conv1.forward(x)?.relu()?)?;
        self.fc1.forward(&x.flatten(1, -1)?) // logits: no ReLU
    }
    fovea_nn::children!("Net"; conv1, pool, fc1);
}

fn main() -> Result<()> {
    let device = Device::best(); // the GPU, or the CPU reference if none opens
    let net = Net::new();
    net.to_device(&device)?;
    let mut opt = Sgd::new(net.parameters(), 0.01).momentum(0.9);
    println!("{} parameters on {device}:", net.num_parameters());
    for (name, p) in net.named_parameters() {
        println!("  {name:12} {:?}", p.shape());
    }

    let images = Tensor::new(Array::rand(&device, &[8, 1, 28, 28], 1)?);
    let labels = Array::from_slice(&device, &[0., 1., 2., 3., 4., 5., 6., 7.], &[8])?;
    for step in 1..=3 {
        let loss = CrossEntropyLoss::new().forward(&net.call(&images)?, &labels)?;
        opt.zero_grad();
        loss.backward()?;
        opt.step()?;
        println!("step {step}: loss {:.4}", loss.item()?);
    }
    let path = std::env::temp_dir().join("seed_net.safetensors");
    net.save_safetensors(&path)?;
    println!(
        "saved {} (PyTorch reads it with safetensors.torch.load_file)",
        path.display()
    );
    Ok(())
}
