//! The depth-2 ReLU network `N_θ(x) = Σ_j v_j σ(w_j·x + b_j)` (docs/model.md).
//!
//! A [`Net`] holds the first-layer weights `w` (k×d, one row per neuron), the optional
//! biases `b` (length k; `None` for a bias-free network, where b ≡ 0 is not a parameter)
//! and the output weights `v` (length k). Both forms are 2-homogeneous:
//! `N_{αθ} = α² N_θ` for α > 0.
//!
//! The parameter vector θ is laid out as `(w_1, …, w_k, b, v)` — the paper's order —
//! by [`Net::flatten`]; [`Net::param_count`] is `k·d + k + k` (or `k·d + k` bias-free).
//!
//! Sign convention: the paper's `sign(0) = +1`, so a sample with `N(x) = 0` is
//! classified +1. Margins `q_i = y_i N(x_i)`; a network *separates* the data when
//! `min_i q_i > 0`.

use nalgebra::{DMatrix, DVector};
use thiserror::Error;

use crate::data::Dataset;

/// Neurons per block of [`Net::activation_pattern`]'s pre-activations.
const PATTERN_BLOCK: usize = 64;

/// Errors raised when a network is built from parts or applied to data.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NetError {
    /// The network has no neurons or no input dimension.
    #[error("network is empty: width k = {k}, input dimension d = {d} (both must be at least 1)")]
    Empty {
        /// Width.
        k: usize,
        /// Input dimension.
        d: usize,
    },
    /// Tensors of the network disagree in shape.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        /// Which tensor.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A parameter is NaN or infinite.
    #[error("non-finite value {value} in {what} at index {index}")]
    NonFinite {
        /// Which tensor.
        what: &'static str,
        /// Flat (row-major) index.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The network's input dimension differs from the data's.
    #[error("dimension mismatch: the network takes d = {net} inputs but the data has d = {data}")]
    DimensionMismatch {
        /// Network input dimension.
        net: usize,
        /// Data dimension.
        data: usize,
    },
    /// The network does not separate the data (needed for normalisation).
    #[error("the network does not separate the data: sample {sample} has margin y·N(x) = {margin:e} ≤ 0 (KKT analysis and normalisation need a separating network)")]
    NotSeparating {
        /// 0-based index of the sample with the smallest margin.
        sample: usize,
        /// Its margin.
        margin: f64,
    },
}

/// State of one ReLU for one input, with the ambiguity tolerance τ of docs/model.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `u > τ·scale`: the derivative of σ is 1.
    On,
    /// `u < −τ·scale`: the derivative of σ is 0.
    Off,
    /// `|u| ≤ τ·scale`: treated as a kink; any derivative in [0, 1] is admissible.
    Ambiguous,
}

/// A depth-2 ReLU network, with or without first-layer bias.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    w: DMatrix<f64>,
    b: Option<DVector<f64>>,
    v: DVector<f64>,
}

fn check_finite(what: &'static str, values: impl Iterator<Item = f64>) -> Result<(), NetError> {
    for (index, value) in values.enumerate() {
        if !value.is_finite() {
            return Err(NetError::NonFinite { what, index, value });
        }
    }
    Ok(())
}

impl Net {
    /// Builds a network from `w` (k×d), optional `b` (k) and `v` (k), validating shapes
    /// and finiteness.
    pub fn new(w: DMatrix<f64>, b: Option<DVector<f64>>, v: DVector<f64>) -> Result<Net, NetError> {
        let (k, d) = w.shape();
        if k == 0 || d == 0 {
            return Err(NetError::Empty { k, d });
        }
        if v.len() != k {
            return Err(NetError::Shape { what: "v", expected: k, got: v.len() });
        }
        if let Some(b) = &b {
            if b.len() != k {
                return Err(NetError::Shape { what: "b", expected: k, got: b.len() });
            }
            check_finite("b", b.iter().copied())?;
        }
        // Row-major index order for messages.
        check_finite("w", (0..k).flat_map(|j| (0..d).map(move |c| (j, c))).map(|(j, c)| w[(j, c)]))?;
        check_finite("v", v.iter().copied())?;
        Ok(Net { w, b, v })
    }

