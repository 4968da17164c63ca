//! Euclidean projection onto a polyhedron, `min ½‖z − x₀‖² s.t. a_iᵀ z ≤ c_i`.
//!
//! Two backends:
//!
//! * [`DualActiveSet`] — the dual active-set method of Goldfarb & Idnani (1983)
//!   specialised to the identity Hessian. It starts from the unconstrained minimiser
//!   `z = x₀`, adds one violated constraint at a time, and keeps the multipliers λ ≥ 0
//!   (dual feasibility) throughout, so constraints may be added *after* a solve (cutting
//!   planes) and the solve simply continues. The active normals are kept in a QR
//!   factorisation updated by Gram–Schmidt (add) and Givens rotations (drop).
//!   Infeasibility is reported only with a Farkas certificate that [`farkas_holds`]
//!   checks (a violated constraint that is a non-positive combination of active ones,
//!   exactly up to the rounding of the check); a nearly dependent constraint without
//!   one is an ordinary (long) step.
//! * [`clarabel_project`] — the interior-point solver Clarabel on the same QP, used as
//!   a fallback and as an independent reference.
//!
//! Both report the multipliers, so that a caller can evaluate the **dual bound**
//! `D(λ) = −½‖Σ λ_i a_i‖² − Σ λ_i (c_i − a_iᵀ x₀)`, which bounds `½ dist²` from below
//! for *any* λ ≥ 0 (weak duality) — a certified lower bound even when a solve stops
//! early.

// `!(a <= b)` on purpose: a NaN must fail every check.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub use super::clarabel::{clarabel_project, dual_distance};
use super::node::dot;

/// Outcome of a projection. Only `Optimal` and `Infeasible` are verdicts; the other
/// two say that the answer is approximate, and a caller may use only the dual bound of
/// the multipliers (which holds for any λ ≥ 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QpStatus {
    /// Every constraint holds to the tolerance; the point is the projection.
    Optimal,
    /// The constraints have no common point: a Farkas certificate y was found and
    /// checked by [`farkas_holds`] (y ≥ 0, `Aᵀy = 0` within its rounding bound,
    /// `eᵀy < 0` beyond it).
    Infeasible,
    /// The iteration cap was hit; only the dual bound is meaningful.
    IterationLimit,
    /// The solver answered at reduced accuracy (Clarabel's `AlmostSolved` and
    /// `AlmostPrimalInfeasible`, an infeasibility claim whose certificate fails the
    /// check, or a violated constraint numerically dependent on the active ones with no
    /// checkable certificate). Never a proof of anything.
    ReducedAccuracy,
}

const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;

/// `γ_n = n·u / (1 − n·u)` with `u = 2⁻⁵³`: a sum of n products computed in floating
/// point is within `γ_n · Σ|terms|` of the exact sum (Higham, *Accuracy and Stability of
/// Numerical Algorithms*, §3.1). One extra `n` covers the products.
fn gamma(n: usize) -> f64 {
    let nu = (n as f64 + 1.0) * UNIT_ROUNDOFF;
    nu / (1.0 - nu)
}

/// Checks a Farkas certificate of infeasibility for `a_iᵀ δ ≤ e_i`: `y ≥ 0` and finite,
/// `Σ y_i a_i = 0` within its rounding bound — each computed component satisfies
/// `|fl(Σ_i y_i a_ik)| ≤ γ_n Σ_i |y_i a_ik|`, i.e. the exact sum may be zero — and
/// `Σ y_i e_i < 0` beyond its rounding bound, `fl(Σ y_i e_i) + γ_n Σ|y_i e_i| < 0`.
/// (If `Aδ ≤ e` had a solution, `0 = (Aᵀy)ᵀδ ≤ eᵀy < 0`.)
pub fn farkas_holds(normals: &[Vec<f64>], rhs: &[f64], y: &[f64]) -> bool {
    if y.len() != normals.len() || rhs.len() != normals.len() || y.iter().any(|t| !(t.is_finite() && *t >= 0.0)) {
        return false;
    }
    let n = y.len();
    let g = gamma(n + 1);
    let (mut s, mut s_abs) = (0.0, 0.0);
    for (&yi, &ei) in y.iter().zip(rhs) {
        s += yi * ei;
        s_abs += (yi * ei).abs();
    }
    if !(s + g * s_abs * 1.01 < 0.0) {
        return false;
    }
    let d = normals.first().map_or(0, Vec::len);
    (0..d).all(|k| {
        let (mut r, mut r_abs) = (0.0, 0.0);
        for (a, &yi) in normals.iter().zip(y) {
            r += yi * a[k];
            r_abs += (yi * a[k]).abs();
        }
        r.abs() <= g * r_abs * 1.01
    })
}

