//! KKT certificates for the max-margin problem (DESIGN §2, the paper's Problem (2)):
//!
//! min ½‖θ‖² s.t. y_i N_θ(x_i) ≥ 1 for all i.
//!
//! For a separating network, θ̂ = θ/√q_min has smallest margin 1 and margins
//! q̂_i = q_i/q_min. The certificate is a vector of multipliers λ ≥ 0 on a *support*
//! (the on-margin samples q̂_i ≤ 1 + slack, or all samples), together with admissible
//! Clarke subgradients h_i ∈ ∂°_θ(y_i N(x_i)), such that
//!
//! ε = ‖θ̂ − Σ_i λ_i h_i‖  and  δ = Σ_i λ_i (q̂_i − 1)
//!
//! are small: θ̂ is then an (ε, δ)-approximate KKT point (Dutta et al. 2013; Lyu & Li
//! 2019). A ReLU whose pre-activation satisfies |u_ij| ≤ τ·‖(w_j, b_j)‖·‖(x_i, 1)‖ is an
//! *ambiguous pair*: its derivative s_ij may be any value in [0, 1]. With μ_ij = λ_i s_ij
//! (0 ≤ μ_ij ≤ λ_i) the residual is linear in (λ, μ), so the best certificate solves a
//! convex problem:
//!
//! * [`Norm::L2`]: a non-negative least-squares problem written through the Gram
//!   matrix of the gradient columns (an empirical NTK, m×m plus the ambiguous
//!   columns), so that no object of size k·d·m is formed. Solved by block principal
//!   pivoting (`nnls`), with Lawson–Hanson as the fallback when pivoting cycles (a
//!   singular Gram matrix); when the unconstrained-μ solution violates μ ≤ λ, or neither
//!   NNLS converges, the full QP goes to clarabel (`qp`), and the better of the
//!   admissible points is kept.
//! * [`Norm::Linf`], [`Norm::L1`]: linear programs modelled with good_lp and solved by
//!   microlp (`lp`), guarded by a size limit.
//!
//! Whatever the solver returns, (λ, μ) is first projected onto the admissible set and
//! the residual is then computed explicitly in parameter space, so that the reported ε
//! is a true bound for the reported λ; [`verify`] recomputes it once more, independently,
//! from per-sample gradients ([`Net::sample_gradient`]).

mod lp;
mod nnls;
mod problem;
mod qp;
mod report;

use std::time::Instant;

use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::data::Dataset;
use crate::net::{Net, NetError};
use problem::Problem;

pub use report::{
    InputInfo, KktReport, SolveStatus, SolverInfo, SubgradientChoice, TauPoint, Verification, VerifyFailure,
    REPORT_FORMAT,
};

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
            Norm::Linf => r.iter().fold(0.0f64, |a, t| a.max(t.abs())),
            Norm::L1 => r.iter().map(|t| t.abs()).sum(),
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
    /// The on-margin samples q̂_i ≤ 1 + slack (the paper uses slack = 0.1).
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
    /// Block-principal-pivoting NNLS on the Gram matrix; clarabel only when the
    /// ambiguity constraints μ ≤ λ bind (the default, chosen by measurement, see
    /// BENCHMARKS.md).
    Auto,
    /// Always clarabel on the full QP (interior point; for comparison).
    Clarabel,
}