    /// Builds a network from row-major `w` (k rows of d), optional `b`, and `v`.
    pub fn from_rows(d: usize, w_rows: &[f64], b: Option<&[f64]>, v: &[f64]) -> Result<Net, NetError> {
        let k = v.len();
        if w_rows.len() != k * d {
            return Err(NetError::Shape { what: "w", expected: k * d, got: w_rows.len() });
        }
        Net::new(
            DMatrix::from_row_slice(k, d, w_rows),
            b.map(DVector::from_column_slice),
            DVector::from_column_slice(v),
        )
    }

    /// Width k (number of hidden neurons).
    pub fn width(&self) -> usize {
        self.w.nrows()
    }

    /// Input dimension d.
    pub fn dim(&self) -> usize {
        self.w.ncols()
    }

    /// Whether the network has a (trainable) first-layer bias.
    pub fn has_bias(&self) -> bool {
        self.b.is_some()
    }

    /// First-layer weights, k×d (row j is w_j).
    pub fn w(&self) -> &DMatrix<f64> {
        &self.w
    }

    /// First-layer biases (`None` for a bias-free network).
    pub fn b(&self) -> Option<&DVector<f64>> {
        self.b.as_ref()
    }

    /// Bias of neuron j (0 for a bias-free network).
    pub fn bias(&self, j: usize) -> f64 {
        self.b.as_ref().map_or(0.0, |b| b[j])
    }

    /// Output weights, length k.
    pub fn v(&self) -> &DVector<f64> {
        &self.v
    }

    /// Splits the network into `(w, b, v)`.
    pub fn into_parts(self) -> (DMatrix<f64>, Option<DVector<f64>>, DVector<f64>) {
        (self.w, self.b, self.v)
    }

    /// Number of parameters P = k·d + k (+ k with bias).
    pub fn param_count(&self) -> usize {
        let k = self.width();
        k * self.dim() + k + if self.has_bias() { k } else { 0 }
    }

    /// θ as one vector in the order `(w_1, …, w_k, b, v)`.
    pub fn flatten(&self) -> DVector<f64> {
        let mut out = Vec::with_capacity(self.param_count());
        self.for_each_param(|_, t| out.push(t));
        DVector::from_vec(out)
    }

    /// Parameter `i` of [`Net::flatten`]'s order, without allocating θ.
    ///
    /// # Panics
    /// If `i ≥ param_count()` (a programming error).
    pub(crate) fn param(&self, i: usize) -> f64 {
        let (k, d) = self.w.shape();
        if i < k * d {
            return self.w[(i / d, i % d)];
        }
        let i = i - k * d;
        match &self.b {
            Some(b) if i < k => b[i],
            Some(_) => self.v[i - k],
            None => self.v[i],
        }
    }

    /// Calls `f(index, θ_index)` for every parameter in [`Net::flatten`]'s order,
    /// without allocating θ.
    pub(crate) fn for_each_param(&self, mut f: impl FnMut(usize, f64)) {
        let (k, d) = self.w.shape();
        let mut i = 0;
        let mut put = |t: f64| {
            f(i, t);
            i += 1;
        };
        for j in 0..k {
            (0..d).for_each(|c| put(self.w[(j, c)]));
        }
        if let Some(b) = &self.b {
            b.iter().for_each(|&t| put(t));
        }
        self.v.iter().for_each(|&t| put(t));
    }

    /// The network of the same shape (width, dimension, bias or not) with the parameters
    /// θ given in [`Net::flatten`]'s order: `net.with_flat(net.flatten().as_slice())` is
    /// `net`. Fails with [`NetError::Shape`] when θ does not have [`Net::param_count`]
    /// entries, and with [`NetError::NonFinite`] on a NaN or infinite entry.
    pub fn with_flat(&self, theta: &[f64]) -> Result<Net, NetError> {
        let (k, d) = self.w.shape();
        if theta.len() != self.param_count() {
            return Err(NetError::Shape { what: "θ", expected: self.param_count(), got: theta.len() });
        }
        let (w, rest) = theta.split_at(k * d);
        let (b, v) = if self.has_bias() { (Some(&rest[..k]), &rest[k..]) } else { (None, rest) };
        Net::from_rows(d, w, b, v)
    }

