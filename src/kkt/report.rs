//! The certificate (`relucert/kkt@1`, fields in docs/reports.md): [`KktReport`] and
//! the types it holds (solver, status, subgradient choices, τ-profile), with the
//! human summary.

use serde::{Deserialize, Serialize};

use super::Norm;

/// Format tag of a KKT certificate.
pub const REPORT_FORMAT: &str = crate::io::tags::KKT;

/// Name and hashes of an input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    /// File name, when read from a file.
    pub name: Option<String>,
    /// SHA-256 of the file's bytes, when read from a file.
    pub sha256: Option<String>,
    /// SHA-256 of the content ([`super::net_content_hash`] / [`super::data_content_hash`]),
    /// the same whatever the file format; [`super::verify`] checks it.
    pub content_sha256: String,
}

/// How the optimisation ended. Every status gives a valid certificate (ε is measured
/// for the λ reported); only `Optimal` says that no better λ exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SolveStatus {
    /// The solver proved optimality (its optimality conditions were checked).
    Optimal,
    /// Clarabel's `AlmostSolved`: near-optimal to reduced accuracy, not a proof.
    ReducedAccuracy,
    /// Stopped early or failed to prove optimality: ε is an upper bound on the smallest
    /// residual, not a certificate that it is minimal.
    NotOptimal {
        /// Why.
        reason: String,
    },
}

impl SolveStatus {
    /// `optimal`, `reduced accuracy`, or `not optimal (why)`.
    pub fn describe(&self) -> String {
        match self {
            SolveStatus::Optimal => "optimal".to_string(),
            SolveStatus::ReducedAccuracy => "reduced accuracy".to_string(),
            SolveStatus::NotOptimal { reason } => format!("not optimal ({reason})"),
        }
    }
}

/// Which solver produced the multipliers. Serialised as the strings below; the labels
/// of earlier versions (`active-set-nnls…`, given to the same block-pivoting solver) are
/// still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SolverMethod {
    /// Block principal pivoting NNLS on the Gram matrix (Kim & Park 2011).
    #[serde(rename = "block-pivoting-nnls", alias = "active-set-nnls")]
    BlockPivotingNnls,
    /// Lawson–Hanson NNLS (the fallback when pivoting cycles).
    #[serde(rename = "lawson-hanson-nnls")]
    LawsonHansonNnls,
    /// Block pivoting NNLS, then clarabel because the ambiguity constraints bound.
    #[serde(rename = "block-pivoting-nnls+clarabel", alias = "active-set-nnls+clarabel")]
    BlockPivotingNnlsClarabel,
    /// Lawson–Hanson NNLS, then clarabel because the ambiguity constraints bound.
    #[serde(rename = "lawson-hanson-nnls+clarabel")]
    LawsonHansonNnlsClarabel,
    /// Clarabel's interior point on the full QP.
    #[serde(rename = "clarabel")]
    Clarabel,
    /// The explicit LP with good_lp + microlp.
    #[serde(rename = "microlp")]
    Microlp,
    /// Block pivoting on the coupled problem (μ ≤ λ as merged bounds).
    #[serde(rename = "coupled-active-set")]
    CoupledActiveSet,
    /// The coupled active set, then clarabel because it did not converge.
    #[serde(rename = "coupled-active-set+clarabel")]
    CoupledActiveSetClarabel,
    /// L∞ by row generation, the masters' duals solved by the warm-started simplex.
    #[serde(rename = "row-generation+simplex", alias = "row-generation+microlp")]
    RowGeneration,
    /// L1 by column generation on its dual (a sign working set), with the
    /// warm-started simplex.
    #[serde(rename = "sign-working-set+simplex", alias = "sign-working-set+microlp")]
    SignWorkingSet,
}

impl SolverMethod {
    /// The label as in the report.
    pub fn label(self) -> &'static str {
        match self {
            SolverMethod::BlockPivotingNnls => "block-pivoting-nnls",
            SolverMethod::LawsonHansonNnls => "lawson-hanson-nnls",
            SolverMethod::BlockPivotingNnlsClarabel => "block-pivoting-nnls+clarabel",
            SolverMethod::LawsonHansonNnlsClarabel => "lawson-hanson-nnls+clarabel",
            SolverMethod::Clarabel => "clarabel",
            SolverMethod::Microlp => "microlp",
            SolverMethod::CoupledActiveSet => "coupled-active-set",
            SolverMethod::CoupledActiveSetClarabel => "coupled-active-set+clarabel",
            SolverMethod::RowGeneration => "row-generation+simplex",
            SolverMethod::SignWorkingSet => "sign-working-set+simplex",
        }
    }

    /// Whether clarabel ran.
    pub fn uses_clarabel(self) -> bool {
        matches!(
            self,
            SolverMethod::BlockPivotingNnlsClarabel
                | SolverMethod::LawsonHansonNnlsClarabel
                | SolverMethod::Clarabel
                | SolverMethod::CoupledActiveSetClarabel
        )
    }
}

/// Which solver ran and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolverInfo {
    /// The method.
    pub method: SolverMethod,
    /// Outcome.
    pub status: SolveStatus,
    /// Iterations (0 when the solver does not report them).
    pub iterations: usize,
    /// Wall time of the main solve including the Gram matrix, seconds.
    pub seconds: f64,
}

/// A subgradient choice s_ij ∈ [0, 1] at an ambiguous pair (μ_ij = λ_i s_ij).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SubgradientChoice {
    /// Sample i (0-based).
    pub sample: usize,
    /// Neuron j (0-based).
    pub neuron: usize,
    /// The derivative of σ chosen at this pair.
    pub s: f64,
}

