//! A dense bounded-variable primal simplex, written for the *duals* of the L∞ and L1
//! master problems of the LP certificates (docs/kkt.md, "LP norms"):
//!
//! maximise cᵀx  subject to  A x = b,  lo ≤ x ≤ hi  (lo finite, hi finite or +∞),
//!
//! with few equations (the primal's variables: λ, μ and for L∞ the bound t) and many
//! columns (the primal's parameter rows) that arrive a few at a time. The basis is the
//! m×m matrix of m columns, kept as an explicit inverse updated at every pivot and
//! refactorised (LU) periodically; the simplex multipliers π = B⁻ᵀc_B are the primal
//! variables of the certificate LP. A column added later enters nonbasic at one of its
//! bounds, so a feasible basis stays feasible: the warm start that row (and column)
//! generation needs.
//!
//! Why by hand: good_lp's microlp backend rebuilds and re-solves every master from
//! scratch, reaches about 1e-9 relative accuracy, and took longer than 120 s on the
//! first 3 003 × 1 001 master at m = k = d = 1000; no crate in reach offers a dense
//! warm-startable bounded simplex for this shape. Only what no crate does is here: it
//! is tested against good_lp + microlp on random small LPs.
//!
//! Method: phase 1 on artificial columns (one per equation, with the sign of the
//! initial residual; a unit column already present replaces the artificial where the
//! residual is ≥ 0), then phase 2 with the artificials fixed at 0, on perturbed bounds
//! removed exactly at the end ([`perturb`]); devex pricing ([`devex`]) and a two-pass
//! Harris ratio test with bound flips. After a run of degenerate pivots the entering
//! column is the best of a short segment at a pseudo-random position. Termination is
//! not proved, only bounded: an iteration limit and a deadline end the solve, and the
//! caller reports the answer as an upper bound.

use std::time::Instant;

use nalgebra::{DMatrix, DVector};

#[path = "simplex_devex.rs"]
mod devex;
#[path = "simplex_perturb.rs"]
mod perturb;

/// How [`Simplex::solve`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Optimal for the columns present.
    Optimal,
    /// Phase 1 ended with a positive artificial: no feasible point with these columns.
    Infeasible,
    /// A column can grow without limit.
    Unbounded,
    /// The iteration limit or the deadline was reached.
    Limit,
    /// The basis became numerically singular.
    Singular,
}

/// Primal feasibility tolerance (the problems are scaled to entries of order one).
const PTOL: f64 = 1e-10;
/// Dual (reduced cost) tolerance.
const DTOL: f64 = 1e-11;
/// Smallest pivot accepted, relative to the largest entry of the direction.
const PIVOT_REL: f64 = 1e-9;
/// Degenerate pivots in a row before the randomised pricing takes over.
const DEGENERATE_RUN: usize = 50;

/// The LP and its current basis.
pub(crate) struct Simplex {
    m: usize,
    /// Columns, column-major: column j is `a[j*m..(j+1)*m]`.
    a: Vec<f64>,
    cost: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
    x: Vec<f64>,
    art: Vec<bool>,
    /// The factor each column was divided by (its variable multiplied by).
    scale: Vec<f64>,
    /// b minus the contribution of the columns not (yet) present.
    rhs: Vec<f64>,
    basis: Vec<usize>,
    pos: Vec<usize>,
    binv: DMatrix<f64>,
    phase1: bool,
    since_refactor: usize,
    /// Where partial pricing resumes.
    cursor: usize,
    /// Pivots and bound flips so far.
    pub iterations: usize,
    /// Original (index, lo, hi) of the bounds perturbed during this solve.
    saved: Vec<(usize, f64, f64)>,
    /// Devex pricing: reduced costs and reference weights of every column.
    dj: Vec<f64>,
    w: Vec<f64>,
}

impl Simplex {
    /// An LP with `rhs.len()` equations and no columns; `rhs` is b minus the
    /// contribution of every column that will be added later, at its initial value.
    pub fn new(rhs: Vec<f64>) -> Simplex {
        let m = rhs.len();
        Simplex {
            m,
            a: Vec::new(),
            cost: Vec::new(),
            lo: Vec::new(),
            hi: Vec::new(),
            x: Vec::new(),
            art: Vec::new(),
            scale: Vec::new(),
            rhs,
            basis: Vec::new(),
            pos: Vec::new(),
            binv: DMatrix::zeros(0, 0),
            phase1: true,
            since_refactor: 0,
            cursor: 0,
            iterations: 0,
            saved: Vec::new(),
            dj: Vec::new(),
            w: Vec::new(),
        }
    }

    /// Number of columns, artificials included.
    pub fn ncols(&self) -> usize {
        self.cost.len()
    }

