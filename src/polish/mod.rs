//! Polishing a network into a certified KKT point of the max-margin problem
//!
//! min ½‖θ‖² s.t. y_i N_θ(x_i) ≥ 1 for all i
//!
//! near the network's direction (docs/theorems.md, "polish"; the certificate is the one
//! of docs/kkt.md). Gradient descent on the logistic or exponential loss converges in
//! direction to such a KKT point (Lyu & Li, "Gradient descent maximizes the margin of
//! homogeneous neural networks", ICLR 2020), but only logarithmically slowly, even with
//! normalised steps (Nacson et al., "Convergence of gradient descent on separable data",
//! AISTATS 2019): trained networks are far from KKT by the certificate's measure. This
//! module finishes the job.
//!
//! Method (sequential quadratic programming on the max-margin problem):
//!
//! 1. Normalise (q_min = 1) and balance every neuron (‖w̃_j‖ = |v_j|; the function is
//!    unchanged and ‖θ‖ can only shrink).
//! 2. At θ_t, linearise every margin with its Clarke gradient h_i at the pattern
//!    s_ij = [u_ij > 0] and solve min ½‖θ‖² s.t. q_i(θ_t) + h_i·(θ − θ_t) ≥ 1. As q is
//!    2-homogeneous, h_i·θ_t = 2q_i, so its dual is the NNLS
//!    min_{λ≥0} ½λᵀKλ − (1 + q)ᵀλ in the Gram form K = HᵀH of the L2 certificate, and
//!    θ_QP = Σ λ_i h_i.
//! 3. Merit function: the normalised margin γ = q_min/‖θ‖² (Lyu & Li 2020), whose Clarke
//!    stationary points are the KKT points. Backtrack θ_t + α(θ_QP − θ_t) from α = 1 until
//!    γ increases (so γ never decreases), re-balance and re-normalise. Patterns may change
//!    between iterates: the next linearisation simply uses the new one; a pattern that
//!    recurs without progress of γ is reported as cycling.
//! 4. After every step, try the exact KKT solve at the current pattern (`finish`):
//!    Newton's method on the reduced system in (λ, per-direction scales), after zeroing
//!    the neurons whose mass is below a pruning level. Its result is accepted only when
//!    [`crate::kkt::certify`] certifies it at the target ε_rel (L2, τ as set) and
//!    [`crate::kkt::verify`] re-checks that certificate independently.
//!
//! 5. Once the SQP crawls (an accepted step shorter than `cell_switch`) or stalls, walk
//!    activation cells (`cell`): solve the convex max-margin problem of the current
//!    cell over the heaviest neuron classes (Pilanci & Ergen 2020), try step 4 at its
//!    solution (Newton started at the cell's multipliers and kink derivatives), and
//!    flip the pattern constraints that block the KKT conditions.
//!
//! Anything else ends with a status that says why ([`PolishStatus`]) and no network: the
//! result of a failed polish is never called KKT.

mod cell;
mod finish;
mod kinkqp;
mod report;
mod sqp;

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::time::Instant;

use thiserror::Error;

use nalgebra::{DMatrix, DVector};

use crate::data::Dataset;
use crate::kkt::{self, KktError, KktReport, KktSettings, Support};
use crate::net::{Activation, Net, NetError};
use sqp::{normalized_margin, Aug, Params};

pub use report::{Kink, MarginPair, PolishReport, PolishStatus, POLISH_FORMAT};

