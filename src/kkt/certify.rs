//! The certificate driver ([`certify`]): normalise, pick the support, solve at τ and
//! along the τ-ladder, make the answer admissible and measure its residual in parameter
//! space, and fill the report (docs/kkt.md).

use std::time::Instant;

use nalgebra::DVector;

use super::coupled::CoupledState;
use super::memory::{self, Sizes};
use super::problem::Problem;
use super::theta::Theta;
use super::report::{InputInfo, KktReport, SolveStatus, SolverInfo, SubgradientChoice, TauPoint, REPORT_FORMAT};
use super::settings::{self, support_limit};
use super::{
    data_content_hash, l2, lp, lpgen, net_content_hash, KktError, KktSettings, LpMethod, Norm, SolverMethod, Support,
};
use crate::data::Dataset;
use crate::net::Net;

/// One solved problem at one τ.
struct Solved<'a> {
    problem: Problem<'a>,
    z: Vec<f64>,
    residual: DVector<f64>,
    solver: SolverInfo,
    state: CoupledState,
    /// Rounds, working set and final gap of the LP generation.
    generation: Option<(usize, usize, f64)>,
}

/// Solves at `tau`. `warm` starts the coupled L2 solver; `carry` is the answer at a
/// smaller τ of the ladder, which the LP generation carries over as a second start.
fn solve_at<'a>(
    hat: &Theta<'a>,
    data: &'a Dataset,
    support: &[usize],
    tau: f64,
    s: &KktSettings,
    warm: Option<&CoupledState>,
    carry: Option<(&Problem<'_>, &[f64])>,
) -> Result<Solved<'a>, KktError> {
    let start = Instant::now();
    let sizes = Sizes {
        ns: support.len(),
        k: hat.width(),
        d: hat.dim(),
        params: hat.param_count(),
        amb: 0,
        copy: support.len() != data.m(),
    };
    let pattern_bytes = memory::estimate(
        s.norm,
        s.lp_method,
        sizes,
    );
    memory::check("KKT problem", pattern_bytes, s.max_memory)?;
    let mut p = Problem::build(*hat, data, support, tau, |amb| {
        if amb > s.max_ambiguous {
            return Err(KktError::TooManyAmbiguous { pairs: amb, tau, limit: s.max_ambiguous });
        }
        let sizes = Sizes { amb, ..sizes };
        let what = format!("{} solve at tau = {tau:e} ({amb} ambiguous pairs)", s.norm.name());
        memory::check(&what, memory::estimate(s.norm, s.lp_method, sizes), s.max_memory)
    })?;
    // Building K freed the pattern's pre-activations and products of ns×ns and ns×k.
    memory::return_freed();
    let mut generation = None;
    let (mut z, mut solver, state) = match (s.norm, s.lp_method) {
        (Norm::L2, _) => l2::solve(&mut p, hat, s, warm)?,
        (_, LpMethod::Explicit) => {
            let (z, status) = lp::solve(&p, hat, s.norm, s.time_limit)
                .map_err(|e| KktError::Solver { solver: "microlp", reason: e.to_string() })?;
            let st = CoupledState::cold(&p);
            (z, SolverInfo { method: SolverMethod::Microlp, status, iterations: 0, seconds: 0.0 }, st)
        }
        (norm, LpMethod::Generation) => {
            let (mut z0, _, st) = l2::solve(&mut p, hat, s, warm)?;
            p.project(&mut z0);
            p.release_l2_data();
            memory::return_freed();
            let mut starts = vec![z0];
            if let Some((prev, z)) = carry {
                starts.push(p.carry(prev, z));
            }
            let rows = memory::working_set_cap(p.nvars(), norm);
            let g = lpgen::solve(&p, hat, norm, &starts, (s.lp_max_rounds, rows), s.time_limit);
            // The simplex (its basis inverse and stored rows) is freed: hand it back
            // before the final residual is formed.
            memory::return_freed();
            generation = Some((g.rounds, g.working_set, g.final_gap));
            let method = if norm == Norm::Linf { SolverMethod::RowGeneration } else { SolverMethod::SignWorkingSet };
            (g.z, SolverInfo { method, status: g.status, iterations: g.pivots, seconds: 0.0 }, st)
        }
    };
    p.project(&mut z);
    let residual = p.residual(hat, &z);
    solver.seconds = start.elapsed().as_secs_f64();
    Ok(Solved { problem: p, z, residual, solver, state, generation })
}

