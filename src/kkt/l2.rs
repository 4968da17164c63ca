//! The L2 solve of one problem (docs/kkt.md, "Solvers"): with no ambiguous pairs,
//! block-principal-pivoting NNLS on the Gram form with Lawson–Hanson as the fallback;
//! with ambiguous pairs, the coupled active set ([`coupled`]), warm-started from the
//! previous τ of the ladder. A solve that does not prove optimality on a small problem
//! goes to clarabel. Returns the raw (λ, μ) and the solver's honest status.

use clarabel::solver::SolverStatus;

use super::coupled::{self, CoupledOutcome, CoupledState};
use super::nnls::{self, NnlsOutcome};
use super::nnls_gram::LowerGram;
use super::problem::Problem;
use super::qp;
use super::{KktError, KktSettings, L2Solver, SolveStatus, SolverInfo, SolverMethod};
use super::theta::Theta;

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
    let r = qp::solve(p.ns(), &owners, |a, b| p.gram(a, b), c, qp::QpTolerances::certificate(s.time_limit))
        .map_err(|reason| KktError::Solver { solver: "clarabel", reason })?;
    let info = SolverInfo {
        method: SolverMethod::Clarabel,
        status: clarabel_status(r.status),
        iterations: r.iterations as usize,
        seconds: 0.0,
    };
    Ok((r.z, info))
}

/// Largest number of variables for which a non-converged solve falls back to clarabel
/// (its Gram matrix is dense).
const CLARABEL_FALLBACK_VARS: usize = 3000;

/// The coupled solver's partition of an admissible copy of z.
fn state_of(p: &Problem, z: &[f64]) -> CoupledState {
    let mut zp = z.to_vec();
    p.project(&mut zp);
    CoupledState::from_point(p, &zp)
}

/// Solves the L2 problem; returns z (not yet projected), the solver's information and
/// the partition that warm-starts the next τ of a ladder. Without ambiguous pairs the
/// NNLS factorises its free blocks in K's upper triangle ([`Problem::gram`] reads the
/// lower one), hence `&mut`.
pub(crate) fn solve(
    p: &mut Problem,
    hat: &Theta,
    s: &KktSettings,
    warm: Option<&CoupledState>,
) -> Result<(Vec<f64>, SolverInfo, CoupledState), KktError> {
    let c = p.linear_term();
    let n = p.nvars();
    if s.l2_solver == L2Solver::Clarabel {
        let (z, info) = run_clarabel(p, &c, s)?;
        let st = state_of(p, &z);
        return Ok((z, info, st));
    }
    let (z, info) = if p.amb.is_empty() {
        let mut g = LowerGram::new(&mut p.kmat);
        let mut r = nnls::solve(n, &mut g, &c, s.nnls_max_iter);
        let mut method = SolverMethod::BlockPivotingNnls;
        if r.outcome != NnlsOutcome::Converged {
            // Block pivoting can cycle, or meet a singular free block, on a singular Gram
            // matrix: fall back to Lawson–Hanson, keep the better of the two points.
            let lh = nnls::solve_lawson_hanson(n, &mut g, &c, 3 * n + 100);
            if lh.outcome == NnlsOutcome::Converged || p.residual(hat, &lh.z).norm() < p.residual(hat, &r.z).norm() {
                r = nnls::NnlsResult { iterations: r.iterations + lh.iterations, ..lh };
                method = SolverMethod::LawsonHansonNnls;
            }
        }
        (r.z, SolverInfo { method, status: nnls_status(r.outcome), iterations: r.iterations, seconds: 0.0 })
    } else {
        let start = warm.cloned().unwrap_or_else(|| CoupledState::cold(p));
        let r = coupled::solve(p, &start, s.nnls_max_iter);
        let status = match r.outcome {
            CoupledOutcome::Converged => SolveStatus::Optimal,
            CoupledOutcome::MaxIterations => {
                SolveStatus::NotOptimal { reason: "coupled active set: iteration budget ran out".into() }
            }
            CoupledOutcome::Cycling => SolveStatus::NotOptimal {
                reason: "coupled active set: block pivoting cycled (singular neuron blocks)".into(),
            },
            CoupledOutcome::NotStationary(g) => SolveStatus::NotOptimal {
                reason: format!("coupled active set: singular subproblem, stationarity {g:.1e} of the gradient scale"),
            },
        };
        let info = SolverInfo { method: SolverMethod::CoupledActiveSet, status, iterations: r.iterations, seconds: 0.0 };
        return fallback(p, hat, s, &c, r.z, info, SolverMethod::CoupledActiveSetClarabel).map(|(z, i)| {
            let st = if i.method == SolverMethod::CoupledActiveSet { r.state } else { state_of(p, &z) };
            (z, i, st)
        });
    };
    let combined = match info.method {
        SolverMethod::LawsonHansonNnls => SolverMethod::LawsonHansonNnlsClarabel,
        _ => SolverMethod::BlockPivotingNnlsClarabel,
    };
    let (z, info) = fallback(p, hat, s, &c, z, info, combined)?;
    let st = state_of(p, &z);
    Ok((z, info, st))
}

/// A solve that did not prove optimality on a small problem goes to clarabel; the
/// better admissible point is kept.
fn fallback(
    p: &Problem,
    hat: &Theta,
    s: &KktSettings,
    c: &[f64],
    z: Vec<f64>,
    info: SolverInfo,
    combined: SolverMethod,
) -> Result<(Vec<f64>, SolverInfo), KktError> {
    if info.status == SolveStatus::Optimal || p.nvars() > CLARABEL_FALLBACK_VARS {
        return Ok((z, info));
    }
    let mut zn = z;
    p.project(&mut zn);
    let (mut zq, info_q) = run_clarabel(p, c, s)?;
    p.project(&mut zq);
    if p.residual(hat, &zq).norm() <= p.residual(hat, &zn).norm() {
        Ok((zq, SolverInfo { method: combined, ..info_q }))
    } else {
        Ok((zn, SolverInfo { method: combined, ..info }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kkt::lp::lp_status;
    use good_lp::SolutionStatus;

    #[test]
    fn only_proofs_are_optimal() {
        assert_eq!(clarabel_status(SolverStatus::Solved), SolveStatus::Optimal);
        assert_eq!(clarabel_status(SolverStatus::AlmostSolved), SolveStatus::ReducedAccuracy);
        for st in [SolverStatus::AlmostPrimalInfeasible, SolverStatus::AlmostDualInfeasible, SolverStatus::MaxIterations] {
            assert!(matches!(clarabel_status(st), SolveStatus::NotOptimal { .. }), "{st:?}");
        }
        assert_eq!(lp_status(SolutionStatus::Optimal), SolveStatus::Optimal);
        assert!(matches!(lp_status(SolutionStatus::TimeLimit), SolveStatus::NotOptimal { .. }));
        assert!(matches!(lp_status(SolutionStatus::GapLimit), SolveStatus::NotOptimal { .. }));
    }
}