/// Settings of [`polish`].
#[derive(Debug, Clone, PartialEq)]
pub struct PolishSettings {
    /// Largest certified ε_rel (L2) accepted as a KKT point (default 1e-8).
    pub target_eps_rel: f64,
    /// Ambiguity tolerance τ of the certificate (default 1e-9).
    pub tau: f64,
    /// Support slack of the certificate: samples with q̂_i ≤ 1 + slack may carry a
    /// multiplier (default 0.1, as `relucert kkt`).
    pub slack: f64,
    /// SQP iteration budget (default 2000).
    pub max_iterations: usize,
    /// Wall-clock limit in seconds (default 300).
    pub time_limit: f64,
    /// Pruning levels tried by the KKT solve after each step: neurons with
    /// v_j² < level·max_l v_l² are set to zero (default 1e-3, 1e-6).
    pub prune_levels: Vec<f64>,
    /// Kink level of the SQP subproblem: a pair with |u_ij| ≤ level·‖w̃_j‖‖x̃_i‖ is
    /// linearised on both sides of its kink (a variable μ ≤ λ in the dual); 0 for the
    /// plain pattern linearisation (default 1e-4).
    pub sqp_kink: f64,
    /// Kink levels tried by the KKT solve: a pair with |u_ij| ≤ level·‖w̃_j‖‖x̃_i‖ is
    /// solved as a kink, u_ij = 0 with its derivative in [0, 1] (default 1e-2, 1e-4,
    /// 1e-7; the last keeps only the pairs that a cell solution binds).
    pub kink_levels: Vec<f64>,
    /// Largest number of kinks linearised on both sides in one SQP subproblem (a dense
    /// QP of m + kinks variables); above it the plain linearisation is used (default 200).
    pub max_kinks: usize,
    /// Largest number of unknowns of the final KKT solve (a dense Newton system);
    /// larger systems are not attempted (default 1000).
    pub max_solve_vars: usize,
    /// A sample is reported on the margin when q̂_i ≤ 1 + this (default 1e-9).
    pub on_margin_tol: f64,
    /// The SQP hands over to the cell walk once a step shorter than this is accepted,
    /// or when it stalls (default 1e-3).
    pub cell_switch: f64,
    /// Largest number of neuron classes in a cell problem; the heaviest are kept
    /// (default 100).
    pub max_cell_classes: usize,
    /// Iterations over which a recurring pattern without progress counts as cycling
    /// (default 50).
    pub cycle_window: usize,
}

impl Default for PolishSettings {
    fn default() -> Self {
        PolishSettings {
            target_eps_rel: 1e-8,
            tau: 1e-9,
            slack: 0.1,
            max_iterations: 2000,
            time_limit: 300.0,
            prune_levels: vec![1e-3, 1e-6],
            kink_levels: vec![1e-2, 1e-4, 1e-7],
            sqp_kink: 1e-4,
            max_kinks: 200,
            max_solve_vars: 1000,
            on_margin_tol: 1e-9,
            cycle_window: 50,
            cell_switch: 1e-3,
            max_cell_classes: 100,
        }
    }
}

/// Errors of [`polish`]: misuse and inputs that cannot be analysed. A polish that runs
/// but finds no KKT point is not an error; its report's status says why.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PolishError {
    /// The network and data disagree in dimension.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A setting is out of range.
    #[error("invalid polish setting {field} = {value}: {reason}")]
    Settings {
        /// Field name.
        field: &'static str,
        /// Its value.
        value: f64,
        /// What is required.
        reason: &'static str,
    },
    /// The certificate of the input network could not be computed.
    #[error("certifying the network failed: {0}")]
    Kkt(#[from] KktError),
}

/// The result of [`polish`]: the report and, only when the status is
/// [`PolishStatus::Kkt`], the certified KKT network θ* (normalised: q_min = 1).
#[derive(Debug, Clone)]
pub struct Polished {
    /// The report.
    pub report: PolishReport,
    /// The KKT network (`None` unless `report.status` is `kkt`).
    pub net: Option<Net>,
}