/// Finds multipliers λ (and subgradient choices) that certify how close `net` is to a
/// KKT point of the max-margin problem on `data`; see the module docs of
/// [`crate::kkt`] and docs/kkt.md.
///
/// Errors: dimension mismatch, a non-separating network (naming the sample), invalid
/// settings, an empty support, a solve above the memory budget, or a solver failure. A solver
/// that stops early is not an error: the report's `solver.status` says so, and ε is
/// still a true bound for the λ reported.
pub fn certify(net: &Net, data: &Dataset, settings: &KktSettings) -> Result<KktReport, KktError> {
    settings::check(settings)?;
    net.check_data(data)?;
    // Memory the caller freed (and the allocator kept) is handed back first, so that
    // the margins' and the solve's temporaries do not stack on top of it.
    memory::return_freed();
    let (alpha, q_min) = net.normalization(data)?;
    // θ̂ is read from `net` and α, never copied.
    let hat = Theta::new(net, alpha);
    // The margins' pre-activations and transposed weights are freed (here and below).
    memory::return_freed();
    let qhat = hat.margins(data)?;
    memory::return_freed();
    let support: Vec<usize> = match settings.support {
        Support::All => (0..data.m()).collect(),
        Support::Margin { slack } => (0..data.m()).filter(|&i| qhat[i] <= support_limit(slack)).collect(),
    };
    if support.is_empty() {
        let limit = match settings.support {
            Support::Margin { slack } => 1.0 + slack,
            Support::All => f64::INFINITY,
        };
        return Err(KktError::EmptySupport { limit });
    }
    // θ̂ itself is not kept: a P-vector for the whole certificate (the LP generation
    // flattens its own).
    let theta_norm = settings.norm.of(&hat.flatten());
    let main = solve_at(&hat, data, &support, settings.tau, settings, None, None)?;
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
    // The ladder in ascending order of τ, each solve warm-started from the last.
    let ladder = &settings.tau_ladder;
    let mut order: Vec<usize> = (0..ladder.len()).collect();
    order.sort_by(|&a, &b| ladder[a].total_cmp(&ladder[b]));
    let mut points: Vec<Option<TauPoint>> = vec![None; ladder.len()];
    let mut warm: Option<CoupledState> = None;
    // The last solve of the ladder (None: the main solve, once passed).
    let mut last: Option<Solved> = None;
    let mut passed_main = false;
    for idx in order {
        let tau = ladder[idx];
        if tau == settings.tau {
            points[idx] = Some(TauPoint { tau, eps_rel: Some(eps / theta_norm), ambiguous_pairs: p.amb.len(), note: None });
            warm = Some(main.state.clone());
            (last, passed_main) = (None, true);
            continue;
        }
        let carry = match (&last, passed_main) {
            (Some(sv), _) => Some((&sv.problem, &sv.z[..])),
            (None, true) => Some((&main.problem, &main.z[..])),
            (None, false) => None,
        };
        points[idx] = Some(match solve_at(&hat, data, &support, tau, settings, warm.as_ref(), carry) {
            Ok(sv) => {
                warm = Some(sv.state.clone());
                let point = TauPoint {
                    tau,
                    eps_rel: Some(settings.norm.of(&sv.residual) / theta_norm),
                    ambiguous_pairs: sv.problem.amb.len(),
                    note: not_optimal_note(&sv.solver.status),
                };
                last = Some(sv);
                point
            }
            Err(e) => {
                let pairs = if let KktError::TooManyAmbiguous { pairs, .. } = e { pairs } else { 0 };
                TauPoint { tau, eps_rel: None, ambiguous_pairs: pairs, note: Some(e.to_string()) }
            }
        });
    }
    let tau_profile: Vec<TauPoint> = points.into_iter().flatten().collect();
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
        solver: main.solver.clone(),
        rounds: main.generation.map(|g| g.0),
        working_set: main.generation.map(|g| g.1),
        final_gap: main.generation.map(|g| g.2),
        m: data.m(),
        k: net.width(),
        d: net.dim(),
        bias: net.has_bias(),
        params: net.param_count(),
        net: InputInfo { name: None, sha256: None, content_sha256: net_content_hash(net) },
        data: InputInfo { name: None, sha256: None, content_sha256: data_content_hash(data) },
    })
}

/// A τ-profile entry whose solve did not prove optimality says so (its ε_rel is then an
/// upper bound).
fn not_optimal_note(status: &SolveStatus) -> Option<String> {
    match status {
        SolveStatus::Optimal => None,
        other => Some(format!("{}: eps_rel is an upper bound", other.describe())),
    }
}