    /// ‖θ‖², the squared Euclidean norm of all parameters.
    pub fn param_norm_sq(&self) -> f64 {
        self.w.norm_squared() + self.b.as_ref().map_or(0.0, |b| b.norm_squared()) + self.v.norm_squared()
    }

    /// The network with every parameter multiplied by `alpha` (so N scales by α²).
    pub fn scaled(&self, alpha: f64) -> Net {
        Net { w: &self.w * alpha, b: self.b.as_ref().map(|b| b * alpha), v: &self.v * alpha }
    }

    /// The network with neurons reordered: neuron `j` of the result is neuron `perm[j]`.
    ///
    /// # Panics
    /// If `perm` is not a permutation of `0..k` (a programming error, not user input).
    pub fn permuted(&self, perm: &[usize]) -> Net {
        let k = self.width();
        assert_eq!(perm.len(), k, "permutation length must equal the width");
        let w = DMatrix::from_fn(k, self.dim(), |j, c| self.w[(perm[j], c)]);
        let b = self.b.as_ref().map(|b| DVector::from_fn(k, |j, _| b[perm[j]]));
        let v = DVector::from_fn(k, |j, _| self.v[perm[j]]);
        Net { w, b, v }
    }

    /// Checks that the data's dimension matches the network's.
    pub fn check_data(&self, data: &Dataset) -> Result<(), NetError> {
        if data.d() != self.dim() {
            return Err(NetError::DimensionMismatch { net: self.dim(), data: data.d() });
        }
        Ok(())
    }

    /// Pre-activations `U = X Wᵀ + 1 bᵀ` (m×k, entry (i, j) = w_j·x_i + b_j) for the rows
    /// of `x` (m×d). Panics if `x` has the wrong number of columns; use
    /// [`Net::check_data`] on user data first.
    pub fn preactivations(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        self.preactivation_block(x, 0..self.width())
    }

    /// The columns `neurons` of [`Net::preactivations`] (m×|neurons|), without forming
    /// the others. Panics if `x` has the wrong number of columns or the range exceeds
    /// the width.
    pub fn preactivation_block(&self, x: &DMatrix<f64>, neurons: std::ops::Range<usize>) -> DMatrix<f64> {
        self.scaled_preactivation_block(x, neurons, 1.0)
    }

    /// [`Net::preactivation_block`] of `self.scaled(alpha)`, bit for bit, without forming
    /// the scaled network: the block's weights and biases are rounded as
    /// [`Net::scaled`] rounds them, fl(α·w).
    pub(crate) fn scaled_preactivation_block(
        &self,
        x: &DMatrix<f64>,
        neurons: std::ops::Range<usize>,
        alpha: f64,
    ) -> DMatrix<f64> {
        let j0 = neurons.start;
        let wt = DMatrix::from_fn(self.dim(), neurons.len(), |c, l| self.w[(j0 + l, c)] * alpha);
        let mut u = x * wt;
        if let Some(b) = &self.b {
            for (l, mut col) in u.column_iter_mut().enumerate() {
                col.add_scalar_mut(b[j0 + l] * alpha);
            }
        }
        u
    }

    /// Outputs `N(x_i)` for the rows of `x` (m×d), in matrix form.
    pub fn forward(&self, x: &DMatrix<f64>) -> DVector<f64> {
        self.scaled_forward(x, 1.0)
    }

    /// [`Net::forward`] of `self.scaled(alpha)`, bit for bit, without forming the scaled
    /// network (see [`Net::scaled_preactivation_block`]).
    fn scaled_forward(&self, x: &DMatrix<f64>, alpha: f64) -> DVector<f64> {
        let mut u = self.scaled_preactivation_block(x, 0..self.width(), alpha);
        u.apply(|t| *t = t.max(0.0));
        u * (&self.v * alpha)
    }

