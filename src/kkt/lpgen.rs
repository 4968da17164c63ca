//! The L∞ and L1 certificates at scale, without the P×n constraint matrix
//! (docs/kkt.md, "LP norms"). Both solve the *dual* of the LP with the dense simplex of
//! [`super::simplex`], whose basis is only n×n (n = support + relaxed pairs, + 1 for
//! L∞) and whose multipliers π are the primal z; parameter rows enter as dual columns,
//! a few at a time, priced by one structured product ([`Problem::apply`]) for all P rows.
//!
//! * L∞ (row generation): the master min t s.t. |θ̂_p − A_p z| ≤ t (p ∈ W) has the dual
//!   max Σ θ̂_p (y⁺_p − y⁻_p) s.t. Σ (y⁺_p + y⁻_p) = 1, Σ A_pᵀ (y⁺_p − y⁻_p) + Gᵀy = 0,
//!   y ≥ 0 (G: z ≥ 0 and μ ≤ λ). The master is a relaxation, so its value is a lower
//!   bound on the smallest ε and the recomputed max_p |r_p| of its (admissible) z an
//!   upper bound. Rows violated beyond the master's value join W as dual columns at 0
//!   (the basis stays feasible: a warm start), until the two bounds agree within
//!   1e-12·‖θ̂‖∞. W is seeded with the largest entries of the residual at the L2 solution.
//! * L1 (column generation on the dual, Barrodale–Roberts' problem): the dual of
//!   min ‖θ̂ − A z‖₁ is max θ̂ᵀu s.t. Aᵀu + Gᵀy = 0, |u_p| ≤ 1, y ≥ 0. Every u_p starts
//!   at the sign s_p of the L2 solution's residual; only the rows of W are columns of
//!   the simplex, the others stay at ±1 in its right-hand side. The master's value is
//!   then Σ_{p∈W} |r_p| + Σ_{p∉W} s_p r_p ≤ ‖r‖₁ at its optimum, again a lower bound;
//!   a row whose residual disagrees with its sign (its reduced cost) joins W, until the
//!   recomputed ‖r‖₁ is within 1e-12·‖θ̂‖₁ of the master's value. If the signs make the
//!   master infeasible, phase 1 prices the rows the same way. W is seeded with the
//!   smallest residual entries at the L2 solution (where signs can flip).
//!
//! If the simplex fails or the loop does not close within its round limit or time, the
//! status says so and ε is the best upper bound found, not a certificate of minimality.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use nalgebra::{DMatrix, DVector};

use super::bitset::BitSet;
use super::problem::{blocks, Problem};
use super::simplex::{Outcome, Simplex};
use super::{Norm, SolveStatus};
use super::theta::Theta;

/// What the generation loop found.
pub(crate) struct GenOutcome {
    /// Admissible (λ, μ).
    pub z: Vec<f64>,
    /// `Optimal` when the loop closed.
    pub status: SolveStatus,
    /// Master LPs solved.
    pub rounds: usize,
    /// Simplex pivots and bound flips over all rounds.
    pub pivots: usize,
    /// Rows in the final working set.
    pub working_set: usize,
    /// ε minus the last master's lower bound.
    pub final_gap: f64,
}

/// Row access and structured products of the constraint matrix A (P rows, one per
/// parameter in the layout of [`Net::flatten`]; one column per variable of z).
pub(crate) struct Rows<'a> {
    p: &'a Problem<'a>,
    d: usize,
}

