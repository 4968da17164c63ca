//! The L∞ and L1 certificates at scale, without the P×n constraint matrix
//! (docs/kkt.md, "LP norms"). Both keep a small *working set* W of parameter rows and
//! solve a master LP on it with good_lp + microlp; the full residual θ̂ − A z is then
//! recomputed by one structured product ([`Problem::residual`]).
//!
//! * L∞ (row generation): the master min t s.t. |θ̂_p − A_p z| ≤ t (p ∈ W) is a
//!   relaxation, so its t is a lower bound on the smallest ε, and the recomputed
//!   max_p |r_p| of its (admissible) z an upper bound. Rows violated beyond t are added
//!   until the two agree within 1e-12·‖θ̂‖∞. W is seeded with the largest entries of the
//!   residual at the L2 solution.
//! * L1 (the primal's structure): rows outside W enter the objective linearised with a
//!   fixed sign s_p, Σ_{p∈W} |r_p| + Σ_{p∉W} s_p r_p ≤ ‖r‖₁, so the master's value is
//!   again a lower bound, exact where the signs agree. Rows whose sign disagrees are
//!   added until the recomputed ‖r‖₁ is within 1e-12·‖θ̂‖₁ of the master's value. W is
//!   seeded with the smallest residual entries at the L2 solution (where signs can flip).
//!
//! If a master fails or the loop does not close within its round limit, the status
//! says so and ε is the best upper bound found, not a certificate of minimality.

use good_lp::{variable, Expression, ProblemVariables, Solution, SolverModel, Variable, WithTimeLimit};
use nalgebra::{DMatrix, DVector};

use super::lp::lp_status;
use super::problem::Problem;
use super::{Norm, SolveStatus};
use crate::net::Net;

/// What the generation loop found.
pub(crate) struct GenOutcome {
    /// Admissible (λ, μ).
    pub z: Vec<f64>,
    /// `Optimal` when the loop closed.
    pub status: SolveStatus,
    /// Master LPs solved.
    pub rounds: usize,
    /// Rows in the final working set.
    pub working_set: usize,
    /// ε minus the last master's lower bound.
    pub final_gap: f64,
}

/// Row access and structured products of the constraint matrix A (P rows, one per
/// parameter in the layout of [`Net::flatten`]; one column per variable of z).
pub(crate) struct Rows<'a> {
    p: &'a Problem,
    d: usize,
    amb_by_neuron: Vec<Vec<usize>>,
}