    /// Adds a nonbasic column at `value` (its `lo` or a finite `hi`); the column's
    /// contribution at that value moves from the right-hand side into the column, so
    /// the current basic solution is unchanged. Returns its index.
    ///
    /// The column is stored scaled to unit Euclidean norm (its variable, cost and
    /// bounds scaled inversely), which leaves the multipliers π unchanged and makes
    /// Dantzig's rule compare edges on one scale.
    pub fn add_column(&mut self, col: &[f64], cost: f64, lo: f64, hi: f64, value: f64) -> usize {
        debug_assert_eq!(col.len(), self.m);
        for (r, &c) in self.rhs.iter_mut().zip(col) {
            *r += value * c;
        }
        let norm = col.iter().map(|c| c * c).sum::<f64>().sqrt();
        let sc = if norm > 0.0 && norm.is_finite() { norm } else { 1.0 };
        let unit: Vec<f64> = col.iter().map(|c| c / sc).collect();
        let j = self.push(&unit, cost / sc, lo * sc, hi * sc, value * sc, false);
        self.scale.push(sc);
        j
    }

    fn push(&mut self, col: &[f64], cost: f64, lo: f64, hi: f64, value: f64, art: bool) -> usize {
        self.a.extend_from_slice(col);
        self.cost.push(cost);
        self.lo.push(lo);
        self.hi.push(hi);
        self.x.push(value);
        self.art.push(art);
        self.pos.push(usize::MAX);
        self.cost.len() - 1
    }

    fn col(&self, j: usize) -> &[f64] {
        &self.a[j * self.m..(j + 1) * self.m]
    }

    /// Value of column j.
    #[cfg(test)]
    pub fn value(&self, j: usize) -> f64 {
        self.x[j] / self.scale[j]
    }

    fn phase_cost(&self, j: usize) -> f64 {
        match (self.phase1, self.art[j]) {
            (true, true) => -1.0,
            (true, false) | (false, true) => 0.0,
            (false, false) => self.cost[j],
        }
    }

    /// cᵀx over the columns present (phase-2 costs).
    pub fn objective(&self) -> f64 {
        (0..self.ncols()).filter(|&j| !self.art[j]).map(|j| self.cost[j] * self.x[j]).sum()
    }

    /// b minus the nonbasic columns' contribution.
    fn reduced_rhs(&self) -> DVector<f64> {
        let mut r = DVector::from_column_slice(&self.rhs);
        for j in 0..self.ncols() {
            if self.pos[j] == usize::MAX && self.x[j] != 0.0 {
                for (ri, &c) in r.iter_mut().zip(self.col(j)) {
                    *ri -= c * self.x[j];
                }
            }
        }
        r
    }

    /// The first basis: for each equation a unit column already present (lo = 0, hi = ∞,
    /// at 0) when the equation's residual is ≥ 0, else an artificial column with the
    /// residual's sign. Phase 1 is skipped when no artificial is positive.
    fn start(&mut self) {
        let r = self.reduced_rhs();
        let m = self.m;
        let mut slack = vec![usize::MAX; m];
        for j in 0..self.ncols() {
            if self.lo[j] != 0.0 || self.hi[j] != f64::INFINITY || self.x[j] != 0.0 {
                continue;
            }
            let col = self.col(j);
            let mut nz = col.iter().enumerate().filter(|(_, &v)| v != 0.0);
            if let (Some((i, &v)), None) = (nz.next(), nz.next()) {
                if v == 1.0 && r[i] >= 0.0 && slack[i] == usize::MAX {
                    slack[i] = j;
                }
            }
        }
        let mut unit = vec![0.0; m];
        self.basis = Vec::with_capacity(m);
        self.binv = DMatrix::zeros(m, m);
        for i in 0..m {
            let (j, s) = if slack[i] != usize::MAX {
                self.x[slack[i]] = r[i];
                (slack[i], 1.0)
            } else {
                let s = if r[i] < 0.0 { -1.0 } else { 1.0 };
                unit[i] = s;
                let j = self.push(&unit, 0.0, 0.0, f64::INFINITY, r[i].abs(), true);
                self.scale.push(1.0);
                unit[i] = 0.0;
                (j, s)
            };
            self.pos[j] = i;
            self.basis.push(j);
            self.binv[(i, i)] = s;
        }
        if (0..self.ncols()).all(|j| !self.art[j] || self.x[j] == 0.0) {
            self.end_phase1();
        }
    }