fn check(s: &PolishSettings) -> Result<(), PolishError> {
    let bad = |field, value, reason| Err(PolishError::Settings { field, value, reason });
    if !(s.target_eps_rel.is_finite() && s.target_eps_rel > 0.0) {
        return bad("target_eps_rel", s.target_eps_rel, "must be finite and > 0");
    }
    if !(s.tau.is_finite() && s.tau >= 0.0) {
        return bad("tau", s.tau, "must be finite and ≥ 0");
    }
    if !(s.slack.is_finite() && s.slack >= 0.0) {
        return bad("slack", s.slack, "must be finite and ≥ 0");
    }
    if s.time_limit.is_nan() || s.time_limit <= 0.0 {
        return bad("time_limit", s.time_limit, "must be positive");
    }
    for &l in &s.prune_levels {
        if !(l.is_finite() && (0.0..1.0).contains(&l)) {
            return bad("prune_levels", l, "every level must be in [0, 1)");
        }
    }
    for &l in &s.kink_levels {
        if !(l.is_finite() && l >= 0.0) {
            return bad("kink_levels", l, "every level must be finite and ≥ 0");
        }
    }
    if !(s.sqp_kink.is_finite() && s.sqp_kink >= 0.0) {
        return bad("sqp_kink", s.sqp_kink, "must be finite and ≥ 0");
    }
    if !(s.cell_switch.is_finite() && (0.0..=1.0).contains(&s.cell_switch)) {
        return bad("cell_switch", s.cell_switch, "must be in [0, 1]");
    }
    if !(s.on_margin_tol.is_finite() && s.on_margin_tol >= 0.0) {
        return bad("on_margin_tol", s.on_margin_tol, "must be finite and ≥ 0");
    }
    Ok(())
}

/// Certifies `net` and re-verifies the certificate; `Some` only when both succeed at the
/// target.
fn certified(net: &Net, data: &Dataset, s: &PolishSettings) -> Option<KktReport> {
    let ks = KktSettings {
        tau: s.tau,
        support: Support::Margin { slack: s.slack },
        tau_ladder: Vec::new(),
        ..KktSettings::default()
    };
    let rep = kkt::certify(net, data, &ks).ok()?;
    // NaN never passes.
    if rep.eps_rel.is_nan() || rep.eps_rel > s.target_eps_rel {
        return None;
    }
    let v = kkt::verify(net, data, &rep).ok()?;
    (v.holds && v.eps_rel_measured <= s.target_eps_rel).then_some(rep)
}

fn pattern_hash(p: &Params, aug: &Aug) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for t in p.pre(aug).iter() {
        (*t > 0.0).hash(&mut h);
    }
    h.finish()
}

