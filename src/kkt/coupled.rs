//! The L2 problem with its ambiguity constraints, min ½‖θ̂ − A(λ, μ)‖² subject to
//! λ ≥ 0 and 0 ≤ μ_t ≤ λ_a for each ambiguous pair t = (a, j), by block principal
//! pivoting on the Gram form (docs/kkt.md, "Solvers").
//!
//! Each pair is at its lower bound (s = 0), at its upper bound (μ_t = λ_a: the pair's
//! column merges into λ_a's, s = 1) or free. The μ–μ block of the Gram matrix is block
//! diagonal by neuron (two μ columns meet only on the same (w_j, b_j) block), so each
//! subproblem eliminates the free μ of one neuron at a time (a small Schur complement,
//! cached between rounds: [`super::schur`]) and solves for the free λ on the support:
//! memory O(ns² + ns·k + ns·(relaxed pairs)), never a dense matrix over all relaxed
//! pairs. The gradient of each round comes from the Gram form (one ns×ns by ns×k
//! product), not from the P-sized residual. A solve can start from the
//! partition of the previous τ of an ordered ladder ([`CoupledState`]): the ambiguous
//! set only grows with τ, and the old optimum is a feasible start.
//!
//! The outcome is `Converged` only when the final point is feasible and its gradient
//! satisfies the optimality conditions (sign conditions at bounds and stationarity of
//! the free variables) to the tolerance; otherwise the best feasible iterate is
//! returned with the reason.

use nalgebra::DMatrix;

use super::problem::Problem;
use super::schur::{Elimination, Partition};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pair {
    Lower,
    Upper,
    Free,
}

/// A partition of the variables: the warm start of the next τ.
#[derive(Debug, Clone)]
pub(crate) struct CoupledState {
    lam_free: Vec<bool>,
    /// Per (a, j), row-major ns×k: the state of every pair (non-ambiguous ones at their
    /// pattern value).
    pair: Vec<Pair>,
}

impl CoupledState {
    /// No λ free, every pair at its pattern value.
    pub fn cold(p: &Problem) -> CoupledState {
        let pair = p.on.iter().map(|o| if o { Pair::Upper } else { Pair::Lower }).collect();
        CoupledState { lam_free: vec![false; p.ns()], pair }
    }

    /// The partition of an admissible point z of `p`.
    pub fn from_point(p: &Problem, z: &[f64]) -> CoupledState {
        let mut s = CoupledState::cold(p);
        let ns = p.ns();
        for (a, f) in s.lam_free.iter_mut().enumerate() {
            *f = z[a] > 0.0;
        }
        for (t, &(a, j)) in p.amb.iter().enumerate() {
            let mu = z[ns + t];
            s.pair[a * p.k + j] = if z[a] <= 0.0 || mu <= 0.0 {
                Pair::Lower
            } else if mu >= z[a] {
                Pair::Upper
            } else {
                Pair::Free
            };
        }
        s
    }

    /// This partition on problem `p` (same support and width; else a cold start):
    /// pairs not ambiguous in `p` take their pattern value.
    fn adapt(&self, p: &Problem) -> CoupledState {
        let (ns, k) = (p.ns(), p.k);
        if self.lam_free.len() != ns || self.pair.len() != ns * k {
            return CoupledState::cold(p);
        }
        let mut s = self.clone();
        let mut amb = vec![false; ns * k];
        for &(a, j) in &p.amb {
            amb[a * k + j] = true;
        }
        for (i, st) in s.pair.iter_mut().enumerate() {
            if !amb[i] {
                *st = if p.on.contains(i) { Pair::Upper } else { Pair::Lower };
            } else if !s.lam_free[i / k] {
                *st = Pair::Lower;
            }
        }
        s
    }
}

/// How the solve ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CoupledOutcome {
    /// Feasible, and the optimality conditions hold to the tolerance.
    Converged,
    /// The iteration budget ran out.
    MaxIterations,
    /// Single-pivot steps revisited a partition: the pivoting cycles.
    Cycling,
    /// No sign condition fails, but the free variables' gradient is this far from 0
    /// (relative to the scale of the linear term): a singular subproblem.
    NotStationary(f64),
}

/// Result of [`solve`].
pub(crate) struct CoupledResult {
    pub z: Vec<f64>,
    pub state: CoupledState,
    pub outcome: CoupledOutcome,
    pub iterations: usize,
}

/// Fixed data of one problem.
struct Data<'a> {
    p: &'a Problem<'a>,
    pairs_of: Vec<Vec<usize>>,
}

