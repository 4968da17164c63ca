//! Datasets `(x_i, y_i)`, `x_i ∈ R^d`, `y_i ∈ {−1, +1}`, their seeded generators
//! (see docs/model.md), and the pairwise inner products of Lemma 3.1 (docs/theorems.md),
//! computed in tiles so that memory stays O(m·d). The random stream lives in `rng`, the
//! generators in `generate`; both are re-exported here.
//!
//! # Reproducibility
//! Every generator draws from [`Rng`], a ChaCha8 stream (`rand_chacha::ChaCha8Rng`, seeded
//! with `seed_from_u64`) whose output is specified bit for bit. Uniform floats take the top
//! 53 bits of a `u64`; normal variates use Marsaglia's polar method with the pure-Rust
//! `libm::log` (never the platform's libm) and IEEE `sqrt`, and norms are summed in a
//! fixed order. So the same seed gives the same bytes on every machine.

use nalgebra::{DMatrix, DVector};
use thiserror::Error;

use crate::io::budget::BudgetError;

mod generate;
mod rng;

pub use generate::Generator;
pub use rng::Rng;

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

    /// The inputs (m×d) and labels, moved out.
    pub(crate) fn into_parts(self) -> (DMatrix<f64>, DVector<f64>) {
        (self.x, self.y)
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
            let block = xa * x.rows(b, tb).transpose();
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
