//! L2 robustness radii of depth-2 ReLU networks (definitions in docs/radius.md).
//!
//! For a correctly classified sample `(x, y)` (margin `q = y·N(x) > 0`):
//!
//! * [`exact_radius`] — `r = inf { ‖δ‖₂ : y·N(x + δ) ≤ 0 }` (the **closed** reading: a
//!   point on the decision boundary counts as flipped). Branch and bound over the
//!   states of the neurons that can lower the output (see [`exact`] for the maths),
//!   each node a projection onto a polyhedron solved through its dual. The answer
//!   carries a witness `x + δ*` that the forward pass confirms, the number of nodes
//!   (regions) solved and closed, and a certified lower bound with a proof that
//!   [`verify_radius`] re-checks; when the budget runs out or the bounds do not meet,
//!   the outcome is a [`RadiusOutcome::Bracket`] `[lower, upper]` with its reason,
//!   never a claim of exactness.
//! * [`ray_radius`] — `inf { t ≥ 0 : y·N(x + t u) ≤ 0 }` along a unit vector `u`,
//!   exactly from the ≤ k breakpoints of the piecewise-linear restriction.
//! * [`fig1()`] — the paper's Figure 1 measurement `c*` (strict reading, as the paper
//!   states it): one perturbation size along `ẑ = z/‖z‖`, `z = Σ_{i∈I} y_i x_i`, that
//!   flips every on-margin sample at once.
//! * [`theorem41()`] — the smallest η of Theorem 4.1 / Corollary 4.1 on θ̂ and the
//!   theorem's hypotheses (module [`mod@theorem41`]).
//!
//! A misclassified sample (`q ≤ 0`) has radius 0 and is reported as
//! [`RadiusOutcome::Misclassified`]. An infinite radius (nothing flips the sample) is
//! `f64::INFINITY` in the library and `null` in JSON reports.
//!
//! Files: [`settings`] (what a search may do), [`result`] (what it returns),
//! [`exact`] (the search), `node` (one node's relaxation and QP), [`certify`] (the
//! rigorous bounds of a leaf), [`ball`] (the ball certificate, a lower bound from one
//! quadratic minorant) and `ball_search` (finding one), `store` (the memory the tree
//! holds), [`range`] (relaxed neurons' ranges cut by a node's
//! signs), [`proof`] (the proof file and `verify_radius`), [`qp`] (the projections),
//! [`ray`] (exact analysis along a ray), [`mod@fig1`], [`report`] (the `radius`
//! report), [`mod@theorem41`], and [`reference`] (a brute-force reference for tests and
//! benchmarks).

pub mod attack;
pub mod ball;
mod ball_search;
pub mod certify;
mod clarabel;
pub mod exact;
pub mod fig1;
mod node;
pub mod proof;
pub mod qp;
pub mod range;
pub mod ray;
#[doc(hidden)]
pub mod reference;
pub mod report;
pub mod result;
pub mod settings;
mod store;
pub mod theorem41;

use thiserror::Error;

use crate::net::{Net, NetError};
use ray::Ray;

pub use ball::{check_ball_cert, BallCert, BallError};
pub use certify::{Cut, Leaf, LeafError};
pub use range::Range;
pub use fig1::{fig1, Fig1Result};
pub use proof::{verify_radius, ProofKind, RadiusProof, ReportedSample, SampleProof, VerifyFailure, VerifySummary, PROOF_FORMAT};
pub use report::{finite_or_null, BracketPoint, radius_report, radius_report_with_progress, MethodKind, RadiusProgress, RadiusMethod, RadiusReport, Reading, SampleOutcome, SampleRadius, REPORT_FORMAT};
pub use result::{BracketReason, RadiusOutcome, RadiusResult, SearchProgress};
pub use settings::{QpBackend, RadiusSettings};
pub use theorem41::{theorem41, Theorem41Report, Theorem41Settings};