impl Data<'_> {
    fn s(&self, st: &CoupledState, a: usize, j: usize) -> f64 {
        if st.pair[a * self.p.k + j] == Pair::Upper {
            1.0
        } else {
            0.0
        }
    }

    /// Solves the equality-constrained subproblem of a partition ([`super::schur`]): the
    /// values of the free λ (indexed like `lf`) and of the free μ (by pair).
    fn subsolve(&self, elim: &mut Elimination, st: &CoupledState, lf: &[usize]) -> (Vec<f64>, Vec<(usize, f64)>) {
        let (p, k) = (self.p, self.p.k);
        let on: Vec<bool> = st.pair.iter().map(|&x| x == Pair::Upper).collect();
        let free: Vec<Vec<usize>> = (0..k)
            .map(|j| {
                p.pairs_of_neuron(j)
                    .iter()
                    .copied()
                    .filter(|&t| {
                        let a = p.amb[t].0;
                        st.lam_free[a] && st.pair[a * k + j] == Pair::Free
                    })
                    .collect()
            })
            .collect();
        elim.solve(p, &Partition { lf, on: &on, free: &free })
    }
}

/// A hash of the partition (deterministic: `DefaultHasher::new` has fixed keys).
fn partition_hash(st: &CoupledState) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    st.lam_free.hash(&mut h);
    st.pair.hash(&mut h);
    h.finish()
}

/// The gradient of ½‖r‖² at z, ∂/∂z = −Aᵀ r, through the Gram form (docs/kkt.md, "The
/// Gram form"): q_aj = (x̃_a, 1)·r_(w_j, b_j) = u_aj − v_j (X̃X̃ᵀ C)_aj with
/// C_bj = y_b (λ_b s_bj + μ_bj) at the pattern, and the v-block of r. Then
/// ∂/∂μ_aj = −y_a v_j q_aj and ∂/∂λ_a = −y_a Σ_j (s_aj v_j q_aj + σ(u_aj) r_vj).
/// One ns×ns by ns×k product.
fn gradient_parts(p: &Problem, z: &[f64]) -> (DMatrix<f64>, Vec<f64>) {
    let (ns, k) = (p.ns(), p.k);
    let mut cm = DMatrix::from_fn(ns, k, |a, j| if p.on.contains(a * k + j) { p.y[a] * z[a] } else { 0.0 });
    for (t, &(a, j)) in p.amb.iter().enumerate() {
        cm[(a, j)] += p.y[a] * z[ns + t];
    }
    let xc = &p.xg * &cm;
    let q = DMatrix::from_fn(ns, k, |a, j| p.u[(a, j)] - p.v[j] * xc[(a, j)]);
    let rv = (0..k).map(|j| p.v[j] - (0..ns).map(|a| z[a] * p.y[a] * p.sig_at(a, j)).sum::<f64>()).collect();
    (q, rv)
}

enum Flip {
    LamBound(usize),
    LamFree(usize),
    Pair(usize, Pair),
}

