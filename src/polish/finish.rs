//! The final KKT solve of [`super::polish`]: at a fixed activation pattern, the KKT
//! conditions of the max-margin problem reduce to a square polynomial system in the
//! multipliers and one scale per neuron direction, solved here by Newton's method.
//!
//! At a KKT point with pattern s, every neuron j satisfies w̃_j = v_j a_j and
//! v_j = w̃_j·a_j with a_j = Σ_{i∈S} λ_i y_i s_ij x̃_i (S: the samples with λ_i > 0), so
//! either the neuron is zero or it is balanced (|v_j| = ‖w̃_j‖) with ‖a_j‖ = 1.
//! Neurons with the same sign of v and the same pattern on S share a_j; call such a
//! class a *direction* g, with c_g = Σ_{j∈g} v_j². With Z_il = y_i y_l x̃_i·x̃_l and
//! G_g = D_g Z D_g (D_g the pattern of g on S), the conditions read
//!
//! λᵀ G_g λ = 1 for every direction g,   Σ_g c_g (G_g λ)_i = 1 for every i ∈ S,
//!
//! |S| + #g equations in as many unknowns (λ_S, c). A pair (i, j) whose pre-activation
//! is within a kink level of zero is a *kink*: its derivative s_gi ∈ [0, 1] becomes an
//! unknown (the certificate's μ = λ s) and u_gi = 0, i.e. y_i a_g·x̃_i = 0, an equation,
//! so the system stays square. Directions whose mass is below a pruning level are set to
//! zero first. The solution is checked by the independent certificate, never trusted on
//! its own.

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};

use super::sqp::{Aug, Params};

/// Newton's iteration budget.
const MAX_NEWTON: usize = 60;
/// Convergence: largest equation residual.
const NEWTON_TOL: f64 = 1e-14;

/// State of a pair on the support within a direction.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Pair {
    Off,
    Kink,
    On,
}