/// Errors for misuse: bad indices, directions, values or settings. A budget that ran
/// out or a misclassified sample is an outcome, not an error.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RadiusError {
    /// Network and data disagree, or the network does not separate the data.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A sample index beyond the dataset.
    #[error("sample index {index} is out of range: the dataset has m = {m} samples (indices are 0-based)")]
    IndexOutOfRange {
        /// Requested index.
        index: usize,
        /// Number of samples.
        m: usize,
    },
    /// A vector of the wrong length.
    #[error("{what} has length {got} but the network takes d = {expected} inputs")]
    Length {
        /// Which vector.
        what: &'static str,
        /// Expected length d.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A NaN or infinite entry.
    #[error("{what} has a non-finite value {value} at index {index}")]
    NonFinite {
        /// Which vector.
        what: &'static str,
        /// Position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A direction of zero norm.
    #[error("the direction has zero norm, so it defines no ray")]
    ZeroDirection,
    /// A label other than ±1.
    #[error("label {value} is not -1 or +1")]
    BadLabel {
        /// The value.
        value: f64,
    },
    /// A radius proof does not hold (the first failing sample and leaf).
    #[error("radius proof fails: {0}")]
    ProofFails(#[from] VerifyFailure),
    /// A setting outside its allowed range.
    #[error("invalid setting {name} = {value}: {reason}")]
    BadSetting {
        /// Setting name.
        name: &'static str,
        /// Its value.
        value: f64,
        /// What is required.
        reason: &'static str,
    },
}

pub(crate) fn check_vec(what: &'static str, v: &[f64], d: usize) -> Result<(), RadiusError> {
    if v.len() != d {
        return Err(RadiusError::Length { what, expected: d, got: v.len() });
    }
    for (index, &value) in v.iter().enumerate() {
        if !value.is_finite() {
            return Err(RadiusError::NonFinite { what, index, value });
        }
    }
    Ok(())
}

fn check_label(y: f64) -> Result<(), RadiusError> {
    if y == 1.0 || y == -1.0 {
        Ok(())
    } else {
        Err(RadiusError::BadLabel { value: y })
    }
}

/// The exact L2 radius of `(x, y)` (closed reading `y·N ≤ 0`), by branch and bound.
pub fn exact_radius(net: &Net, x: &[f64], y: f64, settings: &RadiusSettings) -> Result<RadiusResult, RadiusError> {
    exact_radius_with_progress(net, x, y, settings, &mut |_| {})
}

/// [`exact_radius`], telling `observe` where the search stands each time the bracket
/// moves and about every [`result::PROGRESS_EVERY`] while it branches.
pub fn exact_radius_with_progress(net: &Net, x: &[f64], y: f64, settings: &RadiusSettings, observe: &mut dyn FnMut(&SearchProgress)) -> Result<RadiusResult, RadiusError> {
    check_vec("sample x", x, net.dim())?;
    check_label(y)?;
    settings.check()?;
    Ok(exact::search(net, x, y, settings, observe))
}

/// The radius along a direction: `inf { t ≥ 0 : y·N(x + t û) ≤ 0 }` with `û = u/‖u‖`,
/// or `None` when the ray never flips the sample. Exact from the breakpoints.
pub fn ray_radius(net: &Net, x: &[f64], y: f64, u: &[f64]) -> Result<Option<f64>, RadiusError> {
    let d = net.dim();
    check_vec("sample x", x, d)?;
    check_vec("direction", u, d)?;
    check_label(y)?;
    let un = u.iter().map(|t| t * t).sum::<f64>().sqrt();
    if un == 0.0 || !un.is_finite() {
        return Err(RadiusError::ZeroDirection);
    }
    let k = net.width();
    let mut a = Vec::with_capacity(k);
    let mut p = Vec::with_capacity(k);
    let mut alpha = Vec::with_capacity(k);
    for j in 0..k {
        a.push(net.preactivation_one(j, x));
        p.push(net.w().row(j).iter().zip(u).map(|(w, t)| w * t).sum::<f64>() / un);
        alpha.push(y * net.v()[j]);
    }
    Ok(Ray { a: &a, p: &p, alpha: &alpha }.first_crossing(0.0))
}
