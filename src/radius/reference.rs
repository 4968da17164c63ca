//! A brute-force reference for the exact radius, shared by the tests and the
//! benchmarks (not part of the supported API): every one of the 2^k activation
//! patterns is a polyhedron, and the radius is the smallest distance from x to a
//! pattern's polyhedron intersected with its (linear) flip half-space. Each piece is
//! projected with Clarabel and polished by an independent primal active-set method,
//! so that the reference shares no code with the search. For d = 1 the line is
//! scanned breakpoint by breakpoint instead.
//!
//! Exponential in k: meant for k ≤ 12 or so.
//!
//! Also here: [`gaussian_net`], the random family the radius tests and benchmarks draw
//! from (BENCHMARKS.md, issue 13's "random" instances).

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus};
use nalgebra::{DMatrix, DVector};

use crate::data::Rng;
use crate::net::Net;

/// A random network with biases, seeded: `w ~ N(0, 1/d)`, `b ~ N(0, 0.1²)`,
/// `v ~ N(0, 1/k)`, drawn from [`Rng`] in the order w (row-major), b, v. The draws are
/// what tests assert known outcomes on, so their order must not change.
///
/// # Panics
/// If `k` or `d` is zero (test and benchmark code only).
pub fn gaussian_net(k: usize, d: usize, seed: u64) -> Net {
    let mut rng = Rng::seed_from_u64(seed);
    let w: Vec<f64> = (0..k * d).map(|_| rng.normal() / (d as f64).sqrt()).collect();
    let b: Vec<f64> = (0..k).map(|_| 0.1 * rng.normal()).collect();
    let v: Vec<f64> = (0..k).map(|_| rng.normal() / (k as f64).sqrt()).collect();
    Net::from_rows(d, &w, Some(&b), &v).expect("k, d > 0 give a valid net")
}

/// Projection of x onto {A z ≤ c} with Clarabel, polished: the constraints Clarabel
/// finds active (multiplier above 1e-7 of the largest) define an affine subspace, and
/// x is projected onto it exactly (SVD least squares); the polished point is used when
/// it satisfies every constraint to 1e-10. `None` when Clarabel proves infeasibility,
/// or when it stalls (InsufficientProgress, on degenerate pieces without interior) at
/// a point that violates the constraints even after retrying with looser tolerances.
fn clarabel_dist(x: &[f64], a: &[Vec<f64>], c: &[f64]) -> Option<f64> {
    let d = x.len();
    let p = CscMatrix::identity(d);
    let q: Vec<f64> = x.iter().map(|t| -t).collect();
    let amat = CscMatrix::from(a.iter().map(|r| r.as_slice()));
    let dist = |z: &[f64]| z.iter().zip(x).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
    let feasible = |z: &[f64], tol: f64| {
        a.iter().zip(c).all(|(ar, ci)| {
            let n = ar.iter().map(|t| t * t).sum::<f64>().sqrt();
            ar.iter().zip(z).map(|(u, v)| u * v).sum::<f64>() - ci <= tol * (1.0 + n)
        })
    };
    for tol in [1e-10, 1e-8, 1e-7] {
        let settings =
            DefaultSettingsBuilder::default().verbose(false).tol_gap_abs(tol).tol_gap_rel(tol).tol_feas(tol).build().expect("valid Clarabel settings");
        let Ok(mut s) = DefaultSolver::new(&p, &q, &amat, c, &[NonnegativeConeT(a.len())], settings) else { return None };
        s.solve();
        let z = s.solution.x.clone();
        match s.solution.status {
            SolverStatus::PrimalInfeasible | SolverStatus::AlmostPrimalInfeasible => return None,
            SolverStatus::Solved | SolverStatus::AlmostSolved => {}
            _ if feasible(&z, 1e-9) => {}
            _ => continue,
        }
        // KKT refinement seeded by Clarabel's active set (a primal active-set method):
        // solve the equality-constrained projection, add the most violated constraint or
        // drop the most negative multiplier, until z is feasible with λ ≥ 0 — which
        // certifies optimality independently of Clarabel's own accuracy.
        let lmax = s.solution.z.iter().fold(0.0f64, |m, t| m.max(*t));
        let mut act: Vec<usize> = (0..a.len()).filter(|&i| s.solution.z[i] > 1e-7 * lmax).collect();
        let xv = DVector::from_column_slice(x);
        for _ in 0..100 {
            let (zp, lam) = if act.is_empty() {
                (xv.clone(), DVector::zeros(0))
            } else {
                let am = DMatrix::from_fn(act.len(), d, |r, col| a[act[r]][col]);
                let rhs = &am * &xv - DVector::from_fn(act.len(), |r, _| c[act[r]]);
                // nalgebra's uncapped `svd()` can iterate forever on some degenerate Gram
                // matrices (seen here with random seeds): cap it and fall back to
                // Clarabel's own point when it does not converge.
                let Some(svd) = (&am * am.transpose()).try_svd(true, true, f64::EPSILON, 10_000) else { break };
                let Ok(lam) = svd.solve(&rhs, 1e-13) else { break };
                (&xv - am.transpose() * &lam, lam)
            };
            let viol = (0..a.len())
                .map(|i| {
                    let n = a[i].iter().map(|t| t * t).sum::<f64>().sqrt();
                    ((a[i].iter().zip(zp.iter()).map(|(u, v)| u * v).sum::<f64>() - c[i]) / n, i)
                })
                .fold((1e-11, None), |acc, (v, i)| if v > acc.0 { (v, Some(i)) } else { acc });
            if let Some(i) = viol.1 {
                act.push(i);
                continue;
            }
            let neg = lam.iter().enumerate().fold((-1e-11, None), |acc, (r, &l)| if l < acc.0 { (l, Some(r)) } else { acc });
            if let Some(r) = neg.1 {
                act.remove(r);
                continue;
            }
            return Some(dist(zp.as_slice()));
        }
        return Some(dist(&z));
    }
    None
}

