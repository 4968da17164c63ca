//! Datasets `(x_i, y_i)`, `x_i ∈ R^d`, `y_i ∈ {−1, +1}`, their seeded generators
//! (see docs/model.md), and the pairwise inner products of Lemma 3.1 (docs/theorems.md),
//! computed in tiles so that memory stays O(m·d).
//!
//! # Reproducibility
//! Every generator draws from [`Rng`], a ChaCha8 stream (`rand_chacha::ChaCha8Rng`, seeded
//! with `seed_from_u64`) whose output is specified bit for bit. Uniform floats take the top
//! 53 bits of a `u64`; normal variates use Marsaglia's polar method with the pure-Rust
//! `libm::log` (never the platform's libm) and IEEE `sqrt`, and norms are summed in a
//! fixed order. So the same seed gives the same bytes on every machine.

use nalgebra::{DMatrix, DVector};
use rand_chacha::rand_core::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use crate::io::budget::{array_bytes, BudgetError, MemoryBudget};

/// Errors in building or generating a dataset.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DataError {
    /// No samples or zero dimension.
    #[error("dataset is empty: m = {m} samples of dimension d = {d} (both must be at least 1)")]
    Empty {
        /// Samples.
        m: usize,
        /// Dimension.
        d: usize,
    },
    /// Labels and inputs disagree in count.
    #[error("shape mismatch: {x_rows} inputs but {y_len} labels")]
    Shape {
        /// Rows of x.
        x_rows: usize,
        /// Length of y.
        y_len: usize,
    },
    /// A value is NaN or infinite.
    #[error("non-finite value {value} in x at sample {sample}, coordinate {coord}")]
    NonFinite {
        /// Sample index.
        sample: usize,
        /// Coordinate.
        coord: usize,
        /// The value.
        value: f64,
    },
    /// A label other than ±1.
    #[error("label {value} at sample {sample} is not -1 or +1")]
    BadLabel {
        /// Sample index.
        sample: usize,
        /// The value.
        value: f64,
    },
    /// Generator settings that cannot be honoured.
    #[error("invalid generator settings: {0}")]
    Settings(String),
    /// The sizes asked for exceed the memory budget (or overflow).
    #[error("{0}")]
    Budget(#[from] BudgetError),
}

/// A labelled dataset: `x` is m×d (row i is sample i), `y` has entries ±1.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    x: DMatrix<f64>,
    y: DVector<f64>,
}

impl Dataset {
    /// Builds a dataset, refusing empty data, NaN/∞ and labels other than ±1.
    pub fn new(x: DMatrix<f64>, y: DVector<f64>) -> Result<Dataset, DataError> {
        let (m, d) = x.shape();
        if m == 0 || d == 0 {
            return Err(DataError::Empty { m, d });
        }
        if y.len() != m {
            return Err(DataError::Shape { x_rows: m, y_len: y.len() });
        }
        for i in 0..m {
            for c in 0..d {
                let value = x[(i, c)];
                if !value.is_finite() {
                    return Err(DataError::NonFinite { sample: i, coord: c, value });
                }
            }
        }
        for (sample, &value) in y.iter().enumerate() {
            if value != 1.0 && value != -1.0 {
                return Err(DataError::BadLabel { sample, value });
            }
        }
        Ok(Dataset { x, y })
    }

    /// Builds a dataset from row-major inputs (m rows of d) and labels.
    pub fn from_rows(d: usize, x_rows: &[f64], y: &[f64]) -> Result<Dataset, DataError> {
        if d == 0 || x_rows.is_empty() {
            return Err(DataError::Empty { m: y.len(), d });
        }
        if Some(x_rows.len()) != y.len().checked_mul(d) {
            return Err(DataError::Shape { x_rows: x_rows.len() / d, y_len: y.len() });
        }
        Dataset::new(DMatrix::from_row_slice(y.len(), d, x_rows), DVector::from_column_slice(y))
    }

    /// Number of samples m.
    pub fn m(&self) -> usize {
        self.x.nrows()
    }

    /// Input dimension d.
    pub fn d(&self) -> usize {
        self.x.ncols()
    }

    /// Inputs, m×d.
    pub fn x(&self) -> &DMatrix<f64> {
        &self.x
    }

