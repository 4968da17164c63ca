//! Independent re-check of a certificate ([`verify`]): admissibility of λ and of the
//! subgradient choices, then the residual summed from explicit per-sample gradients
//! ([`Net::sample_gradient`]), with no solver involved (docs/kkt.md, "Verification").

use std::fmt;

use nalgebra::DVector;
use serde::Serialize;

use super::report::REPORT_FORMAT;
use super::{data_content_hash, net_content_hash, KktError, KktReport};
use crate::data::Dataset;
use crate::net::Net;

/// Relative tolerance of [`verify`] on the stated ε and δ (measured ≤ stated·(1 + tol) +
/// abs), to absorb the different summation order of the independent recomputation.
pub const VERIFY_REL_TOL: f64 = 1e-9;
/// Absolute part of the tolerance of [`verify`], relative to ‖θ̂‖ in the report's norm
/// (for δ: relative to Σλ).
pub const VERIFY_ABS_TOL: f64 = 1e-12;

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

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyFailure::BadMultiplier { sample, value } => {
                write!(f, "lambda of sample {sample} is {value:e}, not a finite number ≥ 0")
            }
            VerifyFailure::OffSupport { sample } => {
                write!(f, "sample {sample} is outside the support but has a nonzero lambda")
            }
            VerifyFailure::NotOnMargin { sample, margin } => {
                write!(f, "support sample {sample} has normalised margin {margin:.12e}, above 1 + slack")
            }
            VerifyFailure::BadChoice { sample, neuron, reason } => {
                write!(f, "subgradient choice at sample {sample}, neuron {neuron}: {reason}")
            }
            VerifyFailure::Residual { measured, stated } => {
                write!(f, "measured eps = {measured:.6e} exceeds the stated eps = {stated:.6e}")
            }
            VerifyFailure::Delta { measured, stated } => {
                write!(f, "measured delta = {measured:.6e} exceeds the stated delta = {stated:.6e}")
            }
        }
    }
}

/// Result of re-checking a certificate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Whether the certificate holds at its stated ε and δ.
    pub holds: bool,
    /// τ of the certificate (the relaxation its subgradient choices may use).
    pub tau: f64,
    /// Pairs (sample, neuron) at which the certificate uses a relaxed derivative
    /// s ∈ [0, 1] (its accepted subgradient choices).
    pub relaxed_pairs: usize,
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
        let relax = format!("tau = {:e}, {} relaxed pairs", self.tau, self.relaxed_pairs);
        if self.holds {
            format!(
                "certificate holds: measured eps = {:.6e} ≤ stated {:.6e} (eps_rel {:.3e}), delta = {:.3e}; {relax}",
                self.eps_measured, self.eps_stated, self.eps_rel_measured, self.delta_measured
            )
        } else {
            let first = self.failures.first().map_or(String::new(), |f| f.to_string());
            format!(
                "certificate does NOT hold: measured eps = {:.6e}, stated {:.6e}; {relax}; {} failure(s), first: {first}",
                self.eps_measured,
                self.eps_stated,
                self.failures.len()
            )
        }
    }
}

/// Re-checks a certificate independently of the solver: the multipliers are admissible
/// (λ ≥ 0, zero off the support, the support within the stated slack), every listed
/// subgradient choice is at an ambiguous pair with s ∈ [0, 1], and the residual
/// θ̂ − Σ λ_i h_i, summed from explicit per-sample gradients ([`Net::sample_gradient`]),
/// is at most the stated ε (and Σ λ_i(q̂_i − 1) at most δ), within [`VERIFY_REL_TOL`] and
/// [`VERIFY_ABS_TOL`].
///
/// Errors (refusals): an unknown format, a certificate for another network or dataset
/// (content hashes), a τ that is negative or not finite (a huge τ would make every
/// subgradient admissible), lengths that do not fit, a non-separating network.
pub fn verify(net: &Net, data: &Dataset, report: &KktReport) -> Result<Verification, KktError> {
    if report.format != REPORT_FORMAT {
        return Err(KktError::UnknownFormat { found: report.format.clone(), expected: REPORT_FORMAT });
    }
    if !(report.tau.is_finite() && report.tau >= 0.0) {
        return Err(KktError::Settings { field: "tau", value: report.tau, reason: "must be finite and ≥ 0" });
    }
    if let Some(slack) = report.slack {
        if !(slack.is_finite() && slack >= 0.0) {
            return Err(KktError::Settings { field: "slack", value: slack, reason: "must be finite and ≥ 0" });
        }
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
            let limit = super::support_limit(slack) * (1.0 + VERIFY_REL_TOL);
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
    let mut relaxed_pairs = 0;
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
        relaxed_pairs += 1;
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
        tau: report.tau,
        relaxed_pairs,
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
