//! The seeded dataset generators (see docs/model.md): sphere, Gaussian, orthogonal and
//! clustered data. Settings and the bytes needed are checked against the memory budget
//! before anything is allocated; the data are drawn from [`Rng`] in a fixed order, so a
//! seed gives the same bytes on every machine.

use nalgebra::{DMatrix, DVector};

use super::{DataError, Dataset, Rng};
use crate::io::budget::{array_bytes, BudgetError, MemoryBudget};

/// Which generator to run, with its parameters (see docs/model.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Generator {
    /// x uniform on √d·S^{d−1} (a normalised Gaussian), y uniform on {±1}.
    Sphere,
    /// x ~ N(0, s² I_d), y uniform. The paper mentions s² = 1/d (norms near 1); the
    /// default here is s² = 1, so norms are near √d like the sphere data.
    Gaussian {
        /// Variance s² of each coordinate (default 1).
        variance: f64,
    },
    /// x_i = √d e_i (requires m ≤ d); the first ⌊m/2⌋ samples are +1, the rest −1.
    Orthogonal,
    /// Clustered data for Corollary 4.1 (Frei et al. 2023): `clusters` means drawn
    /// uniformly on √d·S^{d−1}, cluster c labelled +1 when c is even and −1 when odd;
    /// sample i belongs to cluster `i mod clusters` and is `mean + noise·g`
    /// (g standard normal), rescaled back onto √d·S^{d−1}.
    Clusters {
        /// Number of clusters (default 4, at least 2 so both labels occur).
        clusters: usize,
        /// Per-coordinate noise standard deviation before rescaling (default 0.5).
        noise: f64,
    },
}

impl Generator {
    /// Default Gaussian generator (s² = 1).
    pub const GAUSSIAN: Generator = Generator::Gaussian { variance: 1.0 };
    /// Default cluster generator (4 clusters, noise 0.5).
    pub const CLUSTERS: Generator = Generator::Clusters { clusters: 4, noise: 0.5 };

    /// Draws a dataset of m samples in dimension d from `seed`.
    pub fn generate(&self, d: usize, m: usize, seed: u64) -> Result<Dataset, DataError> {
        self.generate_within(d, m, seed, &MemoryBudget::global())
    }

    /// Bytes [`Generator::generate`] allocates for m samples in dimension d (the data,
    /// labels, one row and any cluster means), overflow-checked; `None` on overflow.
    pub fn bytes_needed(&self, d: usize, m: usize) -> Option<u64> {
        let clusters = match *self {
            Generator::Clusters { clusters, .. } => clusters,
            _ => 0,
        };
        [array_bytes(&[m, d], 8), array_bytes(&[m], 8), array_bytes(&[d], 8), array_bytes(&[clusters, d], 8)]
            .into_iter()
            .try_fold(0u64, |acc, b| b.and_then(|b| acc.checked_add(b)))
    }

    /// [`Generator::generate`] within an explicit memory budget: the settings are
    /// validated and the bytes needed ([`Generator::bytes_needed`]) checked against
    /// `budget` before anything is allocated.
    pub fn generate_within(&self, d: usize, m: usize, seed: u64, budget: &MemoryBudget) -> Result<Dataset, DataError> {
        if d == 0 || m == 0 {
            return Err(DataError::Empty { m, d });
        }
        match *self {
            Generator::Gaussian { variance } if !(variance.is_finite() && variance > 0.0) => {
                return Err(DataError::Settings(format!("variance must be positive and finite, got {variance}")));
            }
            Generator::Orthogonal if m > d => {
                return Err(DataError::Settings(format!("orthogonal data needs m ≤ d (got m = {m}, d = {d})")));
            }
            Generator::Clusters { clusters, .. } if clusters < 2 => {
                return Err(DataError::Settings(format!("clusters needs at least 2 clusters, got {clusters}")));
            }
            Generator::Clusters { noise, .. } if !(noise.is_finite() && noise >= 0.0) => {
                return Err(DataError::Settings(format!("noise must be finite and ≥ 0, got {noise}")));
            }
            _ => {}
        }
        let what = format!("a dataset of m = {m} samples in d = {d}");
        let needed = self.bytes_needed(d, m).ok_or_else(|| BudgetError::Overflow { what: what.clone() })?;
        budget.check(&what, needed)?;
        let mut rng = Rng::seed_from_u64(seed);
        let sqrt_d = (d as f64).sqrt();
        // Column-major m × d, filled row by row from a one-row buffer.
        let mut x = budget.vec(&what, m * d, 0.0)?;
        let mut y = budget.vec(&what, m, 0.0)?;
        let mut row = budget.vec(&what, d, 0.0)?;
        let put = |x: &mut [f64], i: usize, row: &[f64]| {
            for (c, &t) in row.iter().enumerate() {
                x[c * m + i] = t;
            }
        };
        match *self {
            Generator::Sphere => {
                for i in 0..m {
                    sphere_point(&mut rng, &mut row, sqrt_d);
                    put(&mut x, i, &row);
                    y[i] = rng.sign();
                }
            }
            Generator::Gaussian { variance } => {
                let s = variance.sqrt();
                for i in 0..m {
                    for t in row.iter_mut() {
                        *t = s * rng.normal();
                    }
                    put(&mut x, i, &row);
                    y[i] = rng.sign();
                }
            }
            Generator::Orthogonal => {
                for i in 0..m {
                    x[i * m + i] = sqrt_d;
                    y[i] = if i < m / 2 { 1.0 } else { -1.0 };
                }
            }
            Generator::Clusters { clusters, noise } => {
                let mut means = budget.vec(&what, clusters * d, 0.0)?;
                for c in 0..clusters {
                    sphere_point(&mut rng, &mut means[c * d..(c + 1) * d], sqrt_d);
                }
                for i in 0..m {
                    let c = i % clusters;
                    for (t, mu) in row.iter_mut().zip(&means[c * d..(c + 1) * d]) {
                        *t = mu + noise * rng.normal();
                    }
                    rescale(&mut row, sqrt_d);
                    put(&mut x, i, &row);
                    y[i] = if c % 2 == 0 { 1.0 } else { -1.0 };
                }
            }
        }
        Dataset::new(DMatrix::from_vec(m, d, x), DVector::from_vec(y))
    }
}

fn sphere_point(rng: &mut Rng, out: &mut [f64], radius: f64) {
    loop {
        for t in out.iter_mut() {
            *t = rng.normal();
        }
        if rescale(out, radius) {
            return;
        }
    }
}

/// Rescales `v` to Euclidean norm `radius`; false when `v` is zero.
fn rescale(v: &mut [f64], radius: f64) -> bool {
    let n2: f64 = v.iter().map(|t| t * t).sum();
    if n2 == 0.0 {
        return false;
    }
    let f = radius / n2.sqrt();
    for t in v.iter_mut() {
        *t *= f;
    }
    true
}