/// Tries to solve the reduced KKT system at the pattern of `p`, starting from the SQP
/// multipliers `lambda` (and, where `hint` is given, the kink derivatives hint[(i, j)] of
/// the cell walk; 0.5 otherwise), after zeroing every neuron with v_j² < `prune`·max_l v_l² and
/// treating |u_ij| ≤ `kink`·‖w̃_j‖‖x̃_i‖ as a kink. Returns the reconstructed parameters,
/// or `None` when the system has no admissible solution from this start (too many
/// directions, more than `max_vars` unknowns, a singular Jacobian, no convergence, λ or c not positive, s ∉ [0, 1]).
pub(crate) fn solve(
    p: &Params,
    aug: &Aug,
    (lambda, hint): (&DVector<f64>, Option<&DMatrix<f64>>),
    prune: f64,
    kink: f64,
    max_vars: usize,
) -> Option<Params> {
    let support: Vec<usize> = (0..aug.m()).filter(|&i| lambda[i] > 0.0).collect();
    let ns = support.len();
    let k = p.w.nrows();
    let cmax = p.v.iter().fold(0.0f64, |a, t| a.max(t * t));
    if ns == 0 || cmax <= 0.0 {
        return None;
    }
    let u = p.pre(aug);
    let mut groups: BTreeMap<(bool, Vec<Pair>), Vec<usize>> = BTreeMap::new();
    for j in 0..k {
        if p.v[j] * p.v[j] < prune * cmax {
            continue;
        }
        let wn = p.w.row(j).norm();
        let pat: Vec<Pair> = support
            .iter()
            .map(|&i| {
                let t = u[(i, j)];
                if t.abs() <= kink * wn * aug.xx[(i, i)].sqrt() {
                    Pair::Kink
                } else if t > 0.0 {
                    Pair::On
                } else {
                    Pair::Off
                }
            })
            .collect();
        if !pat.contains(&Pair::On) {
            continue; // no sample strictly on: the neuron cannot be balanced at a KKT point
        }
        groups.entry((p.v[j] > 0.0, pat)).or_default().push(j);
    }
    let keys: Vec<&(bool, Vec<Pair>)> = groups.keys().collect();
    let ng = keys.len();
    // Kink unknowns: (group, support position).
    let kinks: Vec<(usize, usize)> = keys
        .iter()
        .enumerate()
        .flat_map(|(g, key)| key.1.iter().enumerate().filter(|(_, &b)| b == Pair::Kink).map(move |(a, _)| (g, a)))
        .collect();
    let nk = kinks.len();
    if ng == 0 || ng > ns + nk || ns + ng + nk > max_vars {
        return None;
    }
    let z = DMatrix::from_fn(ns, ns, |a, b| {
        let (i, l) = (support[a], support[b]);
        aug.y[i] * aug.y[l] * aug.xx[(i, l)]
    });
    let n = ns + ng + nk;
    // Unknowns: λ (0..ns), c (ns..ns+ng), s (ns+ng..n).
    let mut x = DVector::zeros(n);
    for a in 0..ns {
        x[a] = lambda[support[a]];
    }
    for g in 0..ng {
        x[ns + g] = groups[keys[g]].iter().map(|&j| p.v[j] * p.v[j]).sum::<f64>();
    }
    for (t, &(g, a)) in kinks.iter().enumerate() {
        x[ns + ng + t] = hint.map_or(0.5, |h| h[(support[a], groups[keys[g]][0])]);
    }
    // D (ng×ns): 1 on, 0 off, s at kinks.
    let dmat = |x: &DVector<f64>| -> DMatrix<f64> {
        let mut d = DMatrix::from_fn(ng, ns, |g, a| if keys[g].1[a] == Pair::On { 1.0 } else { 0.0 });
        for (t, &(g, a)) in kinks.iter().enumerate() {
            d[(g, a)] = x[ns + ng + t];
        }
        d
    };
    // e_ga = y_a a_g·x̃_a = Σ_b Z_ab D_gb λ_b.
    let evals = |x: &DVector<f64>, d: &DMatrix<f64>| -> DMatrix<f64> {
        let dl = DMatrix::from_fn(ng, ns, |g, b| d[(g, b)] * x[b]);
        dl * &z // symmetric Z: (Z (D_g∘λ))ᵀ row by row
    };
    let resid = |x: &DVector<f64>| -> DVector<f64> {
        let d = dmat(x);
        let e = evals(x, &d);
        let mut f = DVector::zeros(n);
        for g in 0..ng {
            // ‖a_g‖² = Σ_b D_gb λ_b e_gb.
            f[g] = (0..ns).map(|b| d[(g, b)] * x[b] * e[(g, b)]).sum::<f64>() - 1.0;
        }
        for a in 0..ns {
            f[ng + a] = (0..ng).map(|g| x[ns + g] * d[(g, a)] * e[(g, a)]).sum::<f64>() - 1.0;
        }
        for (t, &(g, a)) in kinks.iter().enumerate() {
            f[ng + ns + t] = e[(g, a)];
        }
        f
    };
    let jacobian = |x: &DVector<f64>| -> DMatrix<f64> {
        let d = dmat(x);
        let e = evals(x, &d);
        let mut jac = DMatrix::zeros(n, n);
        for g in 0..ng {
            for b in 0..ns {
                jac[(g, b)] = 2.0 * d[(g, b)] * e[(g, b)];
            }
        }
        for a in 0..ns {
            for g in 0..ng {
                jac[(ng + a, ns + g)] = d[(g, a)] * e[(g, a)];
            }
            for b in 0..ns {
                jac[(ng + a, b)] = (0..ng).map(|g| x[ns + g] * d[(g, a)] * d[(g, b)]).sum::<f64>() * z[(a, b)];
            }
        }
        for (t, &(g, l)) in kinks.iter().enumerate() {
            let col = ns + ng + t;
            let lam_l = x[l];
            jac[(g, col)] = 2.0 * lam_l * e[(g, l)];
            for a in 0..ns {
                let own = if a == l { e[(g, a)] } else { 0.0 };
                jac[(ng + a, col)] = x[ns + g] * (own + d[(g, a)] * lam_l * z[(a, l)]);
            }
            for (t2, &(g2, a2)) in kinks.iter().enumerate() {
                if g2 == g {
                    jac[(ng + ns + t2, col)] = lam_l * z[(a2, l)];
                }
            }
            for b in 0..ns {
                jac[(ng + ns + t, b)] = d[(g, b)] * z[(l, b)];
            }
        }
        jac
    };
    let mut f = resid(&x);
    for _ in 0..MAX_NEWTON {
        if f.amax() <= NEWTON_TOL {
            break;
        }
        let delta = jacobian(&x).lu().solve(&(-&f))?;
        if !delta.iter().all(|t| t.is_finite()) {
            return None;
        }
        let f0 = f.norm();
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            let x2 = &x + &delta * step;
            let f2 = resid(&x2);
            if f2.norm() < f0 || f2.amax() <= NEWTON_TOL {
                x = x2;
                f = f2;
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            return None;
        }
    }
    if f.amax() > NEWTON_TOL {
        return None;
    }
    // Kink derivatives must lie in [0, 1]; round-off of 1e-12 is clamped (the certificate
    // re-checks the clamped point from scratch).
    if x.rows(0, ns + ng).iter().any(|&t| t <= 0.0) || x.rows(ns + ng, nk).iter().any(|&t| !(-1e-12..=1.0 + 1e-12).contains(&t)) {
        return None;
    }
    for t in 0..nk {
        x[ns + ng + t] = x[ns + ng + t].clamp(0.0, 1.0);
    }
    let d = dmat(&x);
    let dt = p.w.ncols();
    let mut out = Params { w: DMatrix::zeros(k, dt), v: DVector::zeros(k) };
    for (g, key) in keys.iter().enumerate() {
        let mut a_g = DVector::<f64>::zeros(dt);
        for (a, &i) in support.iter().enumerate() {
            a_g.axpy(d[(g, a)] * x[a] * aug.y[i], &aug.x.row(i).transpose(), 1.0);
        }
        let members = &groups[*key];
        let mass: f64 = members.iter().map(|&j| p.v[j] * p.v[j]).sum();
        for &j in members {
            let vj = p.v[j].signum() * (x[ns + g] * p.v[j] * p.v[j] / mass).sqrt();
            out.v[j] = vj;
            out.w.row_mut(j).copy_from(&(a_g.transpose() * vj));
        }
    }
    Some(out)
}
