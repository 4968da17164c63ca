//! Hand-built networks with known properties.
//!
//! * [`robust`] — the Theorem 3.1 network: width m, `v_j = y_j`,
//!   `w_j = 2 x_j / (d (1 − c))`, `b_j = −(1 + c)/(1 − c)`. On data on √d·S^{d−1} with
//!   `|⟨x_i, x_j⟩| ≤ c·d` (c < 1) it has `y_i N(x_i) = 1` and every L2 robustness radius
//!   at least `(1 − c)/4 · √d`.
//! * [`orthogonal_kkt`] — the bias-free network `w_j = d^(−3/4) x_j`,
//!   `v_j = y_j d^(−1/4)` on orthogonal data `x_i = √d e_i`: an exact KKT point of the
//!   max-margin problem with all margins 1 and multipliers `λ_j = 1/√d` (docs/theorems.md).

use nalgebra::{DMatrix, DVector};
use thiserror::Error;

use crate::data::Dataset;
use crate::net::Net;

/// Why a construction refused the data.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConstructError {
    /// Theorem 3.1 needs every ‖x_i‖ = √d.
    #[error("Theorem 3.1 needs data on the sphere of radius √d = {sqrt_d}: sample {sample} has norm {norm} (relative deviation {rel:e} > tolerance {tol:e})")]
    NotOnSphere {
        /// Sample index.
        sample: usize,
        /// Its norm.
        norm: f64,
        /// √d.
        sqrt_d: f64,
        /// Relative deviation.
        rel: f64,
        /// Tolerance.
        tol: f64,
    },
    /// Theorem 3.1 needs `|⟨x_i, x_j⟩| ≤ c·d` with c < 1.
    #[error("Theorem 3.1 needs max |<x_i,x_j>| / d < 1: samples {i} and {j} have |<x_i,x_j>| / d = {c_data} ({reason})")]
    Correlated {
        /// First sample.
        i: usize,
        /// Second sample.
        j: usize,
        /// The data's c = p/d.
        c_data: f64,
        /// What fails.
        reason: String,
    },
    /// The requested c is not in [p/d, 1).
    #[error("--c {c} is not allowed: Theorem 3.1 needs p/d = {c_data} ≤ c < 1")]
    BadC {
        /// Requested c.
        c: f64,
        /// The data's p/d.
        c_data: f64,
    },
    /// The orthogonal-KKT construction needs orthogonal data of norm √d.
    #[error("orthogonal-kkt needs pairwise orthogonal samples of norm √d: {0}")]
    NotOrthogonal(String),
    /// The network could not be assembled (e.g. non-finite values).
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
}

/// Settings for the Theorem 3.1 construction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustSettings {
    /// The constant c; `None` (the default) uses the data's own `p/d`.
    pub c: Option<f64>,
    /// Relative tolerance on `‖x_i‖ = √d` (default 1e-9).
    pub norm_tol: f64,
}

impl Default for RobustSettings {
    fn default() -> Self {
        RobustSettings { c: None, norm_tol: 1e-9 }
    }
}

/// Theorem 3.1's lower bound `(1 − c)/4 · √d` on every L2 robustness radius of the
/// [`robust`] network built with constant `c` on data of dimension `d`.
///
/// The one place this formula is written: `construct`, `demo` and the claim checks all
/// call it. It is a bound of the theorem, valid when the construction's hypotheses hold
/// (data on √d·S^{d−1} with `|⟨x_i, x_j⟩| ≤ c·d`, `c < 1`), which [`robust`] checks.
pub fn theorem31_radius_bound(c: f64, d: usize) -> f64 {
    (1.0 - c) / 4.0 * (d as f64).sqrt()
}

/// The Theorem 3.1 robust network for `data`, and the c it used.
pub fn robust(data: &Dataset, settings: &RobustSettings) -> Result<(Net, f64), ConstructError> {
    let (m, d) = (data.m(), data.d());
    let sqrt_d = (d as f64).sqrt();
    for i in 0..m {
        let norm = data.x().row(i).norm();
        let rel = (norm - sqrt_d).abs() / sqrt_d;
        if rel.is_nan() || rel > settings.norm_tol {
            return Err(ConstructError::NotOnSphere { sample: i, norm, sqrt_d, rel, tol: settings.norm_tol });
        }
    }
    let pw = crate::data::pairwise_inner(data.x());
    let (p, arg) = (pw.p, pw.argmax.map_or((0, 0), |(i, j)| (j, i)));
    let c_data = p / d as f64;
    if c_data >= 1.0 {
        return Err(ConstructError::Correlated {
            i: arg.0,
            j: arg.1,
            c_data,
            reason: "two samples are (anti)parallel, so no c < 1 exists".into(),
        });
    }
    let c = match settings.c {
        None => c_data,
        Some(c) if c >= c_data && c < 1.0 => c,
        Some(c) => return Err(ConstructError::BadC { c, c_data }),
    };
    let scale = 2.0 / (d as f64 * (1.0 - c));
    let w = DMatrix::from_fn(m, d, |j, col| scale * data.x()[(j, col)]);
    let b = DVector::from_element(m, -(1.0 + c) / (1.0 - c));
    let v = data.y().clone();
    Ok((Net::new(w, Some(b), v)?, c))
}

/// The exact KKT bias-free network for orthogonal data (docs/theorems.md), checked to a
/// relative tolerance of 1e-9 on the Gram matrix `X Xᵀ = d·I`.
pub fn orthogonal_kkt(data: &Dataset) -> Result<Net, ConstructError> {
    let (m, d) = (data.m(), data.d());
    let df = d as f64;
    let gram = data.x() * data.x().transpose();
    let tol = 1e-9 * df;
    for i in 0..m {
        for j in 0..m {
            let want = if i == j { df } else { 0.0 };
            if (gram[(i, j)] - want).abs() > tol || gram[(i, j)].is_nan() {
                return Err(ConstructError::NotOrthogonal(format!(
                    "<x_{i},x_{j}> = {} but should be {want}",
                    gram[(i, j)]
                )));
            }
        }
    }
    let w = data.x() * df.powf(-0.75);
    let v = data.y() * df.powf(-0.25);
    Ok(Net::new(w, None, v)?)
}
