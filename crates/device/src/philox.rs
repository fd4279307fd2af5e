//! Philox4x32-10 (Salmon et al., 2011), the counter-based generator behind every random fill.
//!
//! Element `i` of a fill uses block `i / 4` and lane `i % 4` of the generator keyed by the
//! seed, so the value depends only on `(seed, i)`: the same on the GPU (`shaders/random.wgsl`
//! implements the same rounds) as here, whatever the dispatch order.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Ten Philox rounds on `counter` with `key`.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for _ in 0..10 {
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
    }
    c
}

/// The four raw words of block `block` for `seed`.
pub fn block(seed: u64, block: u32) -> [u32; 4] {
    philox4x32([block, 0, 0, 0], [seed as u32, (seed >> 32) as u32])
}

/// A word mapped to `[0, 1)` with 24 bits of precision.
pub fn unit(word: u32) -> f32 {
    (word >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Box–Muller: two words to two standard normal samples.
pub fn box_muller(w0: u32, w1: u32) -> (f32, f32) {
    let u1 = ((w0 >> 8) + 1) as f32 * (1.0 / 16_777_216.0); // (0, 1]: log is finite
    let u2 = unit(w1);
    let r = (-2.0 * u1.ln()).sqrt();
    let t = std::f32::consts::TAU * u2;
    (r * t.cos(), r * t.sin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_random123_known_answer() {
        // Known-answer vectors of Random123's kat_vectors for philox4x32_10.
        assert_eq!(
            philox4x32([0; 4], [0; 2]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
    }
}