/// Settings of [`certify`].
#[derive(Debug, Clone, PartialEq)]
pub struct KktSettings {
    /// Residual norm (default [`Norm::L2`]).
    pub norm: Norm,
    /// Ambiguity tolerance τ for "u_ij = 0" (default 1e-9, DESIGN §2).
    pub tau: f64,
    /// Support (default `Margin { slack: 0.1 }`, the paper's 10 %).
    pub support: Support,
    /// τ values of the τ-profile (default 1e-9, 1e-6, 1e-4, 1e-3, 1e-2); empty for none.
    /// Each entry is one more solve; a large τ makes many pairs ambiguous and costs the
    /// most (measured at m = k = d = 1000, support = all, 2 cores: the main solve 0.9 s,
    /// the whole default profile about 3.5 min, τ = 1e-3 having 25 000 ambiguous pairs
    /// and τ = 1e-2 skipped above [`KktSettings::max_ambiguous`]).
    pub tau_ladder: Vec<f64>,
    /// L2 method (default [`L2Solver::Auto`]).
    pub l2_solver: L2Solver,
    /// Largest LP (nonzeros of the constraint matrix) attempted; larger ones are refused
    /// with [`KktError::LpTooLarge`] (default 200 000: microlp is a dense-ish simplex).
    pub lp_max_nonzeros: usize,
    /// Time limit of one LP or clarabel solve in seconds (default 120).
    pub time_limit: f64,
    /// Largest number of variables (λ and μ) handed to clarabel (dense Gram matrix);
    /// above it the projected NNLS point is kept and the status says so (default 3000).
    pub qp_max_vars: usize,
    /// Largest number of ambiguous pairs for one solve; a τ-profile entry above it is
    /// skipped with a note, the main solve fails with [`KktError::TooManyAmbiguous`]
    /// (default 200 000).
    pub max_ambiguous: usize,
    /// Iteration budget of the NNLS (default 1000).
    pub nnls_max_iter: usize,
}

impl Default for KktSettings {
    fn default() -> Self {
        KktSettings {
            norm: Norm::L2,
            tau: 1e-9,
            support: Support::Margin { slack: 0.1 },
            tau_ladder: vec![1e-9, 1e-6, 1e-4, 1e-3, 1e-2],
            l2_solver: L2Solver::Auto,
            lp_max_nonzeros: 200_000,
            time_limit: 120.0,
            qp_max_vars: 3000,
            max_ambiguous: 200_000,
            nnls_max_iter: 1000,
        }
    }
}

/// Errors of [`certify`] and [`verify`]: misuse and inputs that cannot be analysed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum KktError {
    /// The network and data disagree, or the network does not separate the data.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A setting is out of range.
    #[error("invalid KKT setting {field} = {value}: {reason}")]
    Settings {
        /// Field name.
        field: &'static str,
        /// Its value.
        value: f64,
        /// What is required.
        reason: &'static str,
    },
    /// No sample is allowed a multiplier.
    #[error("the support is empty (no sample has q̂ ≤ 1 + slack = {limit}); nothing to certify")]
    EmptySupport {
        /// 1 + slack.
        limit: f64,
    },
    /// The LP is over the size limit.
    #[error("the {norm} LP has {nonzeros} nonzeros (P = {params} parameters, {vars} variables), above the limit {limit}; use --norm l2, which scales to large networks")]
    LpTooLarge {
        /// Norm.
        norm: &'static str,
        /// Nonzeros of the constraint matrix.
        nonzeros: usize,
        /// Parameters.
        params: usize,
        /// Variables.
        vars: usize,
        /// The limit.
        limit: usize,
    },
    /// Too many ambiguous pairs for one solve.
    #[error("{pairs} ambiguous pairs at tau = {tau:e} exceed the limit {limit}; choose a smaller tau")]
    TooManyAmbiguous {
        /// Count.
        pairs: usize,
        /// τ.
        tau: f64,
        /// Limit.
        limit: usize,
    },
    /// A solver failed outright.
    #[error("{solver} failed: {reason}")]
    Solver {
        /// Which solver.
        solver: &'static str,
        /// Its message.
        reason: String,
    },
    /// The certificate file has an unknown format.
    #[error("unknown certificate format {found:?} (this version reads {expected:?})")]
    UnknownFormat {
        /// Found.
        found: String,
        /// Expected.
        expected: &'static str,
    },
    /// The certificate was issued for another network or dataset.
    #[error("the certificate is for another {what}: its content hash is {expected} but the given {what} hashes to {got}")]
    HashMismatch {
        /// "network" or "dataset".
        what: &'static str,
        /// Hash in the certificate.
        expected: String,
        /// Hash of the given input.
        got: String,
    },
    /// The certificate does not fit the inputs.
    #[error("the certificate does not fit the inputs: {field} has {got} entries, expected {expected}")]
    ReportShape {
        /// Field.
        field: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
}

