//! The L∞ and L1 problems as linear programs, modelled with good_lp and solved with its
//! pure-Rust microlp backend:
//!
//! * L∞: minimise t subject to −t ≤ (θ̂ − A z)_p ≤ t for every parameter p;
//! * L1: minimise Σ_p t_p subject to −t_p ≤ (θ̂ − A z)_p ≤ t_p;
//!
//! with z = (λ, μ) ≥ 0 and μ_t ≤ λ_a for each ambiguous pair t = (a, j). The matrix A
//! (P rows, one per parameter) is written sparsely, all at once: this is the reference
//! ([`super::LpMethod::Explicit`]) that the generation of `lpgen` is tested against; its
//! memory is checked by the estimate of `memory` before anything is built.

use good_lp::{
    variable, Expression, ProblemVariables, ResolutionError, Solution, SolutionStatus, SolverModel, Variable,
    WithTimeLimit,
};

use super::problem::{blocks, Problem};
use super::{Norm, SolveStatus};
use super::theta::Theta;

/// The factor by which the LPs are solved scaled: ‖θ̂‖∞ becomes 1e5, so that microlp's
/// absolute tolerance (1e-10) is about 1e-15 relative.
pub(crate) fn scale_of(theta: &nalgebra::DVector<f64>) -> f64 {
    let top = theta.iter().fold(0.0f64, |a, t| a.max(t.abs()));
    if top > 0.0 && top.is_finite() {
        1e5 / top
    } else {
        1.0
    }
}

/// The status good_lp reports for a solution (not inferred from the wall clock).
pub(crate) fn lp_status(status: SolutionStatus) -> SolveStatus {
    match status {
        SolutionStatus::Optimal => SolveStatus::Optimal,
        SolutionStatus::TimeLimit => SolveStatus::NotOptimal { reason: "LP time limit reached".into() },
        SolutionStatus::GapLimit => SolveStatus::NotOptimal { reason: "LP stopped at its gap limit".into() },
    }
}

/// Solves the LP; returns z = (λ, μ) and the solver's status.
pub(crate) fn solve(
    p: &Problem,
    hat: &Theta,
    norm: Norm,
    time_limit: f64,
) -> Result<(Vec<f64>, SolveStatus), ResolutionError> {
    let (ns, k) = (p.ns(), p.k);
    let d = hat.dim();
    let mut vars = ProblemVariables::new();
    let z: Vec<Variable> = (0..p.nvars()).map(|_| vars.add(variable().min(0.0))).collect();
    let theta = hat.flatten();
    let scale = scale_of(&theta);
    let nparams = theta.len();
    // Residual expressions, one per parameter.
    let mut rows: Vec<Expression> = theta.iter().map(|&t| Expression::from(t * scale)).collect();
    // Per neuron: the samples that contribute to its (w_j, b_j) block, with variable.
    let mut contrib: Vec<Vec<(usize, Variable)>> = vec![Vec::new(); k];
    for (a, &za) in z.iter().take(ns).enumerate() {
        for (j, list) in contrib.iter_mut().enumerate() {
            if p.on.contains(a * k + j) {
                list.push((a, za));
            }
        }
    }
    for (t, &(a, j)) in p.amb.iter().enumerate() {
        contrib[j].push((a, z[ns + t]));
    }
    for (j, list) in contrib.iter().enumerate() {
        for &(a, var) in list {
            let coef = p.v[j] * p.y[a];
            if coef == 0.0 {
                continue;
            }
            for c in 0..d {
                let x = p.xs[(a, c)];
                if x != 0.0 {
                    rows[j * d + c].add_mul(-coef * x, var);
                }
            }
            if p.bias {
                rows[k * d + j].add_mul(-coef, var);
            }
        }
    }
    let voff = k * d + if p.bias { k } else { 0 };
    for (j0, bw) in blocks(k) {
        let sig = p.sig_block(j0, bw);
        for (a, &za) in z.iter().take(ns).enumerate() {
            for l in 0..bw {
                let s = sig[(a, l)];
                if s > 0.0 {
                    rows[voff + j0 + l].add_mul(-p.y[a] * s, za);
                }
            }
        }
    }
    let (objective, bounds): (Expression, Vec<Variable>) = match norm {
        Norm::Linf => {
            let t = vars.add(variable().min(0.0));
            (Expression::from(t), vec![t; nparams])
        }
        _ => {
            let ts: Vec<Variable> = (0..nparams).map(|_| vars.add(variable().min(0.0))).collect();
            let obj = ts.iter().fold(Expression::with_capacity(nparams), |mut e, &t| {
                e.add_mul(1.0, t);
                e
            });
            (obj, ts)
        }
    };
    let mut model = vars.minimise(objective).using(good_lp::microlp).with_time_limit(time_limit);
    for (row, &t) in rows.into_iter().zip(&bounds) {
        model.add_constraint(row.clone().leq(t));
        model.add_constraint((-row).leq(t));
    }
    for (t, &(a, _)) in p.amb.iter().enumerate() {
        model.add_constraint(Expression::from(z[ns + t]).leq(z[a]));
    }
    let sol = model.solve()?;
    Ok((z.iter().map(|&var| sol.value(var) / scale).collect(), lp_status(sol.status())))
}