    /// Recomputes B⁻¹ by LU and the basic values from the nonbasic ones.
    fn refactor(&mut self) -> bool {
        let m = self.m;
        let b = DMatrix::from_fn(m, m, |i, k| self.a[self.basis[k] * m + i]);
        let Some(inv) = b.clone().lu().try_inverse() else {
            return false;
        };
        self.binv = inv;
        let r = self.reduced_rhs();
        let mut xb = &self.binv * &r;
        // One step of iterative refinement.
        let res = &r - &b * &xb;
        xb += &self.binv * res;
        for (i, &j) in self.basis.iter().enumerate() {
            self.x[j] = xb[i];
        }
        self.since_refactor = 0;
        self.devex_reset();
        true
    }

    /// Simplex multipliers π = B⁻ᵀ c_B of the current phase, refined once against B.
    pub fn duals(&self) -> Vec<f64> {
        let m = self.m;
        let cb = DVector::from_fn(m, |i, _| self.phase_cost(self.basis[i]));
        let mut pi = self.binv.tr_mul(&cb);
        let res = DVector::from_fn(m, |i, _| {
            cb[i] - self.col(self.basis[i]).iter().zip(pi.iter()).map(|(a, p)| a * p).sum::<f64>()
        });
        pi += self.binv.tr_mul(&res);
        pi.iter().copied().collect()
    }

    /// Runs the simplex from the current basis (phase 1 first if needed) until optimal
    /// for the columns present, or until `max_iter` more iterations or `deadline`.
    pub fn solve(&mut self, max_iter: usize, deadline: Instant) -> Outcome {
        let out = self.solve_perturbed(max_iter, deadline);
        if !self.saved.is_empty() && !self.unperturb() {
            return Outcome::Singular;
        }
        out
    }

    fn solve_perturbed(&mut self, max_iter: usize, deadline: Instant) -> Outcome {
        if self.basis.is_empty() {
            self.start();
        }
        let mut perturbed = false;
        self.devex_reset();
        let refactor_every = self.m.max(100);
        let mut degenerate = 0usize;
        let limit = self.iterations + max_iter;
        loop {
            if self.iterations >= limit || (self.iterations % 64 == 0 && Instant::now() > deadline) {
                return Outcome::Limit;
            }
            if self.since_refactor >= refactor_every && !self.refactor() {
                return Outcome::Singular;
            }
            if !self.phase1 && !perturbed {
                self.perturb();
                perturbed = true;
            }
            let priced = if degenerate < DEGENERATE_RUN {
                self.devex_price()
            } else {
                let pi = DVector::from_vec(self.duals_fast());
                self.price(&pi)
            };
            let Some((q, dq)) = priced else {
                // Optimal for this phase: refactorise for accuracy, then re-check.
                if self.since_refactor > 0 {
                    if !self.refactor() {
                        return Outcome::Singular;
                    }
                    continue;
                }
                if self.phase1 {
                    let infeasibility: f64 = (0..self.ncols()).filter(|&j| self.art[j]).map(|j| self.x[j]).sum();
                    let scale = 1.0 + self.rhs.iter().fold(0.0f64, |a, r| a.max(r.abs()));
                    if infeasibility > PTOL * scale {
                        return Outcome::Infeasible;
                    }
                    self.end_phase1();
                    continue;
                }
                if !self.saved.is_empty() {
                    // Optimal for the perturbed bounds: restore them, repair the basic
                    // values by dual pivots, and price again on the exact problem.
                    if !self.unperturb() {
                        return Outcome::Singular;
                    }
                    if let Some(out) = self.dual_cleanup(limit, deadline) {
                        return out;
                    }
                    continue;
                }
                return Outcome::Optimal;
            };
            match self.step(q, dq) {
                // No blocking row: trust it only on a fresh factorisation.
                None if self.since_refactor > 0 => {
                    if !self.refactor() {
                        return Outcome::Singular;
                    }
                    continue;
                }
                None => return Outcome::Unbounded,
                Some(t) => {
                    degenerate = if t <= PTOL { degenerate + 1 } else { 0 };
                }
            }
            self.iterations += 1;
        }
    }

    fn duals_fast(&self) -> Vec<f64> {
        let cb = DVector::from_fn(self.m, |i, _| self.phase_cost(self.basis[i]));
        self.binv.tr_mul(&cb).iter().copied().collect()
    }

    /// Fixes the artificials at 0 (those still basic are at 0 and stay there).
    fn end_phase1(&mut self) {
        self.phase1 = false;
        for j in 0..self.ncols() {
            if self.art[j] {
                self.hi[j] = 0.0;
                if self.pos[j] == usize::MAX {
                    self.x[j] = 0.0;
                }
            }
        }
        self.devex_reset();
    }