/// Relative tolerance of [`verify`] on the stated ε and δ (measured ≤ stated·(1 + tol) +
/// abs), to absorb the different summation order of the independent recomputation.
pub const VERIFY_REL_TOL: f64 = 1e-9;
/// Absolute part of the tolerance of [`verify`], relative to ‖θ̂‖ in the report's norm
/// (for δ: relative to Σλ).
pub const VERIFY_ABS_TOL: f64 = 1e-12;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a network's content (independent of file format): the tag
/// `relucert/net-content@1`, then d, k, bias flag as u64 little-endian, then w (row-major),
/// b (if any) and v as f64 little-endian.
pub fn net_content_hash(net: &Net) -> String {
    let mut h = Sha256::new();
    h.update(b"relucert/net-content@1");
    for n in [net.dim() as u64, net.width() as u64, u64::from(net.has_bias())] {
        h.update(n.to_le_bytes());
    }
    for t in net.flatten().iter() {
        h.update(t.to_le_bytes());
    }
    hex(&h.finalize())
}

/// SHA-256 of a dataset's content: the tag `relucert/data-content@1`, d and m as u64
/// little-endian, then x (row-major) and y as f64 little-endian.
pub fn data_content_hash(data: &Dataset) -> String {
    let mut h = Sha256::new();
    h.update(b"relucert/data-content@1");
    for n in [data.d() as u64, data.m() as u64] {
        h.update(n.to_le_bytes());
    }
    for i in 0..data.m() {
        for t in data.x().row(i).iter() {
            h.update(t.to_le_bytes());
        }
    }
    for t in data.y().iter() {
        h.update(t.to_le_bytes());
    }
    hex(&h.finalize())
}

fn check_settings(s: &KktSettings) -> Result<(), KktError> {
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
    Ok(())
}

/// One solved problem at one τ.
struct Solved {
    problem: Problem,
    z: Vec<f64>,
    residual: DVector<f64>,
    solver: SolverInfo,
}

