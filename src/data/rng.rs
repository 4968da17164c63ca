//! The toolkit's portable random stream [`Rng`]: ChaCha8 (`rand_chacha::ChaCha8Rng`,
//! seeded with `seed_from_u64`), uniform floats from the top 53 bits of a `u64`, normal
//! variates by Marsaglia's polar method with the pure-Rust `libm::log`. Its output is
//! specified bit for bit, so the same seed gives the same bytes on every machine.

use rand_chacha::rand_core::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The toolkit's portable random stream: ChaCha8 with exact, libm-free float paths.
#[derive(Debug, Clone)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// A stream seeded from a `u64`.
    pub fn seed_from_u64(seed: u64) -> Rng {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A raw 64-bit draw.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform on [0, 1), 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on [lo, hi).
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Uniform integer in `0..n` (n ≥ 1), by rejection (unbiased).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let r = self.next_u64();
            if r < zone {
                return r % n;
            }
        }
    }

    /// Standard normal variate (Marsaglia polar method; one of the pair is discarded so
    /// that each call consumes a self-contained number of draws).
    pub fn normal(&mut self) -> f64 {
        loop {
            let a = 2.0 * self.uniform() - 1.0;
            let b = 2.0 * self.uniform() - 1.0;
            let s = a * a + b * b;
            if s > 0.0 && s < 1.0 {
                return a * (-2.0 * libm::log(s) / s).sqrt();
            }
        }
    }

    /// Fair ±1 label.
    pub fn sign(&mut self) -> f64 {
        if self.next_u64() >> 63 == 1 {
            1.0
        } else {
            -1.0
        }
    }

    /// In-place Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            xs.swap(i, j);
        }
    }
}
