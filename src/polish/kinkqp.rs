//! The SQP subproblem with kinks: pairs (i, j) whose pre-activation is within a kink
//! level of zero are linearised on both sides of the kink, so the dual gains one
//! variable μ_t per kink with 0 ≤ μ_t ≤ λ_i — the same (λ, μ) form as the L2 KKT
//! certificate (docs/kkt.md). Column of μ_t: g_t with the single block
//! ∂w̃_j = y_i v_j x̃_i. The dual is min ½ zᵀGz − rᵀz over that set; it is solved by NNLS
//! and, when μ ≤ λ binds, by clarabel.

use nalgebra::{DMatrix, DVector};

use super::sqp::{nnls, Aug, Params, Step};
use crate::kkt::qp;

/// Solves the kink-aware subproblem at `p` (normalised) with kink level `kink`; with
/// more than `max_kinks` kinks it falls back to the plain pattern linearisation.
pub(crate) fn step(p: &Params, aug: &Aug, kink: f64, max_kinks: usize) -> Step {
    let u = p.pre(aug);
    let (m, k) = u.shape();
    let wn: Vec<f64> = (0..k).map(|j| p.w.row(j).norm()).collect();
    let thr = |i: usize, j: usize| kink * wn[j] * aug.xx[(i, i)].sqrt();
    let on = DMatrix::from_fn(m, k, |i, j| u[(i, j)] > thr(i, j));
    let kinks: Vec<(usize, usize)> =
        (0..m).flat_map(|i| (0..k).map(move |j| (i, j))).filter(|&(i, j)| u[(i, j)].abs() <= thr(i, j)).collect();
    let nk = kinks.len();
    if nk > max_kinks {
        return super::sqp::step(p, aug);
    }
    let n = m + nk;
    let sig = u.map(|t| t.max(0.0));
    let o = DMatrix::from_fn(m, k, |i, j| if on[(i, j)] { p.v[j] } else { 0.0 });
    let oo = &o * o.transpose();
    let ss = &sig * sig.transpose();
    let y = &aug.y;
    let mut g = DMatrix::zeros(n, n);
    for a in 0..m {
        for b in 0..m {
            g[(a, b)] = y[a] * y[b] * (oo[(a, b)] * aug.xx[(a, b)] + ss[(a, b)]);
        }
    }
    for (t, &(i, j)) in kinks.iter().enumerate() {
        let vv = p.v[j] * p.v[j];
        for a in 0..m {
            let e = if on[(a, j)] { y[a] * y[i] * vv * aug.xx[(a, i)] } else { 0.0 };
            g[(a, m + t)] = e;
            g[(m + t, a)] = e;
        }
        for (t2, &(i2, j2)) in kinks.iter().enumerate() {
            if j2 == j {
                g[(m + t, m + t2)] = y[i] * y[i2] * vv * aug.xx[(i, i2)];
            }
        }
    }
    let q = (&sig * &p.v).component_mul(y);
    let mut r = DVector::zeros(n);
    for a in 0..m {
        let lin: f64 = (0..k).map(|j| p.v[j] * (if on[(a, j)] { u[(a, j)] } else { 0.0 } + sig[(a, j)])).sum();
        r[a] = 1.0 - q[a] + y[a] * lin;
    }
    for (t, &(i, j)) in kinks.iter().enumerate() {
        r[m + t] = y[i] * p.v[j] * u[(i, j)];
    }
    let (mut z, _) = nnls(&g, &r, 10 * n + 100);
    let violated = kinks.iter().enumerate().any(|(t, &(i, _))| z[m + t] > z[i] * (1.0 + 1e-12));
    if violated {
        if let Some(zq) = clarabel_qp(&g, &r, m, &kinks) {
            z = zq;
        }
        for t in z.iter_mut() {
            *t = t.max(0.0);
        }
        for (t, &(i, _)) in kinks.iter().enumerate() {
            z[m + t] = z[m + t].min(z[i]);
        }
    }
    // θ_QP = Σ λ_a h_a + Σ μ_t g_t.
    let mut c = DMatrix::from_fn(m, k, |i, j| if on[(i, j)] { z[i] * y[i] } else { 0.0 });
    for (t, &(i, j)) in kinks.iter().enumerate() {
        c[(i, j)] += z[m + t] * y[i];
    }
    let mut w = c.transpose() * &aug.x;
    for j in 0..k {
        w.row_mut(j).scale_mut(p.v[j]);
    }
    let lambda = DVector::from_fn(m, |i, _| z[i]);
    let v = sig.transpose() * lambda.component_mul(y);
    Step { lambda, target: Params { w, v } }
}

/// Clarabel's gap and feasibility tolerances for the SQP step (tighter than the
/// certificate's: the step feeds a Newton polish).
const QP_TOL: f64 = 1e-12;

/// min ½ zᵀGz − rᵀz s.t. z ≥ 0, μ_t ≤ λ_i, by the certificate's clarabel QP
/// (no time limit).
fn clarabel_qp(g: &DMatrix<f64>, r: &DVector<f64>, m: usize, kinks: &[(usize, usize)]) -> Option<DVector<f64>> {
    let owners: Vec<usize> = kinks.iter().map(|&(i, _)| i).collect();
    let tol = qp::QpTolerances { gap: QP_TOL, feas: QP_TOL, time_limit: f64::INFINITY };
    let x = DVector::from_vec(qp::solve(m, &owners, |a, b| g[(a, b)], r.as_slice(), tol).ok()?.z);
    x.iter().all(|t| t.is_finite()).then_some(x)
}