    /// Output `N(x)` for one input `x` of length d.
    pub fn forward_one(&self, x: &[f64]) -> f64 {
        debug_assert_eq!(x.len(), self.dim());
        (0..self.width())
            .map(|j| {
                let u = self.preactivation_one(j, x);
                self.v[j] * u.max(0.0)
            })
            .sum()
    }

    /// Pre-activation `w_j·x + b_j` of neuron j at one input.
    pub fn preactivation_one(&self, j: usize, x: &[f64]) -> f64 {
        let row = self.w.row(j);
        row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + self.bias(j)
    }

    /// Margins `q_i = y_i N(x_i)` on a dataset.
    pub fn margins(&self, data: &Dataset) -> Result<DVector<f64>, NetError> {
        self.scaled_margins(data, 1.0)
    }

    /// [`Net::margins`] of `self.scaled(alpha)`, bit for bit, without forming the scaled
    /// network (see [`Net::scaled_preactivation_block`]).
    pub(crate) fn scaled_margins(&self, data: &Dataset, alpha: f64) -> Result<DVector<f64>, NetError> {
        self.check_data(data)?;
        Ok(self.scaled_forward(data.x(), alpha).component_mul(data.y()))
    }

    /// Fraction of samples classified correctly, with the paper's sign(0) = +1.
    pub fn accuracy(&self, data: &Dataset) -> Result<f64, NetError> {
        self.check_data(data)?;
        let out = self.forward(data.x());
        let correct =
            out.iter().zip(data.y().iter()).filter(|(o, y)| (if **o >= 0.0 { 1.0 } else { -1.0 }) == **y).count();
        Ok(correct as f64 / data.m() as f64)
    }

    /// The normalised network θ̂ = θ / sqrt(q_min), whose smallest margin is exactly 1,
    /// together with q_min of θ. Fails with [`NetError::NotSeparating`] when q_min ≤ 0.
    pub fn normalized(&self, data: &Dataset) -> Result<(Net, f64), NetError> {
        let (alpha, q_min) = self.normalization(data)?;
        Ok((self.scaled(alpha), q_min))
    }

    /// The factor α = 1/sqrt(q_min) of [`Net::normalized`] and q_min, without the
    /// scaled copy. Fails as [`Net::normalized`] does.
    pub fn normalization(&self, data: &Dataset) -> Result<(f64, f64), NetError> {
        let q = self.margins(data)?;
        let (sample, q_min) = argmin(&q);
        if q_min.is_nan() || q_min <= 0.0 {
            return Err(NetError::NotSeparating { sample, margin: q_min });
        }
        Ok((1.0 / q_min.sqrt(), q_min))
    }

    /// Ambiguity scale of pair (i, j): `‖(w_j, b_j)‖·‖(x_i, 1)‖` with bias, `‖w_j‖·‖x_i‖`
    /// bias-free. A pre-activation with `|u_ij| ≤ τ·scale` counts as a kink (docs/model.md).
    pub fn kink_scale(&self, j: usize, x: &[f64]) -> f64 {
        let wn2 = self.w.row(j).norm_squared();
        let xn2: f64 = x.iter().map(|t| t * t).sum();
        if self.has_bias() {
            let bj = self.bias(j);
            ((wn2 + bj * bj) * (xn2 + 1.0)).sqrt()
        } else {
            (wn2 * xn2).sqrt()
        }
    }

    /// Activation pattern (m×k, row-major: `pattern[i*k + j]`) with tolerance τ. The
    /// pre-activations are formed a block of neurons at a time (never the m×k matrix).
    pub fn activation_pattern(&self, data: &Dataset, tau: f64) -> Result<Vec<Activation>, NetError> {
        self.scaled_activation_pattern(data, tau, 1.0)
    }