impl<'a> Rows<'a> {
    /// Indexes the ambiguous pairs by neuron.
    pub fn new(p: &'a Problem, d: usize) -> Rows<'a> {
        let mut amb_by_neuron = vec![Vec::new(); p.k];
        for (t, &(_, j)) in p.amb.iter().enumerate() {
            amb_by_neuron[j].push(t);
        }
        Rows { p, d, amb_by_neuron }
    }

    /// Row `idx` of A as (variable, coefficient): r_idx = θ̂_idx − Σ coef·z_var.
    pub fn row(&self, idx: usize, out: &mut Vec<(usize, f64)>) {
        out.clear();
        let p = self.p;
        let (ns, k, d) = (p.ns(), p.k, self.d);
        let mut push = |var: usize, coef: f64| {
            if coef != 0.0 {
                out.push((var, coef));
            }
        };
        if idx < k * d || (p.bias && idx < k * d + k) {
            let (j, x_of) = if idx < k * d { (idx / d, Some(idx % d)) } else { (idx - k * d, None) };
            let x = |a: usize| x_of.map_or(1.0, |c| p.xs[(a, c)]);
            for a in 0..ns {
                if p.on[a * k + j] {
                    push(a, p.v[j] * p.y[a] * x(a));
                }
            }
            for &t in &self.amb_by_neuron[j] {
                let a = p.amb[t].0;
                push(ns + t, p.v[j] * p.y[a] * x(a));
            }
        } else {
            let j = idx - k * d - if p.bias { k } else { 0 };
            for a in 0..ns {
                push(a, p.y[a] * p.sig[(a, j)]);
            }
        }
    }

    /// Aᵀ w for a P-vector w, by one ns×d by d×k product.
    pub fn transpose_times(&self, w: &DVector<f64>) -> Vec<f64> {
        let p = self.p;
        let (ns, k, d) = (p.ns(), p.k, self.d);
        let ww = DMatrix::from_fn(k, d, |j, c| w[j * d + c]);
        let g = &p.xs * ww.transpose();
        let wb = |j: usize| if p.bias { w[k * d + j] } else { 0.0 };
        let voff = k * d + if p.bias { k } else { 0 };
        let mut out = vec![0.0; p.nvars()];
        for (a, o) in out.iter_mut().enumerate().take(ns) {
            let mut s = 0.0;
            for j in 0..k {
                if p.on[a * k + j] {
                    s += p.v[j] * (g[(a, j)] + wb(j));
                }
                s += p.sig[(a, j)] * w[voff + j];
            }
            *o = p.y[a] * s;
        }
        for (t, &(a, j)) in p.amb.iter().enumerate() {
            out[ns + t] = p.y[a] * p.v[j] * (g[(a, j)] + wb(j));
        }
        out
    }
}

/// One master LP: returns the raw z and the master's optimal value. The problem is
/// solved scaled by `LP_SCALE`/‖θ̂‖∞ (θ̂, z and the value scale together, the residual
/// being linear in (θ̂, z)), so that microlp's absolute tolerance of 1e-10 becomes a
/// relative one of about 1e-15.
#[allow(clippy::too_many_arguments)]
fn master(
    rows: &Rows,
    theta: &DVector<f64>,
    wset: &[usize],
    norm: Norm,
    linear: &[f64],
    constant: f64,
    zmax: f64,
    time_limit: f64,
) -> Result<(Vec<f64>, f64), String> {
    let p = rows.p;
    let n = p.nvars();
    let scale = super::lp::scale_of(theta);
    let mut vars = ProblemVariables::new();
    let z: Vec<Variable> = (0..n).map(|_| vars.add(variable().min(0.0).max(zmax * scale))).collect();
    let (objective, bounds): (Expression, Vec<Variable>) = match norm {
        Norm::Linf => {
            let t = vars.add(variable().min(0.0));
            (Expression::from(t), vec![t; wset.len()])
        }
        _ => {
            let ts: Vec<Variable> = (0..wset.len()).map(|_| vars.add(variable().min(0.0))).collect();
            let mut obj = Expression::with_capacity(wset.len() + n);
            for &t in &ts {
                obj.add_mul(1.0, t);
            }
            for (&var, &g) in z.iter().zip(linear) {
                if g != 0.0 {
                    obj.add_mul(-g, var);
                }
            }
            (obj, ts)
        }
    };
    let mut model = vars.minimise(objective.clone()).using(good_lp::microlp).with_time_limit(time_limit);
    let mut buf = Vec::new();
    for (&idx, &t) in wset.iter().zip(&bounds) {
        rows.row(idx, &mut buf);
        let mut e = Expression::from(theta[idx] * scale);
        for &(var, coef) in &buf {
            e.add_mul(-coef, z[var]);
        }
        model.add_constraint(e.clone().leq(t));
        model.add_constraint((-e).leq(t));
    }
    for (t, &(a, _)) in p.amb.iter().enumerate() {
        model.add_constraint(Expression::from(z[p.ns() + t]).leq(z[a]));
    }
    let sol = model.solve().map_err(|e| format!("master LP: {e}"))?;
    if let SolveStatus::NotOptimal { reason } = lp_status(sol.status()) {
        return Err(format!("master LP: {reason}"));
    }
    let zs: Vec<f64> = z.iter().map(|&v| sol.value(v) / scale).collect();
    Ok((zs, sol.eval(&objective) / scale + constant))
}

/// Polishes a master solution on its active set: microlp's answer is accurate to about
/// 1e-9 relative, short of the 1e-12 closing test. The active set of the master's
/// optimal vertex (tight rows of W, positive variables, pairs at μ = λ) is read off
/// the solution and its equations solved once more in dense least squares; the
/// polished point replaces the master's when it is feasible for the master (z ≥ 0 and
/// every row of W within the new value). Returns (z, the master's value at z).
fn polish(rows: &Rows, theta: &DVector<f64>, wset: &[usize], norm: Norm, z: &[f64], lower: f64, lin: &(Vec<f64>, f64)) -> Option<(Vec<f64>, f64)> {
    let p = rows.p;
    let (ns, n) = (p.ns(), p.nvars());
    let top_theta = theta.iter().fold(0.0f64, |a, t| a.max(t.abs()));
    let zt = z.iter().fold(0.0f64, |a, &b| a.max(b));
    let dz = 1e-9 * zt.max(f64::MIN_POSITIVE);
    // Unknowns: each positive λ_a with its pairs at μ = λ_a merged in, each pair strictly
    // between its bounds; then t for L∞.
    let mut col_of = vec![usize::MAX; n];
    let mut ncols = 0;
    for a in 0..ns {
        if z[a] > dz {
            col_of[a] = ncols;
            ncols += 1;
        }
    }
    for (t, &(a, _)) in p.amb.iter().enumerate() {
        let mu = z[ns + t];
        if col_of[a] != usize::MAX && mu > dz {
            if mu >= z[a] - dz {
                col_of[ns + t] = col_of[a];
            } else {
                col_of[ns + t] = ncols;
                ncols += 1;
            }
        }
    }
    let with_t = norm == Norm::Linf;
    let nc = ncols + usize::from(with_t);
    if nc == 0 || nc > 1500 {
        return None;
    }
    let mut buf = Vec::new();
    let r_of = |idx: usize, zz: &[f64], buf: &mut Vec<(usize, f64)>| {
        rows.row(idx, buf);
        theta[idx] - buf.iter().map(|&(v, c)| c * zz[v]).sum::<f64>()
    };
    let ident = 1e-7 * top_theta;
    let mut eq_rows: Vec<(usize, f64)> = Vec::new();
    for &idx in wset {
        let r = r_of(idx, z, &mut buf);
        match norm {
            Norm::Linf if r.abs() >= lower - ident => eq_rows.push((idx, if r < 0.0 { -1.0 } else { 1.0 })),
            Norm::L1 if r.abs() <= ident => eq_rows.push((idx, 0.0)),
            _ => {}
        }
    }
    if eq_rows.len() < nc || eq_rows.len() > 4 * nc + 64 {
        return None;
    }
    let mut mat = DMatrix::zeros(eq_rows.len(), nc);
    let mut rhs = DVector::zeros(eq_rows.len());
    for (r, &(idx, sg)) in eq_rows.iter().enumerate() {
        rows.row(idx, &mut buf);
        let s = if with_t { sg } else { 1.0 };
        for &(v, c) in &buf {
            if col_of[v] != usize::MAX {
                mat[(r, col_of[v])] += s * c;
            }
        }
        if with_t {
            mat[(r, ncols)] = 1.0;
        }
        rhs[r] = s * theta[idx];
    }
    let sol = mat.svd(true, true).solve(&rhs, 1e-14).ok()?;
    let mut zp = vec![0.0; n];
    for (v, &c) in col_of.iter().enumerate() {
        if c != usize::MAX {
            zp[v] = sol[c];
        }
    }
    if zp.iter().any(|&v| v < -1e-12 * zt) {
        return None;
    }
    p.project(&mut zp);
    let mut row_sum = 0.0;
    let mut row_max = 0.0f64;
    for &idx in wset {
        let r = r_of(idx, &zp, &mut buf).abs();
        row_sum += r;
        row_max = row_max.max(r);
    }
    match norm {
        Norm::Linf => {
            let t = sol[ncols];
            (row_max <= t + 1e-14 * top_theta).then_some((zp, t))
        }
        _ => {
            let value = row_sum + lin.1 - lin.0.iter().zip(&zp).map(|(g, v)| g * v).sum::<f64>();
            Some((zp, value))
        }
    }
}

fn sign(x: f64) -> f64 {
    if x < 0.0 {
        -1.0
    } else {
        1.0
    }
}

/// Runs the generation loop for `norm` (L∞ or L1) from the admissible L2 point `z0`.
pub(crate) fn solve(p: &Problem, hat: &Net, norm: Norm, z0: &[f64], max_rounds: usize, time_limit: f64) -> GenOutcome {
    let rows = Rows::new(p, hat.dim());
    let theta = hat.flatten();
    let nparams = theta.len();
    let n = p.nvars();
    let tol = 1e-12 * norm.of(&theta);
    let r0 = p.residual(hat, z0);
    let mut best = (z0.to_vec(), norm.of(&r0));
    // Seed: the largest (L∞) or smallest (L1) residual entries.
    let mut order: Vec<usize> = (0..nparams).collect();
    match norm {
        Norm::Linf => order.sort_by(|&a, &b| r0[b].abs().total_cmp(&r0[a].abs())),
        _ => order.sort_by(|&a, &b| r0[a].abs().total_cmp(&r0[b].abs())),
    }
    let seed = nparams.min((3 * n + 3).max(64));
    let mut in_w = vec![false; nparams];
    let mut wset: Vec<usize> = order[..seed].to_vec();
    for &i in &wset {
        in_w[i] = true;
    }
    let batch = (2 * n + 2).max(32);
    let mut signs: Vec<f64> = r0.iter().map(|&r| sign(r)).collect();
    let zscale = z0.iter().fold(hat.param_norm_sq() / 2.0, |a, &b| a.max(b)).max(f64::MIN_POSITIVE);
    let mut zmax = 1e4 * zscale;
    let mut rounds = 0;
    let mut final_gap = f64::INFINITY;
    let not_closed = |why: String| SolveStatus::NotOptimal {
        reason: format!("{why}; eps is an upper bound, not a certificate that it is minimal"),
    };
    let status = loop {
        if rounds >= max_rounds {
            break not_closed(format!("the generation did not close within {max_rounds} rounds (gap {final_gap:e})"));
        }
        rounds += 1;
        let (linear, constant) = if norm == Norm::L1 {
            let w = DVector::from_fn(nparams, |i, _| if in_w[i] { 0.0 } else { signs[i] });
            (rows.transpose_times(&w), w.dot(&theta))
        } else {
            (Vec::new(), 0.0)
        };
        let (zraw, lower) = match master(&rows, &theta, &wset, norm, &linear, constant, zmax, time_limit) {
            Ok(x) => x,
            Err(e) => break not_closed(e),
        };
        let at_box = zraw.iter().any(|&v| v >= zmax * (1.0 - 1e-9));
        let mut z = zraw;
        p.project(&mut z);
        let mut r = p.residual(hat, &z);
        let mut eps = norm.of(&r);
        let mut lower = lower;
        if eps - lower > tol && !at_box {
            let lin = (linear, constant);
            if let Some((zp, value)) = polish(&rows, &theta, &wset, norm, &z, lower, &lin) {
                let rp = p.residual(hat, &zp);
                let ep = norm.of(&rp);
                // Accept only a polish that stays on the master's optimum (its value no
                // more than microlp's optimal value, up to microlp's accuracy).
                let slack = 1e-9 * norm.of(&theta);
                if ep - value <= eps - lower && value <= lower + slack {
                    (z, r, eps, lower) = (zp, rp, ep, value);
                }
            }
        }
        final_gap = eps - lower;
        if eps < best.1 {
            best = (z, eps);
        }
        if final_gap <= tol && !at_box {
            break SolveStatus::Optimal;
        }
        // Rows to add, most violated first.
        let mut viol: Vec<(usize, f64)> = match norm {
            Norm::Linf => (0..nparams).filter(|&i| !in_w[i] && r[i].abs() > lower + tol).map(|i| (i, r[i].abs())).collect(),
            _ => (0..nparams)
                .filter(|&i| !in_w[i])
                .map(|i| (i, r[i].abs() - signs[i] * r[i]))
                .filter(|&(_, c)| c > 0.0)
                .collect(),
        };
        if viol.is_empty() {
            if at_box {
                zmax *= 1e3;
                continue;
            }
            break not_closed(format!("the master LP is not accurate enough to close the gap {final_gap:e}"));
        }
        viol.sort_by(|a, b| b.1.total_cmp(&a.1));
        for &(i, _) in viol.iter().take(batch) {
            in_w[i] = true;
            wset.push(i);
        }
        if norm == Norm::L1 {
            for i in 0..nparams {
                if !in_w[i] && r[i] != 0.0 {
                    signs[i] = sign(r[i]);
                }
            }
        }
    };
    let (z, _) = best;
    GenOutcome { z, status, rounds, working_set: wset.len(), final_gap }
}