/// Polishes `net` into a certified KKT point of the max-margin problem on `data`; see
/// the module docs for the method.
///
/// Errors: a dimension mismatch or invalid settings. A network that does not separate
/// the data, or a polish that fails, gives a report with that status and no network.
pub fn polish(net: &Net, data: &Dataset, s: &PolishSettings) -> Result<Polished, PolishError> {
    check(s)?;
    net.check_data(data)?;
    let start = Instant::now();
    let aug = Aug::new(data, net.has_bias());
    let mut p = Params::from_net(net);
    let gamma0 = normalized_margin(&p, &aug);
    let mut out = Outcome {
        iterations: 0,
        status: PolishStatus::MaxIterations,
        message: String::new(),
        gamma_before: None,
        gamma_last: None,
        start,
    };
    let Ok((hat0, _)) = net.normalized(data) else {
        out.status = PolishStatus::NotSeparating;
        out.message = "the network does not separate the data (q_min ≤ 0)".into();
        return Ok(report::finish_report(net, data, s, out, None));
    };
    out.gamma_before = Some(gamma0);
    if let Some(cert) = certified(&hat0, data, s) {
        out.status = PolishStatus::Kkt;
        out.message = "the input is already a KKT point at the target; returned unchanged (normalised)".into();
        return Ok(report::finish_report(net, data, s, out, Some((hat0, cert))));
    }
    p.normalize(&aug);
    p.balance();
    p = cell::merge(&p, &aug);
    p.normalize(&aug);
    let mut gamma = normalized_margin(&p, &aug);
    let env = Env { aug: &aug, net, data, s };
    let mut history: VecDeque<(u64, f64)> = VecDeque::new();
    let mut walked = false;
    loop {
        if out.iterations >= s.max_iterations {
            out.status = PolishStatus::MaxIterations;
            out.message = format!("no certified KKT point within {} iterations", s.max_iterations);
            break;
        }
        if start.elapsed().as_secs_f64() > s.time_limit {
            out.status = PolishStatus::TimeLimit;
            out.message = format!("no certified KKT point within the time limit of {} s", s.time_limit);
            break;
        }
        out.iterations += 1;
        let st = if s.sqp_kink > 0.0 { kinkqp::step(&p, &aug, s.sqp_kink, s.max_kinks) } else { sqp::step(&p, &aug) };
        if !st.target.w.iter().chain(st.target.v.iter()).chain(st.lambda.iter()).all(|t| t.is_finite()) {
            out.status = PolishStatus::Diverged;
            out.message = format!("the SQP subproblem became non-finite at iteration {}", out.iterations);
            break;
        }
        if let Some(done) = try_finish(&p, (&st.lambda, None), &env, &mut out, "SQP") {
            return Ok(done);
        }
        // Line search on the normalised margin.
        let mut alpha = 1.0;
        let mut accepted = None;
        for _ in 0..40 {
            let mut trial = Params {
                w: &p.w + (&st.target.w - &p.w) * alpha,
                v: &p.v + (&st.target.v - &p.v) * alpha,
            };
            trial.balance();
            let g = normalized_margin(&trial, &aug);
            if g > gamma {
                accepted = Some((trial, g));
                break;
            }
            alpha *= 0.5;
        }
        // Once the SQP crawls (tiny steps) or stalls, walk the cells from its iterate.
        if !walked && accepted.as_ref().is_none_or(|_| alpha < s.cell_switch) {
            walked = true;
            match cell_walk(&p, &env, &mut out) {
                Ok(done) => return Ok(done),
                Err(Some((q, g))) if g > gamma => {
                    (p, gamma) = (q, g);
                    continue;
                }
                Err(_) => {}
            }
        }
        let Some((mut next, g)) = accepted else {
            out.status = PolishStatus::Stalled;
            out.message = format!(
                "no step along the SQP direction increases the normalised margin (iteration {}), the KKT solve at this pattern was not certified{}",
                out.iterations,
                if walked { ", and the cell walk found no certified point" } else { "" }
            );
            break;
        };
        next.normalize(&aug);
        if !next.w.iter().chain(next.v.iter()).all(|t| t.is_finite()) {
            out.status = PolishStatus::Diverged;
            out.message = format!("the iterate became non-finite at iteration {}", out.iterations);
            break;
        }
        p = next;
        gamma = g;
        let h = pattern_hash(&p, &aug);
        let recurring = history.iter().enumerate().find(|(_, e)| e.0 == h).map(|(at, e)| (at, e.1));
        if let Some((at, g_then)) = recurring {
            let changed_between = history.iter().skip(at).any(|e| e.0 != h);
            if changed_between && gamma <= g_then * (1.0 + 1e-12) {
                out.status = PolishStatus::Cycling;
                out.message = format!("the activation pattern recurs without progress (iteration {})", out.iterations);
                break;
            }
        }
        history.push_back((h, gamma));
        if history.len() > s.cycle_window {
            history.pop_front();
        }
    }
    out.gamma_last = Some(gamma);
    Ok(report::finish_report(net, data, s, out, None))
}

/// What every attempt at a KKT point needs: the data in both forms, the input network
/// and the settings.
#[derive(Clone, Copy)]
struct Env<'a> {
    aug: &'a Aug,
    net: &'a Net,
    data: &'a Dataset,
    s: &'a PolishSettings,
}

