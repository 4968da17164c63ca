//! What one exact-radius search returns: [`RadiusResult`], its [`RadiusOutcome`], and
//! the [`BracketReason`] of an answer that is not exact.
//!
//! The rules for calling an answer exact are in docs/radius.md.

use nalgebra::DVector;
use serde::{Deserialize, Serialize};

use super::proof::SampleProof;

/// Why a search answered with a bracket instead of an exact radius.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BracketReason {
    /// `max_regions` node QPs were solved.
    MaxRegions,
    /// `time_limit` passed.
    TimeLimit,
    /// The relative gap `gap` asked for was reached.
    Gap,
    /// The tree's open nodes and recorded proof leaves reached `max_store_bytes`.
    Memory,
    /// The search finished but the bounds do not meet within `exact_tol`: no witness
    /// flips by the forward pass, a QP stopped early, or (a numerical failure) the
    /// certified lower bound lies above the witness's distance.
    Numerical,
}

impl BracketReason {
    /// The reason's name in reports (`time_limit`, `max_regions`, `gap`, `memory`,
    /// `numerical`).
    pub fn as_str(self) -> &'static str {
        match self {
            BracketReason::MaxRegions => "max_regions",
            BracketReason::TimeLimit => "time_limit",
            BracketReason::Gap => "gap",
            BracketReason::Memory => "memory",
            BracketReason::Numerical => "numerical",
        }
    }
}

/// Outcome of an exact-radius search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadiusOutcome {
    /// The search finished, the witness flips by the forward pass, and the certified
    /// `lower` and the witness distance `upper` agree to `exact_tol` (`lower ≤ upper`).
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
    /// Certified lower bound: the smallest bound of the proof's leaves. Never lowered
    /// to meet `upper`; above it means a numerical failure (a bracket).
    pub lower: f64,
    /// Upper bound: the distance of the witness, rounded up (∞ without one).
    pub upper: f64,
    /// The point `x + δ*` with `y·N ≤ 0` confirmed by the forward pass.
    pub witness: Option<DVector<f64>>,
    /// The margin `y·N(x)`.
    pub margin: f64,
    /// `y·N(witness)` by the plain f64 forward pass (NaN without a witness).
    pub witness_margin: f64,
    /// Node QPs solved (regions or branches visited).
    pub regions: usize,
    /// Nodes closed (pruned by bound, infeasible, or solved leaves).
    pub closed: usize,
    /// A cheap bound (each neuron moved adversarially on its own), for information; not
    /// part of the proof.
    pub initial_lower: f64,
    /// The upper bound before branching (gradient ray and x's own region).
    pub initial_upper: f64,
    /// The radius of the ball certificate (no flipped point within it; docs/radius.md,
    /// "The ball bound"), when the search found one.
    pub ball_radius: Option<f64>,
    /// Wall time in seconds.
    pub seconds: f64,
    /// The bracket over time: `(seconds, lower, upper)` when the search starts branching,
    /// at each better incumbent, and at the end.
    pub history: Vec<(f64, f64, f64)>,
    /// The proof of `lower`, when [`super::RadiusSettings::record_proof`] is set.
    pub proof: Option<SampleProof>,
}

impl RadiusResult {
    /// Whether the radius is proved (within `exact_tol`), including the misclassified
    /// case (radius 0).
    pub fn is_exact(&self) -> bool {
        !matches!(self.outcome, RadiusOutcome::Bracket { .. })
    }
}

/// Where a running exact-radius search stands, passed to the observer of
/// [`super::exact_radius_with_progress`] each time the bracket moves and about every
/// [`PROGRESS_EVERY`] while it branches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchProgress {
    /// Seconds since the search started.
    pub seconds: f64,
    /// The certified lower bound now.
    pub lower: f64,
    /// The incumbent's distance (∞ before a witness).
    pub upper: f64,
    /// Node QPs solved so far.
    pub regions: usize,
}

/// How often a branching search reports its progress.
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
