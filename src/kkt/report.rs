//! The certificate (`relucert/kkt@1`, DESIGN §7) and its independent verification.

use nalgebra::DVector;
use serde::{Deserialize, Serialize};

use super::{data_content_hash, net_content_hash, KktError, Norm, VERIFY_ABS_TOL, VERIFY_REL_TOL};
use crate::data::Dataset;
use crate::net::Net;

/// Format tag of a KKT certificate.
pub const REPORT_FORMAT: &str = "relucert/kkt@1";

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
    /// The solver proved optimality (to its tolerance).
    Optimal,
    /// Clarabel's `AlmostSolved`: optimal to reduced accuracy.
    ReducedAccuracy,
    /// Stopped early or failed to prove optimality.
    NotOptimal {
        /// Why.
        reason: String,
    },
}

/// Which solver ran and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolverInfo {
    /// `active-set-nnls`, `active-set-nnls+clarabel`, `clarabel` or `microlp`.
    pub method: String,
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

/// A KKT certificate (DESIGN §7 `kkt` fields, and more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KktReport {
    /// `relucert/kkt@1`.
    pub format: String,
    /// Residual norm.
    pub norm: Norm,
    /// Ambiguity tolerance τ.
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
    /// A short human summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let status = match &self.solver.status {
            SolveStatus::Optimal => "optimal".to_string(),
            SolveStatus::ReducedAccuracy => "reduced accuracy".to_string(),
            SolveStatus::NotOptimal { reason } => format!("not optimal ({reason})"),
        };
        let slack = self.slack.map_or("all samples".to_string(), |x| format!("q̂ ≤ 1 + {x}"));
        s += &format!("KKT certificate ({}), network m={} k={} d={} bias={}\n", self.norm.name(), self.m, self.k, self.d, self.bias);
        s += &format!("  q_min            {:.6e}\n", self.q_min);
        s += &format!("  support          {} samples ({slack})\n", self.support.len());
        s += &format!("  ambiguous pairs  {} (tau = {:e})\n", self.ambiguous_pairs, self.tau);
        s += &format!("  eps              {:.6e}\n", self.eps);
        s += &format!("  eps_rel          {:.6e}\n", self.eps_rel);
        s += &format!("  delta            {:.6e}\n", self.delta);
        s += &format!("  sum lambda       {:.6e}   |theta_hat|^2/2 = {:.6e}\n", self.lambda_sum, self.theta_norm_sq_half);
        s += &format!("  solver           {} ({status}), {:.3} s\n", self.solver.method, self.solver.seconds);
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

/// Why a certificate does not hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VerifyFailure {
    /// A multiplier is negative or not finite.
    BadMultiplier {
        /// Sample.
        sample: usize,
        /// Value.
        value: f64,
    },
    /// A sample outside the support has a nonzero multiplier.
    OffSupport {
        /// Sample.
        sample: usize,
    },
    /// A support sample is above the stated slack.
    NotOnMargin {
        /// Sample.
        sample: usize,
        /// Its normalised margin.
        margin: f64,
    },
    /// A subgradient choice is at a pair that is not ambiguous, or s ∉ [0, 1], or the
    /// indices are out of range.
    BadChoice {
        /// Sample.
        sample: usize,
        /// Neuron.
        neuron: usize,
        /// Why.
        reason: String,
    },
    /// The measured residual exceeds the stated ε.
    Residual {
        /// Measured.
        measured: f64,
        /// Stated.
        stated: f64,
    },
    /// The measured δ exceeds the stated δ.
    Delta {
        /// Measured.
        measured: f64,
        /// Stated.
        stated: f64,
    },
}

/// Result of re-checking a certificate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Whether the certificate holds at its stated ε and δ.
    pub holds: bool,
    /// Residual recomputed from per-sample gradients, in the report's norm.
    pub eps_measured: f64,
    /// ε in the certificate.
    pub eps_stated: f64,
    /// Measured ε / ‖θ̂‖.
    pub eps_rel_measured: f64,
    /// Σ λ_i (q̂_i − 1) recomputed.
    pub delta_measured: f64,
    /// δ in the certificate.
    pub delta_stated: f64,
    /// Everything that fails.
    pub failures: Vec<VerifyFailure>,
}

impl Verification {
    /// One line for humans.
    pub fn summary(&self) -> String {
        if self.holds {
            format!(
                "certificate holds: measured eps = {:.6e} ≤ stated {:.6e} (eps_rel {:.3e}), delta = {:.3e}",
                self.eps_measured, self.eps_stated, self.eps_rel_measured, self.delta_measured
            )
        } else {
            let first = self.failures.first().map_or(String::new(), |f| format!("{f:?}"));
            format!(
                "certificate does NOT hold: measured eps = {:.6e}, stated {:.6e}; {} failure(s), first: {first}",
                self.eps_measured,
                self.eps_stated,
                self.failures.len()
            )
        }
    }
}