/// Dual active-set projector (Goldfarb–Idnani with identity Hessian), in the shifted
/// variable `δ = z − x₀`: constraints `a_iᵀ δ ≤ e_i` with `e_i = c_i − a_iᵀ x₀`.
#[derive(Debug, Clone)]
pub struct DualActiveSet {
    d: usize,
    normals: Vec<Vec<f64>>,
    norms: Vec<f64>,
    rhs: Vec<f64>,
    /// Multiplier per constraint (0 off the active set).
    lambda: Vec<f64>,
    active: Vec<usize>,
    delta: Vec<f64>,
    /// Orthonormal basis of the active normals (columns).
    q: Vec<Vec<f64>>,
    /// R factor, column-major: `r[c][i]` is row i of column c (i ≤ c).
    r: Vec<Vec<f64>>,
    /// Distance tolerance: a constraint counts as violated when
    /// `(a_iᵀδ − e_i)/‖a_i‖ > tol`.
    tol: f64,
    iterations: usize,
}

impl DualActiveSet {
    /// A projector for points of dimension `d`, at the origin of the shifted variable,
    /// with violation tolerance `tol` (a distance).
    pub fn new(d: usize, tol: f64) -> DualActiveSet {
        DualActiveSet {
            d,
            normals: Vec::new(),
            norms: Vec::new(),
            rhs: Vec::new(),
            lambda: Vec::new(),
            active: Vec::new(),
            delta: vec![0.0; d],
            q: Vec::new(),
            r: Vec::new(),
            tol,
            iterations: 0,
        }
    }

    /// Adds the constraint `a·δ ≤ e` (already shifted). A zero normal with `e < 0` makes
    /// the problem infeasible; with `e ≥ 0` it is ignored.
    pub fn add(&mut self, a: Vec<f64>, e: f64) {
        debug_assert_eq!(a.len(), self.d);
        let n = dot(&a, &a).sqrt();
        self.normals.push(a);
        self.norms.push(n);
        self.rhs.push(e);
        self.lambda.push(0.0);
    }

    /// Number of constraints added so far.
    pub fn constraint_count(&self) -> usize {
        self.normals.len()
    }

    /// The current step `δ` (the projection minus `x₀` once [`QpStatus::Optimal`]).
    pub fn delta(&self) -> &[f64] {
        &self.delta
    }

    /// The multipliers, one per constraint: the dual iterate, or the checked Farkas
    /// ray after [`QpStatus::Infeasible`].
    pub fn multipliers(&self) -> &[f64] {
        &self.lambda
    }

    /// Iterations (constraint additions and drops) spent so far.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Certified lower bound on the distance from the dual multipliers:
    /// `sqrt(2·max(0, D(λ)))`.
    pub fn dual_distance(&self) -> f64 {
        let mut w = vec![0.0; self.d];
        let mut lin = 0.0;
        for (i, &l) in self.lambda.iter().enumerate() {
            if l > 0.0 {
                for (wk, ak) in w.iter_mut().zip(&self.normals[i]) {
                    *wk += l * ak;
                }
                lin += l * self.rhs[i];
            }
        }
        let dval = -0.5 * dot(&w, &w) - lin;
        (2.0 * dval.max(0.0)).sqrt()
    }

    fn most_violated(&self) -> Option<usize> {
        let mut best = None;
        let mut worst = self.tol;
        for i in 0..self.normals.len() {
            if self.lambda[i] > 0.0 || self.active.contains(&i) {
                continue;
            }
            let viol = dot(&self.normals[i], &self.delta) - self.rhs[i];
            if self.norms[i] == 0.0 {
                if self.rhs[i] < -self.tol {
                    return Some(i);
                }
                continue;
            }
            let v = viol / self.norms[i];
            if v > worst {
                worst = v;
                best = Some(i);
            }
        }
        best
    }

    /// `h = Qᵀa` (with one re-orthogonalisation) and the residual `v = a − Q h`.
    fn project_out(&self, a: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let mut v = a.to_vec();
        let mut h = vec![0.0; self.q.len()];
        for _pass in 0..2 {
            for (hc, qc) in h.iter_mut().zip(&self.q) {
                let t = dot(qc, &v);
                *hc += t;
                for (vk, qk) in v.iter_mut().zip(qc) {
                    *vk -= t * qk;
                }
            }
        }
        (h, v)
    }

