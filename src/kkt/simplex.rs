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
//! Harris ratio test with bound flips ([`step`]). After a run of degenerate pivots the
//! entering column is the best of a short segment at a pseudo-random position. The
//! basis inverse and its products are in [`basis`], the column storage (mirrored pairs
//! stored once) and the pivot-row product in [`columns`]. Termination is
//! not proved, only bounded: an iteration limit and a deadline end the solve, and the
//! caller reports the answer as an upper bound.

use std::time::Instant;

use faer::Mat;
use nalgebra::DVector;

#[path = "simplex_basis.rs"]
mod basis;
#[path = "simplex_columns.rs"]
mod columns;
pub(crate) use columns::dot;
#[path = "simplex_devex.rs"]
mod devex;
#[path = "simplex_perturb.rs"]
mod perturb;
#[path = "simplex_step.rs"]
mod step;

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
/// Stored vectors per chunk of the column storage.
pub(super) const CHUNK: usize = 64;
/// Degenerate pivots in a row before the randomised pricing takes over.
const DEGENERATE_RUN: usize = 50;

/// How a column is held (after scaling to unit norm).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Col {
    /// Stored vector s.
    Stored(usize),
    /// Stored vector s with every entry negated except the one of `mirror_row` (the two
    /// dual columns y⁺, y⁻ of one L∞ row share a vector).
    Mirror(usize),
    /// u·e_i (u = ±1): bound columns and artificials, never stored.
    Unit(usize, f64),
}

/// The LP and its current basis.
pub(crate) struct Simplex {
    m: usize,
    /// Stored column vectors in chunks of [`CHUNK`], each chunk column-major: vector s
    /// is `a[s / CHUNK][(s % CHUNK)·m..]`. Chunks of fixed capacity, so that a growing
    /// working set never reallocates (and copies) all the stored vectors at once.
    a: Vec<Vec<f64>>,
    /// Number of stored vectors.
    nstored: usize,
    /// What each column is.
    kind: Vec<Col>,
    /// The equation a mirror keeps (usize::MAX while no mirror exists).
    mirror_row: usize,
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
    binv: Mat<f64>,
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
    /// Scratch: one dot product per column, and per stored vector.
    dots: Vec<f64>,
    stored_dots: Vec<f64>,
}

impl Simplex {
    /// An LP with `rhs.len()` equations and no columns; `rhs` is b minus the
    /// contribution of every column that will be added later, at its initial value.
    pub fn new(rhs: Vec<f64>) -> Simplex {
        let m = rhs.len();
        Simplex {
            m,
            a: Vec::new(),
            nstored: 0,
            kind: Vec::new(),
            mirror_row: usize::MAX,
            cost: Vec::new(),
            lo: Vec::new(),
            hi: Vec::new(),
            x: Vec::new(),
            art: Vec::new(),
            scale: Vec::new(),
            rhs,
            basis: Vec::new(),
            pos: Vec::new(),
            binv: Mat::zeros(0, 0),
            phase1: true,
            since_refactor: 0,
            cursor: 0,
            iterations: 0,
            saved: Vec::new(),
            dj: Vec::new(),
            w: Vec::new(),
            dots: Vec::new(),
            stored_dots: Vec::new(),
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
    /// the pricing rules compare edges on one scale.
    pub fn add_column(&mut self, col: &[f64], cost: f64, lo: f64, hi: f64, value: f64) -> usize {
        let (kind, sc) = self.store(col, value);
        self.push_scaled(kind, cost, lo, hi, value, sc)
    }

    /// Adds the column `col` and its mirror (`col` with every entry negated except the
    /// one of equation `row`), both nonbasic at `value` with the bounds `lo`, `hi` and
    /// costs `cost` and `mirror_cost`; they share one stored vector, so the pivot row
    /// costs one dot product for the two. Every mirror of one LP keeps the same `row`.
    /// Returns the index of `col`; its mirror is the next one.
    pub fn add_mirrored_pair(&mut self, col: &[f64], row: usize, costs: (f64, f64), lo: f64, hi: f64, value: f64) -> usize {
        assert!(self.mirror_row == usize::MAX || self.mirror_row == row, "one mirror row per LP");
        self.mirror_row = row;
        let (kind, sc) = self.store(col, value);
        for (r, (i, &c)) in self.rhs.iter_mut().zip(col.iter().enumerate()) {
            *r += if i == row { value * c } else { -value * c };
        }
        let mirror = match kind {
            Col::Stored(s) | Col::Mirror(s) => Col::Mirror(s),
            Col::Unit(i, u) => Col::Unit(i, if i == row { u } else { -u }),
        };
        let j = self.push_scaled(kind, costs.0, lo, hi, value, sc);
        self.push_scaled(mirror, costs.1, lo, hi, value, sc);
        j
    }

    /// Stores `col` scaled to unit norm (a column with one nonzero as a unit column,
    /// not stored), moving its contribution at `value` out of the right-hand side;
    /// returns how it is held and the scale.
    fn store(&mut self, col: &[f64], value: f64) -> (Col, f64) {
        debug_assert_eq!(col.len(), self.m);
        for (r, &c) in self.rhs.iter_mut().zip(col) {
            *r += value * c;
        }
        let mut nz = col.iter().enumerate().filter(|(_, &c)| c != 0.0);
        if let (Some((i, &c)), None) = (nz.next(), nz.next()) {
            if c.is_finite() {
                return (Col::Unit(i, c.signum()), c.abs());
            }
        }
        let norm = col.iter().map(|c| c * c).sum::<f64>().sqrt();
        let sc = if norm > 0.0 && norm.is_finite() { norm } else { 1.0 };
        if self.nstored % CHUNK == 0 {
            self.a.push(Vec::with_capacity(CHUNK * self.m));
        }
        if let Some(chunk) = self.a.last_mut() {
            chunk.extend(col.iter().map(|c| c / sc));
        }
        self.nstored += 1;
        (Col::Stored(self.nstored - 1), sc)
    }

    /// A column held as `kind`, with cost and bounds scaled by `sc`.
    fn push_scaled(&mut self, kind: Col, cost: f64, lo: f64, hi: f64, value: f64, sc: f64) -> usize {
        let j = self.push(kind, cost / sc, lo * sc, hi * sc, value * sc, false);
        self.scale.push(sc);
        j
    }

    fn push(&mut self, kind: Col, cost: f64, lo: f64, hi: f64, value: f64, art: bool) -> usize {
        self.kind.push(kind);
        self.cost.push(cost);
        self.lo.push(lo);
        self.hi.push(hi);
        self.x.push(value);
        self.art.push(art);
        self.pos.push(usize::MAX);
        self.cost.len() - 1
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
                self.col_axpy(j, -self.x[j], r.as_mut_slice());
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
            if let Col::Unit(i, u) = self.kind[j] {
                if u == 1.0 && r[i] >= 0.0 && slack[i] == usize::MAX {
                    slack[i] = j;
                }
            }
        }
        self.basis = Vec::with_capacity(m);
        self.binv = Mat::zeros(m, m);
        for i in 0..m {
            let (j, s) = if slack[i] != usize::MAX {
                self.x[slack[i]] = r[i];
                (slack[i], 1.0)
            } else {
                let s = if r[i] < 0.0 { -1.0 } else { 1.0 };
                let j = self.push(Col::Unit(i, s), 0.0, 0.0, f64::INFINITY, r[i].abs(), true);
                self.scale.push(1.0);
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
                let pi = self.duals_fast();
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
}

#[cfg(test)]
#[path = "simplex_tests.rs"]
mod tests;