    /// Labels ±1, length m.
    pub fn y(&self) -> &DVector<f64> {
        &self.y
    }

    /// Sample i as an owned vector of length d.
    pub fn row(&self, i: usize) -> Vec<f64> {
        self.x.row(i).iter().copied().collect()
    }

    /// The samples with the given indices, in that order.
    pub fn select(&self, idx: &[usize]) -> Dataset {
        let x = DMatrix::from_fn(idx.len(), self.d(), |r, c| self.x[(idx[r], c)]);
        let y = DVector::from_fn(idx.len(), |r, _| self.y[idx[r]]);
        Dataset { x, y }
    }

    /// Inner-product statistics used by Lemma 3.1 and Theorems 3.1 and 4.1.
    pub fn inner_product_stats(&self) -> InnerProductStats {
        let pw = pairwise_inner(&self.x);
        let sqrt_d = (self.d() as f64).sqrt();
        let norm_dev = pw.sq_norms.iter().map(|s| (s.sqrt() - sqrt_d).abs()).fold(0.0, f64::max);
        InnerProductStats { p: pw.p, c: pw.p / self.d() as f64, max_norm_deviation: norm_dev }
    }

    /// Number of samples labelled +1 and −1.
    pub fn label_counts(&self) -> (usize, usize) {
        let pos = self.y.iter().filter(|&&y| y > 0.0).count();
        (pos, self.m() - pos)
    }
}

/// `p = max_{i≠j} |⟨x_i, x_j⟩|`, `c = p/d`, and how far the norms are from √d.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct InnerProductStats {
    /// Largest absolute inner product between distinct samples (0 when m = 1).
    pub p: f64,
    /// `p / d`, the constant c of Theorem 3.1.
    pub c: f64,
    /// `max_i | ‖x_i‖ − √d |`: 0 (to rounding) for data on √d·S^{d−1}.
    pub max_norm_deviation: f64,
}

/// Rows per tile in [`pairwise_inner`]: a tile product is `TILE × TILE` f64 (2 MiB).
const TILE: usize = 512;

/// The pairwise inner products of the rows of `x`, reduced as Lemma 3.1 needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct PairwiseInner {
    /// `p = max_{i≠j} |⟨x_i, x_j⟩|` (0 when there is one row).
    pub p: f64,
    /// The first pair `(i, j)`, `j < i`, in row-major order where `|⟨x_i, x_j⟩| = p`;
    /// `None` when `p = 0`.
    pub argmax: Option<(usize, usize)>,
    /// `‖x_i‖²` for every row, from the same products.
    pub sq_norms: Vec<f64>,
}

/// `p = max_{i≠j} |⟨x_i, x_j⟩|` (Lemma 3.1, docs/theorems.md) and the squared row norms,
/// computed tile by tile: each tile is a `512 × 512` block of `X Xᵀ`, so memory is
/// O(m·d) for the data plus 2 MiB, never the m × m Gram matrix. The one place in the
/// library that computes p.
pub fn pairwise_inner(x: &DMatrix<f64>) -> PairwiseInner {
    let m = x.nrows();
    let mut out = PairwiseInner { p: 0.0, argmax: None, sq_norms: vec![0.0; m] };
    for a in (0..m).step_by(TILE) {
        let ta = TILE.min(m - a);
        let xa = x.rows(a, ta);
        for b in (0..=a).step_by(TILE) {
            let tb = TILE.min(m - b);
            let block = &xa * x.rows(b, tb).transpose();
            for r in 0..ta {
                let i = a + r;
                for c in 0..tb {
                    let j = b + c;
                    if j == i {
                        out.sq_norms[i] = block[(r, c)];
                    }
                    if j >= i {
                        break;
                    }
                    let v = block[(r, c)].abs();
                    // Ties go to the first pair in row-major order, whatever the tiling.
                    if v > out.p || (v == out.p && v > 0.0 && out.argmax.is_some_and(|best| (i, j) < best)) {
                        out.p = v;
                        out.argmax = Some((i, j));
                    }
                }
            }
        }
    }
    out
}

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

/// Which generator to run, with its parameters (DESIGN §4).
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