    /// Solves `R r = h` (upper triangular).
    fn back_solve(&self, h: &[f64]) -> Vec<f64> {
        let n = h.len();
        let mut r = h.to_vec();
        for c in (0..n).rev() {
            let tail: f64 = (c + 1..n).map(|j| self.r[j][c] * r[j]).sum();
            r[c] = (r[c] - tail) / self.r[c][c];
        }
        r
    }

    fn drop_active(&mut self, pos: usize) {
        let idx = self.active.remove(pos);
        self.lambda[idx] = 0.0;
        self.r.remove(pos);
        let n = self.r.len();
        // Columns pos..n are upper Hessenberg: restore with Givens rotations on rows
        // (c, c+1), applied to Q's columns as well.
        for c in pos..n {
            let a = self.r[c][c];
            let b = self.r[c][c + 1];
            let hyp = a.hypot(b);
            if hyp == 0.0 {
                continue;
            }
            let (cs, sn) = (a / hyp, b / hyp);
            for col in self.r.iter_mut().skip(c) {
                let (x, y) = (col[c], col[c + 1]);
                col[c] = cs * x + sn * y;
                col[c + 1] = -sn * x + cs * y;
            }
            let (left, right) = self.q.split_at_mut(c + 1);
            let (qa, qb) = (&mut left[c], &mut right[0]);
            for (x, y) in qa.iter_mut().zip(qb.iter_mut()) {
                let (xa, yb) = (*x, *y);
                *x = cs * xa + sn * yb;
                *y = -sn * xa + cs * yb;
            }
        }
        self.q.pop();
        for col in self.r.iter_mut() {
            col.truncate(n);
        }
    }

    fn add_active(&mut self, idx: usize, h: Vec<f64>, v: Vec<f64>, rho: f64) {
        let mut col = h;
        col.push(rho);
        // Earlier columns gain a zero in the new row.
        for c in self.r.iter_mut() {
            c.push(0.0);
        }
        // Columns must have length = number of rows (n + 1): pad the new column.
        self.r.push(col);
        self.q.push(v.into_iter().map(|t| t / rho).collect());
        self.active.push(idx);
    }