impl<'a> Rows<'a> {
    /// The rows of `p`'s constraint matrix (input dimension d).
    pub fn new(p: &'a Problem<'a>, d: usize) -> Rows<'a> {
        Rows { p, d }
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
                if p.on.contains(a * k + j) {
                    push(a, p.v[j] * p.y[a] * x(a));
                }
            }
            for &t in self.p.pairs_of_neuron(j) {
                let a = p.amb[t].0;
                push(ns + t, p.v[j] * p.y[a] * x(a));
            }
        } else {
            let j = idx - k * d - if p.bias { k } else { 0 };
            let sig = p.sig_block(j, 1);
            for a in 0..ns {
                push(a, p.y[a] * sig[(a, 0)]);
            }
        }
    }

    /// Aᵀ w for a P-vector w, by one ns×d by d×k product.
    pub fn transpose_times(&self, w: &DVector<f64>) -> Vec<f64> {
        let p = self.p;
        let (ns, k, d) = (p.ns(), p.k, self.d);
        let ww = DMatrix::from_fn(k, d, |j, c| w[j * d + c]);
        let g = &*p.xs * ww.transpose();
        let wb = |j: usize| if p.bias { w[k * d + j] } else { 0.0 };
        let voff = k * d + if p.bias { k } else { 0 };
        let mut out = vec![0.0; p.nvars()];
        for (j0, bw) in blocks(k) {
            let sig = p.sig_block(j0, bw);
            for (a, o) in out.iter_mut().enumerate().take(ns) {
                for l in 0..bw {
                    let j = j0 + l;
                    if p.on.contains(a * k + j) {
                        *o += p.v[j] * (g[(a, j)] + wb(j));
                    }
                    *o += sig[(a, l)] * w[voff + j];
                }
            }
        }
        out.iter_mut().zip(&p.y).for_each(|(o, y)| *o *= y);
        for (t, &(a, j)) in p.amb.iter().enumerate() {
            out[ns + t] = p.y[a] * p.v[j] * (g[(a, j)] + wb(j));
        }
        out
    }
}

/// The `k` largest scores pushed so far, by a bounded heap: O(P log k) time and O(k)
/// memory for P candidates, fed one at a time (the residual is streamed).
struct TopK {
    k: usize,
    /// A min-heap of the best k so far: its top is the worst kept.
    heap: BinaryHeap<Reverse<(u64, Reverse<usize>)>>,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    /// Offers index `i` with score `s`.
    fn push(&mut self, i: usize, s: f64) {
        if self.k == 0 {
            return;
        }
        // An unsigned key in the order of f64::total_cmp, then the smaller index first.
        let b = s.to_bits();
        let c = (if b >> 63 == 1 { !b } else { b | 1 << 63 }, Reverse(i));
        if self.heap.len() < self.k {
            self.heap.push(Reverse(c));
        } else if self.heap.peek().is_some_and(|Reverse(w)| c > *w) {
            self.heap.pop();
            self.heap.push(Reverse(c));
        }
    }

    /// The indices kept, largest score first (ties: the smaller index first).
    fn into_sorted(self) -> Vec<usize> {
        // Ascending order of Reverse is descending order of the key: best first.
        self.heap.into_sorted_vec().into_iter().map(|Reverse((_, Reverse(i)))| i).collect()
    }
}

/// The indices of the `k` largest scores, largest first (ties: the smaller index first).
fn best_k(scored: impl Iterator<Item = (usize, f64)>, k: usize) -> Vec<usize> {
    let mut top = TopK::new(k);
    scored.for_each(|(i, s)| top.push(i, s));
    top.into_sorted()
}

/// The dual simplex problem and the bookkeeping of the rows that are its columns.
struct Master<'a> {
    rows: Rows<'a>,
    lp: Simplex,
    linf: bool,
    /// Number of primal variables z.
    n: usize,
    /// Cost scale 1/‖θ̂‖∞ (the multipliers are cs·z).
    cs: f64,
    /// cs·Σ_{p∉W} θ̂_p s_p (L1).
    constant: f64,
    buf: Vec<(usize, f64)>,
    col: Vec<f64>,
}

impl Master<'_> {
    /// Adds parameter row `idx` to W: two dual columns (L∞) or one at its sign (L1).
    fn add_row(&mut self, idx: usize, theta: f64, s: f64) {
        self.rows.row(idx, &mut self.buf);
        self.col.iter_mut().for_each(|c| *c = 0.0);
        for &(v, c) in &self.buf {
            self.col[v] = c;
        }
        let c = self.cs * theta;
        if self.linf {
            self.col[self.n] = 1.0;
            self.lp.add_mirrored_pair(&self.col, self.n, (c, -c), 0.0, f64::INFINITY, 0.0);
        } else {
            self.lp.add_column(&self.col, c, -1.0, 1.0, s);
            self.constant -= c * s;
        }
    }

    /// The master's value, unscaled.
    fn value(&self) -> f64 {
        (self.lp.objective() + self.constant) / self.cs
    }
}