/// Exact reference for d = 1: N is piecewise linear on the line, so scan the breakpoints
/// in both directions and solve the linear piece where y·N first reaches 0.
pub fn line_radius(net: &Net, x: f64, y: f64) -> f64 {
    // y·N within the forward pass's rounding of 0 counts as 0: the flip set may be a
    // single touching point, which the search accepts at the same tolerance.
    let g = |t: f64| {
        let scale: f64 = (0..net.width()).map(|j| net.v()[j].abs() * (net.w()[(j, 0)].abs() * t.abs() + net.bias(j).abs())).sum();
        let v = y * net.forward_one(&[t]);
        if v.abs() <= 1e-13 * scale { 0.0 } else { v }
    };
    let bps: Vec<f64> = (0..net.width()).filter(|&j| net.w()[(j, 0)] != 0.0).map(|j| -net.bias(j) / net.w()[(j, 0)]).collect();
    let mut best = f64::INFINITY;
    for dir in [1.0, -1.0] {
        let mut ts: Vec<f64> = bps.iter().map(|bp| (bp - x) * dir).filter(|t| *t > 0.0).collect();
        ts.sort_by(f64::total_cmp);
        ts.push(ts.last().copied().unwrap_or(0.0) + 1e6);
        let mut prev = 0.0;
        for t in ts {
            let (a, c) = (g(x + dir * prev), g(x + dir * t));
            if c <= 0.0 {
                best = best.min(if a > 0.0 { prev + a / (a - c) * (t - prev) } else { prev });
                break;
            }
            prev = t;
        }
    }
    best
}

/// Brute force: min over all 2^k closed regions of the distance to region ∩ {y·affine ≤ 0}
/// (for d = 1, the exact breakpoint scan instead: Clarabel can miss pieces that shrink
/// to a point there).
pub fn brute_force(net: &Net, x: &[f64], y: f64) -> f64 {
    let (k, d) = (net.width(), net.dim());
    if d == 1 {
        return line_radius(net, x[0], y);
    }
    let mut best = f64::INFINITY;
    for mask in 0u32..(1 << k) {
        let mut a = Vec::with_capacity(k + 1);
        let mut c = Vec::with_capacity(k + 1);
        let mut flip = vec![0.0; d];
        let mut flip_c = 0.0;
        for j in 0..k {
            let w: Vec<f64> = net.w().row(j).iter().copied().collect();
            let b = net.bias(j);
            if mask >> j & 1 == 1 {
                a.push(w.iter().map(|t| -t).collect());
                c.push(b);
                for (f, wk) in flip.iter_mut().zip(&w) {
                    *f += y * net.v()[j] * wk;
                }
                flip_c += y * net.v()[j] * b;
            } else {
                a.push(w);
                c.push(-b);
            }
        }
        a.push(flip);
        c.push(-flip_c);
        // Zero rows (neurons with w = 0, or a flip row of neurons with v = 0) read
        // 0 ≤ c: drop them, or the piece is empty. Clarabel stalls on them otherwise.
        if a.iter().zip(&c).any(|(r, ci)| r.iter().all(|t| *t == 0.0) && *ci < 0.0) {
            continue;
        }
        let keep: Vec<usize> = (0..a.len()).filter(|&i| a[i].iter().any(|t| *t != 0.0)).collect();
        let a: Vec<Vec<f64>> = keep.iter().map(|&i| a[i].clone()).collect();
        let c: Vec<f64> = keep.iter().map(|&i| c[i]).collect();
        if a.is_empty() {
            best = 0.0;
            continue;
        }
        if let Some(dist) = clarabel_dist(x, &a, &c) {
            best = best.min(dist);
        }
    }
    best
}