    /// Runs the dual method until every constraint holds (to the tolerance), the
    /// constraints are shown infeasible, or `max_iter` iterations have been spent.
    pub fn solve(&mut self, max_iter: usize) -> QpStatus {
        while let Some(p) = self.most_violated() {
            let ap = self.normals[p].clone();
            let anorm = self.norms[p];
            if anorm == 0.0 {
                // 0 ≤ e_p < 0: the unit vector on p is an exact Farkas ray.
                let mut y = vec![0.0; self.normals.len()];
                y[p] = 1.0;
                if farkas_holds(&self.normals, &self.rhs, &y) {
                    self.lambda = y;
                    return QpStatus::Infeasible;
                }
                return QpStatus::ReducedAccuracy;
            }
            loop {
                self.iterations += 1;
                if self.iterations > max_iter {
                    return QpStatus::IterationLimit;
                }
                let (h, v) = self.project_out(&ap);
                let rdir = self.back_solve(&h);
                let vnorm2 = dot(&v, &v);
                let viol = dot(&ap, &self.delta) - self.rhs[p];
                let mut dependent = vnorm2.sqrt() <= 1e-10 * anorm;
                let mut t2 = if dependent { f64::INFINITY } else { viol.max(0.0) / vnorm2 };
                let mut t1 = f64::INFINITY;
                let mut drop_pos = None;
                for (pos, (&idx, &rd)) in self.active.iter().zip(&rdir).enumerate() {
                    if rd > 1e-14 {
                        let t = self.lambda[idx] / rd;
                        if t < t1 {
                            t1 = t;
                            drop_pos = Some(pos);
                        }
                    }
                }
                if t1.is_infinite() && t2.is_infinite() {
                    // a_p is (nearly) a non-positive combination of the active normals:
                    // a candidate Farkas ray y_p = 1, y_i = −r_i. Infeasible only if it
                    // checks; otherwise a nearly dependent constraint is still a step.
                    let mut y = vec![0.0; self.normals.len()];
                    y[p] = 1.0;
                    for (&idx, &rd) in self.active.iter().zip(&rdir) {
                        y[idx] = (-rd).max(0.0);
                    }
                    if farkas_holds(&self.normals, &self.rhs, &y) {
                        self.lambda = y;
                        return QpStatus::Infeasible;
                    }
                    if vnorm2 == 0.0 || !vnorm2.is_finite() {
                        return QpStatus::ReducedAccuracy;
                    }
                    dependent = false;
                    t2 = viol.max(0.0) / vnorm2;
                }
                let t = t1.min(t2);
                if !dependent {
                    for (dk, vk) in self.delta.iter_mut().zip(&v) {
                        *dk -= t * vk;
                    }
                }
                for (&idx, &rd) in self.active.iter().zip(&rdir) {
                    self.lambda[idx] = (self.lambda[idx] - t * rd).max(0.0);
                }
                self.lambda[p] += t;
                if t2 <= t1 {
                    self.add_active(p, h, v, vnorm2.sqrt());
                    break;
                }
                if let Some(pos) = drop_pos {
                    self.drop_active(pos);
                }
            }
        }
        QpStatus::Optimal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_projection() {
        // Project (3, -2, 0.5) onto the box [-1, 1]^3.
        let x0 = [3.0, -2.0, 0.5];
        let mut qp = DualActiveSet::new(3, 1e-12);
        for k in 0..3 {
            let mut a = vec![0.0; 3];
            a[k] = 1.0;
            qp.add(a.clone(), 1.0 - x0[k]);
            a[k] = -1.0;
            qp.add(a, 1.0 + x0[k]);
        }
        assert_eq!(qp.solve(100), QpStatus::Optimal);
        let z: Vec<f64> = x0.iter().zip(qp.delta()).map(|(a, b)| a + b).collect();
        assert!((z[0] - 1.0).abs() < 1e-12 && (z[1] + 1.0).abs() < 1e-12 && (z[2] - 0.5).abs() < 1e-12);
        let dist = (4.0f64 + 1.0).sqrt();
        assert!((qp.dual_distance() - dist).abs() < 1e-12);
    }

    #[test]
    fn infeasible_detected() {
        let mut qp = DualActiveSet::new(2, 1e-12);
        qp.add(vec![1.0, 0.0], -1.0); // z1 ≤ -1
        qp.add(vec![-1.0, 0.0], -1.0); // z1 ≥ 1
        assert_eq!(qp.solve(100), QpStatus::Infeasible);
    }

    /// δ₁ ≤ −1 and −δ₁ + 1e-11·δ₂ ≤ 1 − 1e-11 look dependent at 1e-11, but (−1, −1) is
    /// feasible: the projection is (−1, −1) at distance √2, not "infeasible".
    #[test]
    fn nearly_dependent_constraints_are_feasible() {
        let mut qp = DualActiveSet::new(2, 1e-12);
        qp.add(vec![1.0, 0.0], -1.0);
        qp.add(vec![-1.0, 1e-11], 1.0 - 1e-11);
        assert_eq!(qp.solve(1000), QpStatus::Optimal);
        let dl = qp.delta();
        assert!((dl[0] + 1.0).abs() < 1e-6 && (dl[1] + 1.0).abs() < 1e-3, "{dl:?}");
        // The dual bound never exceeds the distance of the feasible point (−1, −1).
        assert!(qp.dual_distance() <= 2f64.sqrt() * (1.0 + 1e-9));
        // The would-be certificate y = (1, 1) is not one: Aᵀy = (0, 1e-11) is far above
        // its rounding bound.
        let normals = vec![vec![1.0, 0.0], vec![-1.0, 1e-11]];
        assert!(!farkas_holds(&normals, &[-1.0, 1.0 - 1e-11], &[1.0, 1.0]));
        // A genuine certificate checks.
        let normals = vec![vec![1.0, 0.0], vec![-1.0, 0.0]];
        assert!(farkas_holds(&normals, &[-1.0, -1.0], &[1.0, 1.0]));
    }

    #[test]
    fn drop_path_matches_clarabel() {
        // A wedge where the first constraint added is later dropped.
        let x0 = [0.0, 0.0];
        let a = vec![vec![-1.0, -0.2], vec![-1.0, 1.0], vec![0.3, -1.0]];
        let c = vec![-1.0, -0.5, -0.2];
        let mut qp = DualActiveSet::new(2, 1e-13);
        for (ar, &ci) in a.iter().zip(&c) {
            qp.add(ar.clone(), ci - dot(ar, &x0));
        }
        assert_eq!(qp.solve(100), QpStatus::Optimal);
        let (st, z, lam) = clarabel_project(&x0, &a, &c);
        assert_eq!(st, QpStatus::Optimal);
        for (dk, zk) in qp.delta().iter().zip(&z) {
            assert!((dk - zk).abs() < 1e-7);
        }
        let dd = dual_distance(&x0, &a, &c, &lam);
        assert!((dd - qp.dual_distance()).abs() < 1e-6);
    }
}
