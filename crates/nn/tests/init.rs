//! Default initialisation: PyTorch's bounds, and the same seed giving the same weights. This
//! is the only test in its binary, because the generator is process-wide and other tests
//! building layers in parallel threads would draw from it between the two seeded builds.

use fovea_nn::{manual_seed, Conv2d, Linear};

#[test]
fn default_init_is_pytorchs_and_seedable() {
    manual_seed(7);
    let a = Conv2d::new(16, 32, 3);
    manual_seed(7);
    let b = Conv2d::new(16, 32, 3);
    assert_eq!(a.weight.to_vec().unwrap(), b.weight.to_vec().unwrap());
    let c = Conv2d::new(16, 32, 3);
    assert_ne!(a.weight.to_vec().unwrap(), c.weight.to_vec().unwrap());
    // Kaiming-uniform with a = sqrt(5) and the bias: both uniform in +-1/sqrt(fan_in).
    let fan_in = 16.0 * 9.0f32;
    let bound = 1.0 / fan_in.sqrt();
    let w = a.weight.to_vec().unwrap();
    let bias = a.bias.as_ref().unwrap().to_vec().unwrap();
    assert!(w.iter().chain(&bias).all(|v| v.abs() <= bound));
    let var = w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32;
    let want = bound * bound / 3.0;
    assert!(
        (var - want).abs() < 0.1 * want,
        "variance {var}, uniform gives {want}"
    );
    let lin = Linear::new(4608, 10);
    let wmax = lin
        .weight
        .to_vec()
        .unwrap()
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(wmax <= 1.0 / 4608f32.sqrt() && wmax > 0.9 / 4608f32.sqrt());
}