/// Solves the coupled problem from the partition `start` (see the module docs).
pub(crate) fn solve(p: &Problem, start: &CoupledState, max_iter: usize) -> CoupledResult {
    let (ns, k, n) = (p.ns(), p.k, p.nvars());
    let mut pairs_of = vec![Vec::new(); ns];
    for (t, &(a, _)) in p.amb.iter().enumerate() {
        pairs_of[a].push(t);
    }
    let data = Data { p, pairs_of };
    let mut elim = Elimination::new(p);
    let c = p.linear_term();
    let scale = c.iter().fold(0.0f64, |a, t| a.max(t.abs())).max(f64::MIN_POSITIVE);
    let tol = 1e-13 * scale;
    let mut st = start.adapt(p);
    let mut best: Option<(Vec<f64>, f64, CoupledState)> = None;
    let mut best_infeasible = usize::MAX;
    let mut backup = 3usize;
    let mut seen = std::collections::HashSet::new();
    let mut iterations = 0;
    loop {
        let lf: Vec<usize> = (0..ns).filter(|&a| st.lam_free[a]).collect();
        let (lam, mus) = data.subsolve(&mut elim, &st, &lf);
        let mut z = vec![0.0; n];
        for (&a, &l) in lf.iter().zip(&lam) {
            z[a] = l;
        }
        for (t, &(a, j)) in p.amb.iter().enumerate() {
            if st.lam_free[a] && st.pair[a * k + j] == Pair::Upper {
                z[ns + t] = z[a];
            }
        }
        for &(t, mu) in &mus {
            z[ns + t] = mu;
        }
        let (q, rv) = gradient_parts(p, &z);
        let g_mu = |t: usize| {
            let (a, j) = p.amb[t];
            -p.y[a] * p.v[j] * q[(a, j)]
        };
        let g_lam = |a: usize, on_only: bool| {
            -p.y[a]
                * (0..k)
                    .map(|j| {
                        let s = if on_only { f64::from(u8::from(p.on.contains(a * k + j))) } else { data.s(&st, a, j) };
                        s * p.v[j] * q[(a, j)] + p.sig_at(a, j) * rv[j]
                    })
                    .sum::<f64>()
        };
        let mut flips = Vec::new();
        let mut feasible = true;
        let mut stationarity = 0.0f64;
        for a in 0..ns {
            if st.lam_free[a] {
                if z[a] < 0.0 {
                    feasible = false;
                    flips.push(Flip::LamBound(a));
                    continue;
                }
                stationarity = stationarity.max(g_lam(a, false).abs());
                for &t in &data.pairs_of[a] {
                    let j = p.amb[t].1;
                    match st.pair[a * k + j] {
                        Pair::Free => {
                            let mu = z[ns + t];
                            if mu < 0.0 {
                                feasible = false;
                                flips.push(Flip::Pair(t, Pair::Lower));
                            } else if mu > z[a] {
                                feasible = false;
                                flips.push(Flip::Pair(t, Pair::Upper));
                            } else {
                                stationarity = stationarity.max(g_mu(t).abs());
                            }
                        }
                        Pair::Lower if g_mu(t) < -tol => flips.push(Flip::Pair(t, Pair::Free)),
                        Pair::Upper if g_mu(t) > tol => flips.push(Flip::Pair(t, Pair::Free)),
                        _ => {}
                    }
                }
            } else {
                let best_dir = g_lam(a, true) + data.pairs_of[a].iter().map(|&t| g_mu(t).min(0.0)).sum::<f64>();
                if best_dir < -tol {
                    flips.push(Flip::LamFree(a));
                }
            }
        }
        if feasible {
            // ½‖r‖² − ½‖θ̂‖² = ½ zᵀ(∇ − c): orders the iterates like ε (the reported ε
            // is recomputed from the residual by the caller).
            let grad = |i: usize| if i < ns { g_lam(i, true) } else { g_mu(i - ns) };
            let e: f64 =
                0.5 * z.iter().enumerate().filter(|&(_, &zi)| zi != 0.0).map(|(i, &zi)| zi * (grad(i) - c[i])).sum::<f64>();
            if best.as_ref().is_none_or(|b| e < b.1) {
                best = Some((z.clone(), e, st.clone()));
            }
        }
        let finish = |outcome, z: Vec<f64>, st: CoupledState| CoupledResult { z, state: st, outcome, iterations };
        if flips.is_empty() {
            let rel = stationarity / scale;
            let outcome = if rel <= 1e-9 { CoupledOutcome::Converged } else { CoupledOutcome::NotStationary(rel) };
            if outcome == CoupledOutcome::Converged || best.is_none() {
                return finish(outcome, z, st);
            }
            let (bz, _, bst) = best.expect("checked");
            return finish(outcome, bz, bst);
        }
        // In single-flip mode the next partition is a function of this one, so a repeat
        // (with no improvement in between) is a cycle: block pivoting does not
        // terminate on singular neuron blocks in general.
        let cycling = backup == 0 && flips.len() >= best_infeasible && !seen.insert(partition_hash(&st));
        if iterations >= max_iter || cycling {
            let outcome = if cycling { CoupledOutcome::Cycling } else { CoupledOutcome::MaxIterations };
            let (bz, bst) = match best {
                Some((bz, _, bst)) => (bz, bst),
                None => {
                    let mut zp = z;
                    p.project(&mut zp);
                    let s2 = CoupledState::from_point(p, &zp);
                    (zp, s2)
                }
            };
            return finish(outcome, bz, bst);
        }
        iterations += 1;
        let apply_all = if flips.len() < best_infeasible {
            best_infeasible = flips.len();
            seen.clear();
            backup = 3;
            true
        } else if backup > 0 {
            backup -= 1;
            true
        } else {
            false
        };
        let chosen: Vec<Flip> = if apply_all { flips } else { flips.into_iter().last().into_iter().collect() };
        for f in chosen {
            match f {
                Flip::LamBound(a) => {
                    st.lam_free[a] = false;
                    for &t in &data.pairs_of[a] {
                        let j = p.amb[t].1;
                        st.pair[a * k + j] = Pair::Lower;
                    }
                }
                Flip::LamFree(a) => {
                    st.lam_free[a] = true;
                    for &t in &data.pairs_of[a] {
                        let j = p.amb[t].1;
                        st.pair[a * k + j] = if g_mu(t) < 0.0 { Pair::Upper } else { Pair::Lower };
                    }
                }
                Flip::Pair(t, to) => {
                    let (a, j) = p.amb[t];
                    st.pair[a * k + j] = to;
                }
            }
        }
    }
}
