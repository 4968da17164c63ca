//! The L2 solve of one problem: block-principal-pivoting NNLS on the Gram form with
//! Lawson–Hanson as the fallback, and clarabel when the ambiguity constraints μ ≤ λ
//! bind (docs/kkt.md, "Solvers"). Returns the raw (λ, μ) and the solver's honest status.

use clarabel::solver::SolverStatus;

use super::nnls::{self, NnlsOutcome};
use super::problem::Problem;
use super::qp;
use super::{KktError, KktSettings, L2Solver, SolveStatus, SolverInfo, SolverMethod};
use crate::net::Net;

/// Maps clarabel's status to ours: only `Solved` is a proof; the almost-statuses are
/// reduced-accuracy outcomes, never optimal nor infeasible (the QP is always feasible
/// at z = 0, so an infeasibility verdict is a numerical failure).
pub(crate) fn clarabel_status(status: SolverStatus) -> SolveStatus {
    match status {
        SolverStatus::Solved => SolveStatus::Optimal,
        SolverStatus::AlmostSolved => SolveStatus::ReducedAccuracy,
        SolverStatus::AlmostPrimalInfeasible | SolverStatus::AlmostDualInfeasible => SolveStatus::NotOptimal {
            reason: format!("clarabel status {status:?} (reduced accuracy; the QP is feasible, so a numerical failure)"),
        },
        other => SolveStatus::NotOptimal { reason: format!("clarabel status {other:?}") },
    }
}

/// The status an NNLS outcome earns.
fn nnls_status(outcome: NnlsOutcome) -> SolveStatus {
    match outcome {
        NnlsOutcome::Converged => SolveStatus::Optimal,
        NnlsOutcome::MaxIterations => SolveStatus::NotOptimal { reason: "NNLS iteration budget ran out".into() },
        NnlsOutcome::Ridge => SolveStatus::NotOptimal {
            reason: "NNLS free block numerically singular: a ridge regularised it, so the point is not proved optimal"
                .into(),
        },
        NnlsOutcome::ZeroFallback => SolveStatus::NotOptimal {
            reason: "NNLS free block could not be factorised even with a ridge; its variables were set to 0".into(),
        },
    }
}

fn run_clarabel(p: &Problem, c: &[f64], s: &KktSettings) -> Result<(Vec<f64>, SolverInfo), KktError> {
    let owners: Vec<usize> = p.amb.iter().map(|&(a, _)| a).collect();
    let r = qp::solve(p.ns(), &owners, |a, b| p.gram(a, b), c, s.time_limit)
        .map_err(|reason| KktError::Solver { solver: "clarabel", reason })?;
    let info = SolverInfo {
        method: SolverMethod::Clarabel,
        status: clarabel_status(r.status),
        iterations: r.iterations as usize,
        seconds: 0.0,
    };
    Ok((r.z, info))
}

/// Solves the L2 problem; the returned z is not yet projected onto the admissible set.
pub(crate) fn solve(p: &Problem, hat: &Net, s: &KktSettings) -> Result<(Vec<f64>, SolverInfo), KktError> {
    let c = p.linear_term();
    let n = p.nvars();
    let ns = p.ns();
    if s.l2_solver == L2Solver::Clarabel {
        return run_clarabel(p, &c, s);
    }
    let mut r = nnls::solve(n, |a, b| p.gram(a, b), &c, s.nnls_max_iter);
    let mut method = SolverMethod::BlockPivotingNnls;
    if r.outcome != NnlsOutcome::Converged {
        // Block pivoting can cycle, or meet a singular free block, on a singular Gram
        // matrix: fall back to Lawson–Hanson, keep the better of the two points.
        let lh = nnls::solve_lawson_hanson(n, |a, b| p.gram(a, b), &c, 3 * n + 100);
        let (mut za, mut zb) = (r.z.clone(), lh.z.clone());
        p.project(&mut za);
        p.project(&mut zb);
        if lh.outcome == NnlsOutcome::Converged || p.residual(hat, &zb).norm() < p.residual(hat, &za).norm() {
            r = nnls::NnlsResult { iterations: r.iterations + lh.iterations, ..lh };
            method = SolverMethod::LawsonHansonNnls;
        }
    }
    let violated = p.amb.iter().enumerate().any(|(t, &(a, _))| r.z[ns + t] > r.z[a] * (1.0 + 1e-12));
    let info = SolverInfo { method, status: nnls_status(r.outcome), iterations: r.iterations, seconds: 0.0 };
    let converged = r.outcome == NnlsOutcome::Converged;
    if !violated && (converged || n > s.qp_max_vars) {
        return Ok((r.z, info));
    }
    if n > s.qp_max_vars {
        let status = SolveStatus::NotOptimal {
            reason: format!(
                "ambiguity constraints bind and {n} variables exceed qp_max_vars = {}; projected NNLS point",
                s.qp_max_vars
            ),
        };
        return Ok((r.z, SolverInfo { status, ..info }));
    }
    let combined = match method {
        SolverMethod::LawsonHansonNnls => SolverMethod::LawsonHansonNnlsClarabel,
        _ => SolverMethod::BlockPivotingNnlsClarabel,
    };
    let mut zn = r.z.clone();
    p.project(&mut zn);
    let (mut zq, info_q) = run_clarabel(p, &c, s)?;
    p.project(&mut zq);
    let en = p.residual(hat, &zn).norm();
    let eq = p.residual(hat, &zq).norm();
    if eq <= en {
        Ok((zq, SolverInfo { method: combined, ..info_q }))
    } else {
        let status =
            SolveStatus::NotOptimal { reason: "clarabel did not improve on the projected NNLS point".into() };
        Ok((zn, SolverInfo { method: combined, status, iterations: info.iterations, seconds: 0.0 }))
    }
}