/// Runs the generation loop for `norm` (L∞ or L1) from the better of the admissible
/// points `starts` (the L2 point, and along the τ-ladder the last τ's answer carried
/// over, so that ε never increases along the ladder),
/// within `max_rounds` master solves and `time_limit` seconds in all.
/// The working set holds at most `max_rows` rows (the memory estimate's cap, at least
/// the seed): a loop that would grow beyond it stops, with ε an upper bound.
pub(crate) fn solve(
    p: &Problem,
    hat: &Theta,
    norm: Norm,
    starts: &[Vec<f64>],
    (max_rounds, max_rows): (usize, usize),
    time_limit: f64,
) -> GenOutcome {
    let deadline = Instant::now() + Duration::from_secs_f64(time_limit.clamp(0.0, 1e9));
    // θ̂ is read entry by entry from the net (no P-vector copy).
    let nparams = hat.param_count();
    let n = p.nvars();
    let (mut top, mut sum) = (0.0f64, 0.0);
    hat.for_each_param(|_, t| {
        top = top.max(t.abs());
        sum += t.abs();
    });
    let theta_norm = if norm == Norm::L1 { sum } else { top };
    let tol = 1e-12 * theta_norm;
    let cs = if top > 0.0 && top.is_finite() { 1.0 / top } else { 1.0 };
    let mut start: Option<(Vec<f64>, DVector<f64>, f64)> = None;
    for z in starts {
        let r = p.residual(hat, z);
        let e = norm.of(&r);
        if start.as_ref().is_none_or(|s| e < s.2) {
            start = Some((z.clone(), r, e));
        }
    }
    let (z0, r0, e0) = start.unwrap_or_else(|| (vec![0.0; n], hat.flatten(), theta_norm));
    let mut best = (z0, e0);
    let linf = norm == Norm::Linf;
    if best.1 <= tol {
        // The L2 point is already within the closing tolerance of the trivial lower
        // bound 0 (an exact KKT point): no master is needed.
        return GenOutcome { z: best.0, status: SolveStatus::Optimal, rounds: 0, pivots: 0, working_set: 0, final_gap: best.1 };
    }
    // Seed: the largest (L∞) or smallest (L1) residual entries. Small seeds and
    // batches: the first masters only have to produce a z whose residual points at
    // the rows that matter; L1 takes larger batches, which saved rounds and pivots on
    // the trained (100, 1000, 100) net (BENCHMARKS.md, "KKT at the LP scale").
    let seed = (n / 10 + 3).max(64);
    let batch = if linf { n / 4 + 2 } else { n + 2 }.max(32);
    let toward = if linf { 1.0 } else { -1.0 };
    let seed_rows = best_k(r0.iter().map(|r| toward * r.abs()).enumerate(), seed);
    // The signs of the start's residual: L1 keeps them (rows outside W sit at their
    // sign); L∞ does not use them.
    let negative = BitSet::from_fn(if linf { 0 } else { nparams }, |i| r0[i] < 0.0);
    drop(r0);
    let sign_of = |i: usize| if !linf && negative.contains(i) { -1.0 } else { 1.0 };
    let rows = Rows::new(p, hat.dim());
    let neq = n + usize::from(linf);
    let (rhs, constant) = if linf {
        let mut e = vec![0.0; neq];
        e[n] = 1.0;
        (e, 0.0)
    } else {
        let s = DVector::from_fn(nparams, |i, _| sign_of(i));
        let mut dot = 0.0;
        hat.for_each_param(|i, t| dot += s[i] * t);
        (rows.transpose_times(&s).iter().map(|v| -v).collect(), cs * dot)
    };
    let mut m = Master { rows, lp: Simplex::new(rhs), linf, n, cs, constant, buf: Vec::new(), col: vec![0.0; neq] };
    // The dual columns of z ≥ 0 (and t ≥ 0) and of μ_t ≤ λ_a.
    let mut unit = vec![0.0; neq];
    for i in 0..neq {
        unit[i] = 1.0;
        m.lp.add_column(&unit, 0.0, 0.0, f64::INFINITY, 0.0);
        unit[i] = 0.0;
    }
    for (t, &(a, _)) in p.amb.iter().enumerate() {
        unit[a] = 1.0;
        unit[p.ns() + t] = -1.0;
        m.lp.add_column(&unit, 0.0, 0.0, f64::INFINITY, 0.0);
        unit[a] = 0.0;
        unit[p.ns() + t] = 0.0;
    }
    let mut in_w = BitSet::new(nparams);
    let mut wsize = 0;
    for i in seed_rows {
        in_w.insert(i);
        wsize += 1;
        m.add_row(i, hat.param(i), sign_of(i));
    }
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
        // The last round's residual and pricing vectors are free again.
        super::memory::return_freed();
        let budget = 50 * (neq + m.lp.ncols()) + 10_000;
        let outcome = m.lp.solve(budget, deadline);
        // What the solve freed (its refactorisations' work space) is handed back
        // before the pricing's blocks are allocated.
        super::memory::return_freed();
        let pi = m.lp.duals();
        let mut z: Vec<f64> = pi[..n].iter().map(|v| v / cs).collect();
        // Reduced costs of the rows outside W, up to the factor cs: the residual at z in
        // phase 2, −A π in phase 1.
        let priced: Option<DVector<f64>> = match outcome {
            // L∞ prices with the residual of the projected z below.
            Outcome::Optimal if linf => None,
            Outcome::Optimal => Some(p.residual(hat, &z)),
            Outcome::Infeasible if !linf => Some(-p.apply(&pi[..n])),
            Outcome::Limit => break not_closed(format!("the simplex stopped at its iteration or time limit (gap {final_gap:e})")),
            other => break not_closed(format!("the master simplex ended {other:?}")),
        };
        // The `batch` most violated rows outside W (selected, never a P-sized list).
        let mut viol = Vec::new();
        if outcome == Outcome::Optimal {
            let lower = m.value();
            p.project(&mut z);
            // One pass over the residual, a block of neurons at a time (no P-vector):
            // its norm and, for L∞, the `batch` rows outside W violated beyond the master.
            let mut eps = 0.0;
            let mut top = TopK::new(if linf { batch } else { 0 });
            p.for_each_residual(hat, &z, |i, r| {
                eps = norm.accumulate(eps, r);
                if r.abs() > lower + tol && !in_w.contains(i) {
                    top.push(i, r.abs());
                }
            });
            final_gap = eps - lower;
            if eps < best.1 {
                best = (z, eps);
            }
            if final_gap <= tol {
                break SolveStatus::Optimal;
            }
            viol = top.into_sorted();
        }
        if let Some(priced) = priced {
            viol = best_k((0..nparams).filter(|&i| !in_w.contains(i) && priced[i] * sign_of(i) < 0.0).map(|i| (i, priced[i].abs())), batch);
        }
        if viol.is_empty() {
            break not_closed(format!("the master is not accurate enough to close the gap {final_gap:e}"));
        }
        // The working set stays within the rows the memory estimate counted.
        viol.truncate(max_rows.saturating_sub(wsize));
        if viol.is_empty() {
            break not_closed(format!("the working set reached the memory estimate's {max_rows} rows (gap {final_gap:e})"));
        }
        for i in viol {
            in_w.insert(i);
            wsize += 1;
            m.add_row(i, hat.param(i), sign_of(i));
        }
    };
    let (z, _) = best;
    GenOutcome { z, status, rounds, pivots: m.lp.iterations, working_set: wsize, final_gap }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Rng;
    use crate::kkt::problem::tests::{random_data, random_net};

    /// A working set capped below what the loop needs ends it honestly: not optimal, the
    /// reason naming the cap, no more rows than allowed, and ε (the residual of the z
    /// returned, recomputed here) an upper bound on the uncapped optimum.
    #[test]
    fn the_working_set_cap_ends_the_loop_with_an_upper_bound() {
        let mut rng = Rng::seed_from_u64(91);
        let (m, k, d) = (30, 40, 6);
        let data = random_data(&mut rng, m, d, 3);
        let net = random_net(&mut rng, k, d, true);
        let hat = Theta::new(&net, 1.0);
        let support: Vec<usize> = (0..m).collect();
        let p = Problem::new(hat, &data, &support, 1e-9);
        let starts = vec![vec![0.0; p.nvars()]];
        let full = solve(&p, &hat, Norm::Linf, &starts, (200, usize::MAX), 60.0);
        assert_eq!(full.status, SolveStatus::Optimal);
        let seed = 64;
        assert!(full.working_set > seed, "the test wants rows beyond the seed: {}", full.working_set);
        let capped = solve(&p, &hat, Norm::Linf, &starts, (200, seed), 60.0);
        match &capped.status {
            SolveStatus::NotOptimal { reason } => assert!(reason.contains("working set"), "{reason}"),
            other => panic!("a capped loop must not claim {other:?}"),
        }
        assert!(capped.working_set <= seed);
        let eps = |z: &[f64]| Norm::Linf.of(&p.residual(&hat, z));
        assert!(eps(&capped.z) >= eps(&full.z) * (1.0 - 1e-12));
    }
}