fn solve_at(hat: &Net, data: &Dataset, support: &[usize], tau: f64, s: &KktSettings) -> Result<Solved, KktError> {
    let start = Instant::now();
    let p = Problem::new(hat, data, support, tau);
    if p.amb.len() > s.max_ambiguous {
        return Err(KktError::TooManyAmbiguous { pairs: p.amb.len(), tau, limit: s.max_ambiguous });
    }
    let c = p.linear_term();
    let n = p.nvars();
    let ns = p.ns();
    let (mut z, mut solver) = match s.norm {
        Norm::L2 => {
            let run_qp = |p: &Problem| -> Result<(Vec<f64>, SolverInfo), KktError> {
                let owners: Vec<usize> = p.amb.iter().map(|&(a, _)| a).collect();
                let r = qp::solve(ns, &owners, |a, b| p.gram(a, b), &c, s.time_limit)
                    .map_err(|reason| KktError::Solver { solver: "clarabel", reason })?;
                let status = match r.status {
                    clarabel::solver::SolverStatus::Solved => SolveStatus::Optimal,
                    clarabel::solver::SolverStatus::AlmostSolved => SolveStatus::ReducedAccuracy,
                    other => SolveStatus::NotOptimal { reason: format!("clarabel status {other:?}") },
                };
                Ok((r.z, SolverInfo { method: "clarabel".into(), status, iterations: r.iterations as usize, seconds: 0.0 }))
            };
            match s.l2_solver {
                L2Solver::Clarabel => run_qp(&p)?,
                L2Solver::Auto => {
                    let mut r = nnls::solve(n, |a, b| p.gram(a, b), &c, s.nnls_max_iter);
                    let mut method = "active-set-nnls";
                    if r.outcome == nnls::NnlsOutcome::MaxIterations {
                        // Block pivoting can cycle on a singular Gram matrix: fall back to
                        // Lawson–Hanson, keep the better of the two points.
                        let lh = nnls::solve_lawson_hanson(n, |a, b| p.gram(a, b), &c, 3 * n + 100);
                        let (mut za, mut zb) = (r.z.clone(), lh.z.clone());
                        p.project(&mut za);
                        p.project(&mut zb);
                        if lh.outcome == nnls::NnlsOutcome::Converged
                            || p.residual(hat, &zb).norm() < p.residual(hat, &za).norm()
                        {
                            r = nnls::NnlsResult { iterations: r.iterations + lh.iterations, ..lh };
                            method = "lawson-hanson-nnls";
                        }
                    }
                    let status = match r.outcome {
                        nnls::NnlsOutcome::Converged => SolveStatus::Optimal,
                        nnls::NnlsOutcome::MaxIterations => {
                            SolveStatus::NotOptimal { reason: "NNLS iteration budget ran out".into() }
                        }
                    };
                    let violated =
                        p.amb.iter().enumerate().any(|(t, &(a, _))| r.z[ns + t] > r.z[a] * (1.0 + 1e-12));
                    let info = SolverInfo { method: method.into(), status, iterations: r.iterations, seconds: 0.0 };
                    let not_converged = r.outcome != nnls::NnlsOutcome::Converged;
                    if !violated && (!not_converged || n > s.qp_max_vars) {
                        (r.z, info)
                    } else if n <= s.qp_max_vars {
                        let mut zn = r.z.clone();
                        p.project(&mut zn);
                        let (mut zq, info_q) = run_qp(&p)?;
                        p.project(&mut zq);
                        let en = p.residual(hat, &zn).norm();
                        let eq = p.residual(hat, &zq).norm();
                        if eq <= en {
                            (zq, SolverInfo { method: format!("{method}+clarabel"), ..info_q })
                        } else {
                            (zn, SolverInfo {
                                method: format!("{method}+clarabel"),
                                status: SolveStatus::NotOptimal {
                                    reason: "clarabel did not improve on the projected NNLS point".into(),
                                },
                                iterations: info.iterations,
                                seconds: 0.0,
                            })
                        }
                    } else {
                        (r.z, SolverInfo {
                            status: SolveStatus::NotOptimal {
                                reason: format!(
                                    "ambiguity constraints bind and {n} variables exceed qp_max_vars = {}; projected NNLS point",
                                    s.qp_max_vars
                                ),
                            },
                            ..info
                        })
                    }
                }
            }
        }
        Norm::Linf | Norm::L1 => {
            let nnz = lp::nonzeros(&p);
            if nnz > s.lp_max_nonzeros {
                return Err(KktError::LpTooLarge {
                    norm: s.norm.name(),
                    nonzeros: nnz,
                    params: hat.param_count(),
                    vars: n,
                    limit: s.lp_max_nonzeros,
                });
            }
            let t0 = Instant::now();
            let z = lp::solve(&p, hat, s.norm, s.time_limit)
                .map_err(|e| KktError::Solver { solver: "microlp", reason: e.to_string() })?;
            let status = if t0.elapsed().as_secs_f64() >= s.time_limit {
                SolveStatus::NotOptimal { reason: "time limit reached".into() }
            } else {
                SolveStatus::Optimal
            };
            (z, SolverInfo { method: "microlp".into(), status, iterations: 0, seconds: 0.0 })
        }
    };
    p.project(&mut z);
    let residual = p.residual(hat, &z);
    solver.seconds = start.elapsed().as_secs_f64();
    Ok(Solved { problem: p, z, residual, solver })
}