/// One entry of the τ-profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TauPoint {
    /// Ambiguity tolerance.
    pub tau: f64,
    /// ε_rel at this τ (`null` when skipped, see `note`).
    pub eps_rel: Option<f64>,
    /// Ambiguous pairs over the support at this τ.
    pub ambiguous_pairs: usize,
    /// Why the entry was skipped.
    pub note: Option<String>,
}

/// A KKT certificate (the `kkt` fields of docs/reports.md, and more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KktReport {
    /// `relucert/kkt@1`.
    pub format: String,
    /// Residual norm.
    pub norm: Norm,
    /// Ambiguity tolerance τ. With τ > 0 the certificate is (ε, δ)-KKT for the
    /// τ-relaxed subdifferential (s_ij ∈ [0, 1] wherever |u_ij| ≤ τ·scale), see
    /// docs/kkt.md.
    pub tau: f64,
    /// Support slack (`null` with `--all`).
    pub slack: Option<f64>,
    /// `margin` or `all`.
    pub support_mode: String,
    /// Smallest margin of the given network (θ̂ = θ/√q_min).
    pub q_min: f64,
    /// ε = ‖θ̂ − Σ λ_i h_i‖ in `norm`.
    pub eps: f64,
    /// ε / ‖θ̂‖ in the same norm.
    pub eps_rel: f64,
    /// δ = Σ λ_i (q̂_i − 1).
    pub delta: f64,
    /// Multipliers, length m, zero off the support.
    pub lambda: Vec<f64>,
    /// Indices allowed a multiplier.
    pub support: Vec<usize>,
    /// Ambiguous pairs (|u_ij| ≤ τ·scale) over the support.
    pub ambiguous_pairs: usize,
    /// Σ λ_i.
    pub lambda_sum: f64,
    /// ‖θ̂‖²/2 (equals Σ λ_i at an exact KKT point).
    pub theta_norm_sq_half: f64,
    /// ‖θ̂‖ in `norm`.
    pub theta_hat_norm: f64,
    /// The residual's L2 norm (whatever norm was minimised).
    pub residual_l2: f64,
    /// The residual's L∞ norm.
    pub residual_linf: f64,
    /// The residual's L1 norm.
    pub residual_l1: f64,
    /// ε_rel at each τ of the ladder.
    pub tau_profile: Vec<TauPoint>,
    /// Choices s_ij at ambiguous pairs of samples with λ_i > 0; every other pair uses
    /// s_ij = 1 if u_ij > 0 else 0.
    pub subgradient_choices: Vec<SubgradientChoice>,
    /// Solver and status.
    pub solver: SolverInfo,
    /// Master LPs solved by the L∞/L1 generation (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<usize>,
    /// Rows in the final working set of the L∞/L1 generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_set: Option<usize>,
    /// ε minus the last master LP's lower bound (the generation closed when it is at
    /// most 1e-12·‖θ̂‖ in the same norm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_gap: Option<f64>,
    /// Samples.
    pub m: usize,
    /// Width.
    pub k: usize,
    /// Input dimension.
    pub d: usize,
    /// Whether the network has biases.
    pub bias: bool,
    /// Parameters P.
    pub params: usize,
    /// The network.
    pub net: InputInfo,
    /// The dataset.
    pub data: InputInfo,
}

impl KktReport {
    /// What the certificate certifies, in words: (ε, δ)-KKT for the Clarke
    /// subdifferential at τ = 0, for the τ-relaxed subdifferential at τ > 0.
    pub fn meaning(&self) -> String {
        if self.tau > 0.0 {
            format!(
                "(eps, delta)-KKT for the tau-relaxed subdifferential (tau = {:e}: s_ij in [0, 1] at the {} pairs with |u_ij| <= tau*scale)",
                self.tau, self.ambiguous_pairs
            )
        } else {
            "(eps, delta)-KKT for the Clarke subdifferential (tau = 0)".to_string()
        }
    }

    /// A short human summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let status = self.solver.status.describe();
        let slack = self.slack.map_or("all samples".to_string(), |x| format!("q̂ ≤ 1 + {x}"));
        s += &format!("KKT certificate ({}), network m={} k={} d={} bias={}\n", self.norm.name(), self.m, self.k, self.d, self.bias);
        s += &format!("  certifies        {}\n", self.meaning());
        s += &format!("  q_min            {:.6e}\n", self.q_min);
        s += &format!("  support          {} samples ({slack})\n", self.support.len());
        s += &format!("  ambiguous pairs  {} (tau = {:e})\n", self.ambiguous_pairs, self.tau);
        s += &format!("  eps              {:.6e}\n", self.eps);
        s += &format!("  eps_rel          {:.6e}\n", self.eps_rel);
        s += &format!("  delta            {:.6e}\n", self.delta);
        s += &format!("  sum lambda       {:.6e}   |theta_hat|^2/2 = {:.6e}\n", self.lambda_sum, self.theta_norm_sq_half);
        s += &format!("  solver           {} ({status}), {:.3} s\n", self.solver.method.label(), self.solver.seconds);
        if let (Some(r), Some(w), Some(g)) = (self.rounds, self.working_set, self.final_gap) {
            s += &format!("  generation       {r} rounds, working set {w} rows, final gap {g:.3e}\n");
        }
        if !self.tau_profile.is_empty() {
            s += "  tau profile      tau        eps_rel      ambiguous\n";
            for t in &self.tau_profile {
                let e = t.eps_rel.map_or("skipped".to_string(), |x| format!("{x:.4e}"));
                s += &format!("                   {:<10.0e} {e:<12} {}\n", t.tau, t.ambiguous_pairs);
                if let Some(note) = &t.note {
                    s += &format!("                     ({note})\n");
                }
            }
        }
        s
    }
}