    /// Entering column and its reduced cost after a run of degenerate devex pivots:
    /// Dantzig's largest |d_j| over a short segment of 64 columns starting at a
    /// pseudo-random position (against cycling); the first segment with an eligible
    /// column wins, and every column is priced before optimality is declared.
    fn price(&mut self, pi: &DVector<f64>) -> Option<(usize, f64)> {
        let n = self.ncols();
        let seg = 64.min(n);
        let mut best: Option<(usize, f64)> = None;
        // A linear congruential step (Knuth's MMIX constants).
        self.cursor = self.cursor.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 1;
        let start = self.cursor % n.max(1);
        for k in 0..n {
            let j = (start + k) % n;
            if k > 0 && k % seg == 0 && best.is_some() {
                self.cursor = j;
                return best;
            }
            if self.pos[j] != usize::MAX || self.lo[j] >= self.hi[j] {
                continue;
            }
            let d = self.phase_cost(j) - self.col(j).iter().zip(pi.iter()).map(|(a, p)| a * p).sum::<f64>();
            let eligible = (d > DTOL && self.x[j] < self.hi[j]) || (d < -DTOL && self.x[j] > self.lo[j]);
            if eligible && best.is_none_or(|(_, b)| d.abs() > b.abs()) {
                best = Some((j, d));
            }
        }
        best
    }

    /// Moves column q in the direction of its reduced cost; returns the step length,
    /// or None when unbounded.
    fn step(&mut self, q: usize, dq: f64) -> Option<f64> {
        let m = self.m;
        let dir = if dq > 0.0 { 1.0 } else { -1.0 };
        let aq = DVector::from_column_slice(self.col(q));
        let alpha = &self.binv * aq;
        let top = alpha.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let piv = PIVOT_REL * top.max(1e-300);
        // Rate of change of each basic value per unit step.
        let rate = |i: usize| -dir * alpha[i];
        let slack = |i: usize, r: f64| {
            let j = self.basis[i];
            if r < 0.0 {
                self.x[j] - self.lo[j]
            } else {
                self.hi[j] - self.x[j]
            }
        };
        // Harris pass 1: the largest step with every bound relaxed by PTOL.
        let mut tmax = f64::INFINITY;
        for i in 0..m {
            let r = rate(i);
            if r.abs() > piv {
                tmax = tmax.min((slack(i, r) + PTOL) / r.abs());
            }
        }
        // Pass 2: among the rows that block within tmax, the largest pivot.
        let mut leave: Option<(usize, f64)> = None;
        for i in 0..m {
            let r = rate(i);
            if r.abs() > piv {
                let t = (slack(i, r) / r.abs()).max(0.0);
                if t <= tmax {
                    let better = match leave {
                        None => true,
                        Some((l, _)) => r.abs() > rate(l).abs(),
                    };
                    if better {
                        leave = Some((i, t));
                    }
                }
            }
        }
        let range = self.hi[q] - self.lo[q];
        let t = match leave {
            Some((_, t)) if t < range => t,
            _ if range.is_finite() => {
                // Bound flip: q goes to its other bound, the basis is unchanged.
                self.x[q] = if dir > 0.0 { self.hi[q] } else { self.lo[q] };
                for i in 0..m {
                    let j = self.basis[i];
                    self.x[j] += rate(i) * range;
                }
                return Some(range);
            }
            _ => return None,
        };
        let (r, _) = leave.expect("a blocking row");
        for i in 0..m {
            let j = self.basis[i];
            self.x[j] += rate(i) * t;
        }
        self.x[q] += dir * t;
        let out = self.basis[r];
        self.x[out] = if rate(r) < 0.0 { self.lo[out] } else { self.hi[out] };
        self.pivot(q, r, &alpha);
        Some(t)
    }

    /// Column q replaces the basic column of row r (α = B⁻¹a_q); values already set.
    fn pivot(&mut self, q: usize, r: usize, alpha: &DVector<f64>) {
        let m = self.m;
        let out = self.basis[r];
        self.devex_update(q, r, alpha);
        self.pos[out] = usize::MAX;
        self.pos[q] = r;
        self.basis[r] = q;
        // B⁻¹ update: row r divided by α_r, eliminated from the others.
        let ar = alpha[r];
        let row_r: Vec<f64> = (0..m).map(|c| self.binv[(r, c)] / ar).collect();
        for (c, &rc) in row_r.iter().enumerate() {
            let col = self.binv.column_mut(c);
            for (i, v) in col.into_iter().enumerate() {
                *v = if i == r { rc } else { *v - alpha[i] * rc };
            }
        }
        self.since_refactor += 1;
    }
}

#[cfg(test)]
#[path = "simplex_tests.rs"]
mod tests;