/// Finds multipliers λ (and subgradient choices) that certify how close `net` is to a
/// KKT point of the max-margin problem on `data`; see the module docs.
///
/// Errors: dimension mismatch, a non-separating network (naming the sample), invalid
/// settings, an empty support, an LP over the size limit, or a solver failure. A solver
/// that stops early is not an error: the report's `solver.status` says so, and ε is
/// still a true bound for the λ reported.
pub fn certify(net: &Net, data: &Dataset, settings: &KktSettings) -> Result<KktReport, KktError> {
    check_settings(settings)?;
    net.check_data(data)?;
    let (hat, q_min) = net.normalized(data)?;
    let qhat = hat.margins(data)?;
    let support: Vec<usize> = match settings.support {
        Support::All => (0..data.m()).collect(),
        Support::Margin { slack } => (0..data.m()).filter(|&i| qhat[i] <= 1.0 + slack).collect(),
    };
    if support.is_empty() {
        let limit = match settings.support {
            Support::Margin { slack } => 1.0 + slack,
            Support::All => f64::INFINITY,
        };
        return Err(KktError::EmptySupport { limit });
    }
    let theta = hat.flatten();
    let theta_norm = settings.norm.of(&theta);
    let main = solve_at(&hat, data, &support, settings.tau, settings)?;
    let p = &main.problem;
    let ns = p.ns();
    let mut lambda = vec![0.0; data.m()];
    for (a, &i) in support.iter().enumerate() {
        lambda[i] = main.z[a];
    }
    let delta: f64 = support.iter().enumerate().map(|(a, &i)| main.z[a] * (qhat[i] - 1.0)).sum();
    let eps = settings.norm.of(&main.residual);
    let choices: Vec<SubgradientChoice> = p
        .amb
        .iter()
        .enumerate()
        .filter(|&(_, &(a, _))| main.z[a] > 0.0)
        .map(|(t, &(a, j))| SubgradientChoice {
            sample: support[a],
            neuron: j,
            s: (main.z[ns + t] / main.z[a]).clamp(0.0, 1.0),
        })
        .collect();
    let mut tau_profile = Vec::with_capacity(settings.tau_ladder.len());
    for &tau in &settings.tau_ladder {
        if tau == settings.tau {
            tau_profile.push(TauPoint { tau, eps_rel: Some(eps / theta_norm), ambiguous_pairs: p.amb.len(), note: None });
            continue;
        }
        match solve_at(&hat, data, &support, tau, settings) {
            Ok(sv) => tau_profile.push(TauPoint {
                tau,
                eps_rel: Some(settings.norm.of(&sv.residual) / theta_norm),
                ambiguous_pairs: sv.problem.amb.len(),
                note: None,
            }),
            Err(e) => {
                let pairs = if let KktError::TooManyAmbiguous { pairs, .. } = e { pairs } else { 0 };
                tau_profile.push(TauPoint { tau, eps_rel: None, ambiguous_pairs: pairs, note: Some(e.to_string()) })
            }
        }
    }
    let (slack, support_mode) = match settings.support {
        Support::Margin { slack } => (Some(slack), "margin"),
        Support::All => (None, "all"),
    };
    Ok(KktReport {
        format: REPORT_FORMAT.into(),
        norm: settings.norm,
        tau: settings.tau,
        slack,
        support_mode: support_mode.into(),
        q_min,
        eps,
        eps_rel: eps / theta_norm,
        delta,
        lambda_sum: main.z[..ns].iter().sum(),
        theta_norm_sq_half: hat.param_norm_sq() / 2.0,
        theta_hat_norm: theta_norm,
        residual_l2: main.residual.norm(),
        residual_linf: Norm::Linf.of(&main.residual),
        residual_l1: Norm::L1.of(&main.residual),
        lambda,
        support,
        ambiguous_pairs: p.amb.len(),
        subgradient_choices: choices,
        tau_profile,
        solver: main.solver,
        m: data.m(),
        k: net.width(),
        d: net.dim(),
        bias: net.has_bias(),
        params: net.param_count(),
        net: InputInfo { name: None, sha256: None, content_sha256: net_content_hash(net) },
        data: InputInfo { name: None, sha256: None, content_sha256: data_content_hash(data) },
    })
}

/// Re-checks a certificate independently of the solver: the multipliers are admissible
/// (λ ≥ 0, zero off the support, the support within the stated slack), every listed
/// subgradient choice is at an ambiguous pair with s ∈ [0, 1], and the residual
/// θ̂ − Σ λ_i h_i, summed from explicit per-sample gradients ([`Net::sample_gradient`]),
/// is at most the stated ε (and Σ λ_i(q̂_i − 1) at most δ), within [`VERIFY_REL_TOL`] and
/// [`VERIFY_ABS_TOL`].
///
/// Errors (refusals): an unknown format, a certificate for another network or dataset
/// (content hashes), lengths that do not fit, a non-separating network.
pub fn verify(net: &Net, data: &Dataset, report: &KktReport) -> Result<Verification, KktError> {
    report::verify(net, data, report)
}
