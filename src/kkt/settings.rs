//! Settings of a KKT certificate: the residual [`Norm`], the [`Support`] of the
//! multipliers, the [`L2Solver`], and [`KktSettings`] with its defaults and range checks
//! (see docs/kkt.md for what each setting means).

use nalgebra::DVector;
use serde::{Deserialize, Serialize};

use super::KktError;

/// Norm in which the residual θ̂ − Σ λ_i h_i is measured and minimised.
#[cfg_attr(all(feature = "cli", not(doc)), derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// Euclidean norm (non-negative least squares; scales to paper-sized networks).
    L2,
    /// Largest absolute entry (linear program).
    Linf,
    /// Sum of absolute entries (linear program).
    L1,
}

impl Norm {
    /// The norm of a vector.
    pub fn of(self, r: &DVector<f64>) -> f64 {
        match self {
            Norm::L2 => r.norm(),
            Norm::Linf | Norm::L1 => r.iter().fold(0.0, |a, &t| self.accumulate(a, t)),
        }
    }

    /// The norm of a vector given entry by entry, from 0: the norm `acc` of the entries
    /// so far with entry `t` added (a NaN entry is skipped by L∞, as `f64::max` does).
    pub(crate) fn accumulate(self, acc: f64, t: f64) -> f64 {
        match self {
            Norm::Linf => acc.max(t.abs()),
            Norm::L1 => acc + t.abs(),
            Norm::L2 => acc.hypot(t),
        }
    }

    /// Lower-case name as in the report (`l2`, `linf`, `l1`).
    pub fn name(self) -> &'static str {
        match self {
            Norm::L2 => "l2",
            Norm::Linf => "linf",
            Norm::L1 => "l1",
        }
    }
}

/// Which samples may carry a multiplier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Support {
    /// The on-margin samples q̂_i ≤ (1 + slack)(1 + 1e-12) (the paper uses slack = 0.1;
    /// the factor 1 + 1e-12 keeps the samples at q̂ = 1 ± ulp with slack 0).
    Margin {
        /// Relative slack above the smallest margin.
        slack: f64,
    },
    /// Every sample; δ = Σ λ_i (q̂_i − 1) then measures complementary slackness.
    All,
}

/// Which method solves the L2 problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2Solver {
    /// Block-principal-pivoting NNLS on the Gram matrix with no ambiguous pairs; with
    /// ambiguous pairs, block pivoting on the coupled problem (μ ≤ λ as merged bounds,
    /// warm-started along the τ-ladder). Clarabel only as the fallback of a solve that
    /// does not converge on a small problem. The default, chosen by measurement (see
    /// BENCHMARKS.md).
    Auto,
    /// Always clarabel on the full QP (interior point, dense Gram matrix; for comparison
    /// on small problems).
    Clarabel,
}

/// Settings of [`super::certify`].
#[derive(Debug, Clone, PartialEq)]
pub struct KktSettings {
    /// Residual norm (default [`Norm::L2`]).
    pub norm: Norm,
    /// Ambiguity tolerance τ for "u_ij = 0" (default 1e-9, docs/kkt.md).
    pub tau: f64,
    /// Support (default `Margin { slack: 0.1 }`, the paper's 10 %).
    pub support: Support,
    /// τ values of the τ-profile (default 1e-9, 1e-6, 1e-4, 1e-3, 1e-2); empty for none.
    /// Each entry is one more solve, run in ascending order of τ, each warm-started from
    /// the partition of the last (the ambiguous set only grows with τ).
    pub tau_ladder: Vec<f64>,
    /// L2 method (default [`L2Solver::Auto`]).
    pub l2_solver: L2Solver,
    /// How the L∞ and L1 linear programs are solved (default [`LpMethod::Generation`]).
    pub lp_method: LpMethod,
    /// Round limit of the row generation (default 200); a loop that does not close
    /// within it reports ε as an upper bound.
    pub lp_max_rounds: usize,
    /// Time limit in seconds (default 120) of one explicit LP or clarabel solve, and of
    /// the whole generation loop of an L∞/L1 certificate (wall clock).
    pub time_limit: f64,
    /// Memory budget in bytes: a solve whose estimate exceeds it is refused with
    /// [`KktError::Memory`] before anything large is allocated (default `None`: the
    /// process-wide `io::MemoryBudget::global()`, the machine's available memory unless
    /// `--max-memory` sets it).
    pub max_memory: Option<u64>,
    /// Largest number of ambiguous pairs for one solve; a τ-profile entry above it is
    /// skipped with a note, the main solve fails with [`KktError::TooManyAmbiguous`]
    /// (default 10 000 000; the memory estimate is the main guard).
    pub max_ambiguous: usize,
    /// Iteration budget of the NNLS and of the coupled active-set solver (default 1000).
    pub nnls_max_iter: usize,
}

/// How the L∞ and L1 linear programs are solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpMethod {
    /// Row generation (L∞) or a sign working set (L1) on small master LPs, never forming
    /// the P×n matrix (the default; see docs/kkt.md).
    Generation,
    /// The whole LP with every parameter row at once (a reference for small problems;
    /// its memory grows with the nonzeros of the P×n matrix).
    Explicit,
}

impl Default for KktSettings {
    fn default() -> Self {
        KktSettings {
            norm: Norm::L2,
            tau: 1e-9,
            support: Support::Margin { slack: 0.1 },
            tau_ladder: vec![1e-9, 1e-6, 1e-4, 1e-3, 1e-2],
            l2_solver: L2Solver::Auto,
            lp_method: LpMethod::Generation,
            lp_max_rounds: 200,
            time_limit: 120.0,
            max_memory: None,
            max_ambiguous: 10_000_000,
            nnls_max_iter: 1000,
        }
    }
}

/// Checks every field's range; the first bad one is the error.
pub(crate) fn check(s: &KktSettings) -> Result<(), KktError> {
    let bad = |field, value, reason| Err(KktError::Settings { field, value, reason });
    if !(s.tau.is_finite() && s.tau >= 0.0) {
        return bad("tau", s.tau, "must be finite and ≥ 0");
    }
    if let Support::Margin { slack } = s.support {
        if !(slack.is_finite() && slack >= 0.0) {
            return bad("slack", slack, "must be finite and ≥ 0");
        }
    }
    for &t in &s.tau_ladder {
        if !(t.is_finite() && t >= 0.0) {
            return bad("tau_ladder", t, "every entry must be finite and ≥ 0");
        }
    }
    if s.time_limit.is_nan() || s.time_limit <= 0.0 {
        return bad("time_limit", s.time_limit, "must be positive");
    }
    if s.lp_max_rounds == 0 {
        return bad("lp_max_rounds", 0.0, "must be at least 1");
    }
    Ok(())
}

/// Largest normalised margin of a support sample: (1 + slack)(1 + 1e-12), so that the
/// samples at q̂ = 1 ± ulp stay in the support with slack 0.
pub(crate) fn support_limit(slack: f64) -> f64 {
    (1.0 + slack) * (1.0 + 1e-12)
}