    /// [`Net::activation_pattern`] of `self.scaled(alpha)`, bit for bit, without
    /// forming the scaled network (see [`Net::scaled_preactivation_block`]).
    pub(crate) fn scaled_activation_pattern(&self, data: &Dataset, tau: f64, alpha: f64) -> Result<Vec<Activation>, NetError> {
        self.check_data(data)?;
        let (m, k) = (data.m(), self.width());
        let one = if self.has_bias() { 1.0 } else { 0.0 };
        let xn2: Vec<f64> = (0..m).map(|i| data.x().row(i).norm_squared() + one).collect();
        let mut out = vec![Activation::Off; m * k];
        let mut row = nalgebra::RowDVector::zeros(self.dim());
        for j0 in (0..k).step_by(PATTERN_BLOCK) {
            let bw = PATTERN_BLOCK.min(k - j0);
            let u = self.scaled_preactivation_block(data.x(), j0..j0 + bw, alpha);
            for l in 0..bw {
                let j = j0 + l;
                // The scaled row, as a 1×d matrix like the row view of the scaled net
                // (the same summation order).
                row.iter_mut().enumerate().for_each(|(c, r)| *r = self.w[(j, c)] * alpha);
                let wn2j = row.norm_squared() + (self.bias(j) * alpha).powi(2);
                for (i, xn2i) in xn2.iter().enumerate() {
                    let thr = tau * (wn2j * xn2i).sqrt();
                    let uij = u[(i, l)];
                    out[i * k + j] = if uij > thr {
                        Activation::On
                    } else if uij < -thr {
                        Activation::Off
                    } else {
                        Activation::Ambiguous
                    };
                }
            }
        }
        Ok(out)
    }

    /// Per-sample gradient `h_i ∈ ∂°_θ (y_i N(x_i))` (docs/model.md) for a given choice of
    /// ReLU derivatives `s[j]` ∈ [0, 1], in the layout of [`Net::flatten`]:
    /// `∂w_j = y v_j s_j x`, `∂b_j = y v_j s_j`, `∂v_j = y σ(w_j·x + b_j)`.
    pub fn sample_gradient(&self, x: &[f64], y: f64, s: &[f64]) -> DVector<f64> {
        let (k, d) = self.w.shape();
        let mut g = DVector::zeros(self.param_count());
        for j in 0..k {
            let coef = y * self.v[j] * s[j];
            if coef != 0.0 {
                for c in 0..d {
                    g[j * d + c] = coef * x[c];
                }
            }
        }
        let mut off = k * d;
        if self.has_bias() {
            for j in 0..k {
                g[off + j] = y * self.v[j] * s[j];
            }
            off += k;
        }
        for j in 0..k {
            g[off + j] = y * self.preactivation_one(j, x).max(0.0);
        }
        g
    }

    /// Per-sample gradient with the default subgradient choice: s_j = 1 when the
    /// pre-activation is ≥ 0 (the paper's sign(0) = +1), else 0.
    pub fn sample_gradient_default(&self, x: &[f64], y: f64) -> DVector<f64> {
        let s: Vec<f64> =
            (0..self.width()).map(|j| if self.preactivation_one(j, x) >= 0.0 { 1.0 } else { 0.0 }).collect();
        self.sample_gradient(x, y, &s)
    }
}

/// Index and value of the smallest entry (NaN counts as smallest, so it is never hidden).
pub fn argmin(q: &DVector<f64>) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (i, &v) in q.iter().enumerate() {
        if v.is_nan() {
            return (i, v);
        }
        if v < best.1 {
            best = (i, v);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `param(i)` reads the same entry as `flatten()[i]`, with and without bias, on a
    /// non-square net (so that a row/column mix-up shows).
    #[test]
    fn param_matches_flatten() {
        let (k, d) = (3, 5);
        let w = DMatrix::from_fn(k, d, |j, c| (10 * j + c) as f64 + 0.5);
        let v = DVector::from_fn(k, |j, _| -(j as f64) - 0.25);
        for b in [None, Some(DVector::from_fn(k, |j, _| 100.0 + j as f64))] {
            let net = Net::new(w.clone(), b, v.clone()).expect("valid net");
            let flat = net.flatten();
            assert_eq!(flat.len(), net.param_count());
            for (i, &t) in flat.iter().enumerate() {
                assert_eq!(net.param(i).to_bits(), t.to_bits(), "parameter {i}");
            }
        }
    }
}
