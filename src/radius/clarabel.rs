//! The Clarabel backend of the per-node projections ([`clarabel_project`]) and the
//! plain dual bound of any multipliers ([`dual_distance`]). Clarabel's statuses are
//! mapped without promotion: only `Solved` is optimal, and `PrimalInfeasible` counts
//! only with a certificate that [`farkas_holds`] checks.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus};

use super::qp::{farkas_holds, QpStatus};
use super::node::dot;


/// Projection of `x0` onto `{z : A z ≤ c}` (rows of `a` are the normals) with Clarabel.
/// Returns the status, the projection and the multipliers (`None` when Clarabel
/// reports neither a solution nor infeasibility).
pub fn clarabel_project(x0: &[f64], a: &[Vec<f64>], c: &[f64]) -> (QpStatus, Vec<f64>, Vec<f64>) {
    let d = x0.len();
    let m = a.len();
    let p = CscMatrix::identity(d);
    let q: Vec<f64> = x0.iter().map(|t| -t).collect();
    // Column-major dense → CSC.
    let mut colptr = Vec::with_capacity(d + 1);
    let mut rowval = Vec::new();
    let mut nzval = Vec::new();
    colptr.push(0);
    for col in 0..d {
        for (row, ar) in a.iter().enumerate() {
            if ar[col] != 0.0 {
                rowval.push(row);
                nzval.push(ar[col]);
            }
        }
        colptr.push(rowval.len());
    }
    let amat = CscMatrix::new(m, d, colptr, rowval, nzval);
    let cones = [NonnegativeConeT(m)];
    let settings = match DefaultSettingsBuilder::default()
        .verbose(false)
        .tol_gap_abs(1e-11)
        .tol_gap_rel(1e-11)
        .tol_feas(1e-11)
        .build()
    {
        Ok(s) => s,
        Err(_) => return (QpStatus::IterationLimit, x0.to_vec(), vec![0.0; m]),
    };
    let mut solver = match DefaultSolver::new(&p, &q, &amat, c, &cones, settings) {
        Ok(s) => s,
        Err(_) => return (QpStatus::IterationLimit, x0.to_vec(), vec![0.0; m]),
    };
    solver.solve();
    let lambda: Vec<f64> = solver.solution.z.iter().map(|t| t.max(0.0)).collect();
    let status = match solver.solution.status {
        SolverStatus::Solved => QpStatus::Optimal,
        // Clarabel's infeasibility certificate is its z: checked, never trusted.
        SolverStatus::PrimalInfeasible if farkas_holds(a, c, &lambda) => QpStatus::Infeasible,
        SolverStatus::PrimalInfeasible | SolverStatus::AlmostSolved | SolverStatus::AlmostPrimalInfeasible => QpStatus::ReducedAccuracy,
        _ => QpStatus::IterationLimit,
    };
    (status, solver.solution.x.clone(), lambda)
}

/// The dual bound `sqrt(2·max(0, D(λ)))` for multipliers `lambda` on `A z ≤ c`.
pub fn dual_distance(x0: &[f64], a: &[Vec<f64>], c: &[f64], lambda: &[f64]) -> f64 {
    let mut w = vec![0.0; x0.len()];
    let mut lin = 0.0;
    for ((ar, &ci), &l) in a.iter().zip(c).zip(lambda) {
        if l > 0.0 {
            for (wk, ak) in w.iter_mut().zip(ar) {
                *wk += l * ak;
            }
            lin += l * (ci - dot(ar, x0));
        }
    }
    let dval = -0.5 * dot(&w, &w) - lin;
    (2.0 * dval.max(0.0)).sqrt()
}