pub(super) fn verify(net: &Net, data: &Dataset, report: &KktReport) -> Result<Verification, KktError> {
    if report.format != REPORT_FORMAT {
        return Err(KktError::UnknownFormat { found: report.format.clone(), expected: REPORT_FORMAT });
    }
    net.check_data(data)?;
    let got = net_content_hash(net);
    if got != report.net.content_sha256 {
        return Err(KktError::HashMismatch { what: "network", expected: report.net.content_sha256.clone(), got });
    }
    let got = data_content_hash(data);
    if got != report.data.content_sha256 {
        return Err(KktError::HashMismatch { what: "dataset", expected: report.data.content_sha256.clone(), got });
    }
    let m = data.m();
    if report.lambda.len() != m {
        return Err(KktError::ReportShape { field: "lambda", expected: m, got: report.lambda.len() });
    }
    let (hat, _q_min) = net.normalized(data)?;
    let qhat = hat.margins(data)?;
    let k = hat.width();
    let mut failures = Vec::new();
    let mut in_support = vec![false; m];
    for &i in &report.support {
        if i >= m {
            return Err(KktError::ReportShape { field: "support (index out of range)", expected: m, got: i + 1 });
        }
        in_support[i] = true;
        if let Some(slack) = report.slack {
            let limit = (1.0 + slack) * (1.0 + VERIFY_REL_TOL);
            if !within(qhat[i], limit) {
                failures.push(VerifyFailure::NotOnMargin { sample: i, margin: qhat[i] });
            }
        }
    }
    for (i, &l) in report.lambda.iter().enumerate() {
        if !(l.is_finite() && l >= 0.0) {
            failures.push(VerifyFailure::BadMultiplier { sample: i, value: l });
        } else if l > 0.0 && !in_support[i] {
            failures.push(VerifyFailure::OffSupport { sample: i });
        }
    }
    // Subgradient choices, s[i][j] overrides.
    let mut overrides: Vec<Vec<(usize, f64)>> = vec![Vec::new(); m];
    for ch in &report.subgradient_choices {
        let (i, j) = (ch.sample, ch.neuron);
        let fail = |reason: String| VerifyFailure::BadChoice { sample: i, neuron: j, reason };
        if i >= m || j >= k {
            failures.push(fail(format!("index out of range (m = {m}, k = {k})")));
            continue;
        }
        if !(0.0..=1.0).contains(&ch.s) {
            failures.push(fail(format!("s = {} is not in [0, 1]", ch.s)));
            continue;
        }
        let x = data.row(i);
        let u = hat.preactivation_one(j, &x);
        let thr = report.tau * hat.kink_scale(j, &x) * (1.0 + VERIFY_REL_TOL);
        if !within(u.abs(), thr) {
            failures.push(fail(format!("|u| = {:e} > tau·scale = {thr:e}: not a kink", u.abs())));
            continue;
        }
        overrides[i].push((j, ch.s));
    }
    // Residual from explicit per-sample gradients.
    let mut acc = DVector::<f64>::zeros(hat.param_count());
    let mut delta_measured = 0.0;
    let mut lambda_abs = 0.0;
    for i in 0..m {
        let l = report.lambda[i];
        if !(l.is_finite() && l > 0.0) {
            continue;
        }
        let x = data.row(i);
        let mut s: Vec<f64> = (0..k).map(|j| if hat.preactivation_one(j, &x) > 0.0 { 1.0 } else { 0.0 }).collect();
        for &(j, sj) in &overrides[i] {
            s[j] = sj;
        }
        let h = hat.sample_gradient(&x, data.y()[i], &s);
        acc.axpy(l, &h, 1.0);
        delta_measured += l * (qhat[i] - 1.0);
        lambda_abs += l;
    }
    let theta = hat.flatten();
    let r = &theta - &acc;
    let eps_measured = report.norm.of(&r);
    let theta_norm = report.norm.of(&theta);
    let eps_tol = report.eps * (1.0 + VERIFY_REL_TOL) + VERIFY_ABS_TOL * theta_norm;
    if !within(eps_measured, eps_tol) {
        failures.push(VerifyFailure::Residual { measured: eps_measured, stated: report.eps });
    }
    let delta_tol = report.delta + VERIFY_REL_TOL * report.delta.abs() + VERIFY_ABS_TOL * lambda_abs.max(1.0);
    if !within(delta_measured, delta_tol) {
        failures.push(VerifyFailure::Delta { measured: delta_measured, stated: report.delta });
    }
    Ok(Verification {
        holds: failures.is_empty(),
        eps_measured,
        eps_stated: report.eps,
        eps_rel_measured: eps_measured / theta_norm,
        delta_measured,
        delta_stated: report.delta,
        failures,
    })
}

/// `x ≤ limit`, false when either is NaN (so a NaN never passes a check).
fn within(x: f64, limit: f64) -> bool {
    x <= limit
}
