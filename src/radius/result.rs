//! What one exact-radius search returns: [`RadiusResult`], its [`RadiusOutcome`], and
//! the [`BracketReason`] of an answer that is not exact.
//!
//! The rules for calling an answer exact are in docs/radius.md.

use nalgebra::DVector;
use serde::Serialize;

/// Why a search answered with a bracket instead of an exact radius.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BracketReason {
    /// `max_regions` node QPs were solved.
    MaxRegions,
    /// `time_limit` passed.
    TimeLimit,
    /// A QP hit its iteration cap or a witness could not be confirmed.
    Numerical,
}

/// Outcome of an exact-radius search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadiusOutcome {
    /// The search finished: `lower` and `upper` agree to `exact_tol`.
    Exact,
    /// The search stopped early: the radius lies in `[lower, upper]`.
    Bracket {
        /// Why it stopped.
        reason: BracketReason,
    },
    /// `y·N(x) ≤ 0` already: radius 0 (closed reading).
    Misclassified,
}

/// The answer of [`super::exact_radius`].
#[derive(Debug, Clone, PartialEq)]
pub struct RadiusResult {
    /// Exact, bracket, or misclassified.
    pub outcome: RadiusOutcome,
    /// Best radius known: equal to `upper` (the witness distance); ∞ when nothing flips.
    pub radius: f64,
    /// Certified lower bound.
    pub lower: f64,
    /// Upper bound: the distance of the witness (∞ without one).
    pub upper: f64,
    /// The point `x + δ*` with `y·N ≤ 0` confirmed by the forward pass.
    pub witness: Option<DVector<f64>>,
    /// The margin `y·N(x)`.
    pub margin: f64,
    /// `y·N(witness)` by the forward pass: ≤ 0, or within `witness_tol·S` of 0 on a
    /// flip set without interior (NaN without a witness).
    pub witness_margin: f64,
    /// Node QPs solved (regions or branches visited).
    pub regions: usize,
    /// Nodes closed (pruned by bound, infeasible, or solved leaves).
    pub closed: usize,
    /// The cheap certified lower bound the search started from (per-neuron worst case).
    pub initial_lower: f64,
    /// The upper bound before branching (gradient ray and x's own region).
    pub initial_upper: f64,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl RadiusResult {
    /// Whether the radius is proved (within `exact_tol`), including the misclassified
    /// case (radius 0).
    pub fn is_exact(&self) -> bool {
        !matches!(self.outcome, RadiusOutcome::Bracket { .. })
    }
}