/// The cell walk (docs/theorems.md, "polish"): solve the convex problem of the current
/// cell, try the exact solve and the certificate at its solution, and move the pattern
/// constraints that block it to their other side. Every cell contains the previous
/// solution, so γ never decreases. Returns the last solution (normalised) and its γ, or
/// the finished polish. (A cell solved only to reduced accuracy still serves as a step:
/// it is a candidate, never a claim, and γ is tracked so the best iterate is kept.)
fn cell_walk(p: &Params, env: &Env, out: &mut Outcome) -> Result<Polished, Option<(Params, f64)>> {
    let Env { aug, s, .. } = *env;
    let mut classes = cell::Classes::of(p, aug).heaviest(s.max_cell_classes);
    let mut best: Option<(Params, f64)> = None;
    while out.iterations < s.max_iterations && out.start.elapsed().as_secs_f64() <= s.time_limit {
        out.iterations += 1;
        let Some(sol) = cell::solve(&classes, aug) else { break };
        let mut cand = classes.to_params(p, &sol.sums);
        if cand.normalize(aug) <= 0.0 {
            break;
        }
        let g = normalized_margin(&cand, aug);
        // With the heaviest classes only, a cell's optimum may lie below the input's γ.
        let raises = out.gamma_before.is_some_and(|g0| g >= g0);
        if raises {
            if let Some(done) = try_finish(&cand, (&sol.lambda, Some(&cell::derivatives(&classes, &sol, aug, p.w.nrows()))), env, out, "cell walk") {
                return Ok(done);
            }
        }
        let flip = cell::blocking_pairs(&classes, &sol, aug);
        if best.as_ref().is_none_or(|b| g >= b.1) {
            best = Some((cand, g));
        }
        if flip.is_empty() {
            break;
        }
        classes = classes.next(&sol, &flip);
    }
    Err(best)
}

/// The exact KKT solve at the pattern of `p` from the multipliers `lambda`, for every
/// pruning and kink level; the first candidate that is certified and verified ends
/// polishing.
fn try_finish(p: &Params, lambda: (&DVector<f64>, Option<&DMatrix<f64>>), env: &Env, out: &mut Outcome, via: &str) -> Option<Polished> {
    let Env { aug, net, data, s } = *env;
    for (&level, &kink) in s.prune_levels.iter().flat_map(|l| s.kink_levels.iter().map(move |k| (l, k))) {
        if out.start.elapsed().as_secs_f64() > s.time_limit {
            return None;
        }
        let Some(mut cand) = finish::solve(p, aug, lambda, level, kink, s.max_solve_vars) else { continue };
        if cand.normalize(aug) <= 0.0 {
            continue;
        }
        let Ok(cnet) = cand.to_net(net.has_bias()) else { continue };
        if let Some(cert) = certified(&cnet, data, s) {
            out.status = PolishStatus::Kkt;
            out.message = format!("certified and verified KKT point ({via}; pruning level {level:e}, kink level {kink:e})");
            let done = Outcome { message: std::mem::take(&mut out.message), ..*out };
            return Some(report::finish_report(net, data, s, done, Some((cnet, cert))));
        }
    }
    None
}

/// How the iteration ended (internal, turned into the report).
pub(crate) struct Outcome {
    pub iterations: usize,
    pub status: PolishStatus,
    pub message: String,
    /// γ of the input (`None` when it does not separate the data).
    pub gamma_before: Option<f64>,
    /// γ of the last iterate when no KKT point was found.
    pub gamma_last: Option<f64>,
    /// When polishing started.
    pub start: Instant,
}

/// Ambiguous pairs of non-zero neurons at tolerance τ.
pub(crate) fn kinks(net: &Net, data: &Dataset, tau: f64) -> Vec<Kink> {
    let Ok(pat) = net.activation_pattern(data, tau) else { return Vec::new() };
    let k = net.width();
    let mut out = Vec::new();
    for (idx, a) in pat.iter().enumerate() {
        let (i, j) = (idx / k, idx % k);
        if *a == Activation::Ambiguous && net.v()[j] != 0.0 {
            out.push(Kink { neuron: j, sample: i });
        }
    }
    out.sort_by_key(|kk| (kk.neuron, kk.sample));
    out
}
