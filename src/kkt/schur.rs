//! The equality subproblem of the coupled L2 solver ([`super::coupled`]; docs/kkt.md,
//! "Solvers"): for a fixed partition, minimise over the free λ and the free μ with
//! every other variable at its bound.
//!
//! The μ–μ block of the Gram matrix is block diagonal by neuron, so the free μ of
//! neuron j (the set F_j, Gram block B_j) are eliminated through a Schur complement:
//! with B_j⁺ = Q_j Q_jᵀ, W_j = Q_jᵀ C_jᵀ and h_j = Q_jᵀ c_μ, the λ system is
//! (M − Σ_j W_jᵀ W_j) λ = rhs − Σ_j W_jᵀ h_j and then μ_j = Q_j (h_j − W_j λ).
//! C_j has one row per free λ_a whose pair (a, j) is on (in the pattern, or merged
//! at its upper bound μ = λ); the others are zero and are never formed.
//!
//! Each neuron keeps its factorisation between pivoting rounds: Q_j and h_j depend only
//! on F_j, W_j only on F_j and its rows, so a round refactorises just the neurons whose
//! partition changed. The neurons are independent and run in parallel (rayon).

use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Accum, Mat, Par, Side};
use rayon::prelude::*;

use super::problem::Problem;

/// Smallest Cholesky pivot, relative to the largest diagonal entry, for which the
/// factorisation is used; below it the block counts as singular.
const PIVOT_FLOOR: f64 = 1e-11;
/// Eigenvalues below this fraction of the largest are dropped from a pseudo-inverse.
const EIGEN_CUT: f64 = 1e-12;

/// B⁺ = Q Qᵀ for a positive semidefinite block B.
enum Factor {
    /// B = L Lᵀ, Q = L⁻ᵀ.
    Chol(Mat<f64>),
    /// Q = V₊ diag(e₊)^{-1/2} over the eigenpairs above the cut (B singular).
    Pinv(Mat<f64>),
}

impl Factor {
    /// Cholesky when the pivots are well above rounding, else the eigendecomposition's
    /// pseudo-inverse (the right-hand sides of the subproblem lie in B's range, so this
    /// is still an exact minimiser).
    fn new(b: &Mat<f64>) -> Factor {
        let n = b.nrows();
        let top = (0..n).map(|i| b[(i, i)].abs()).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
        if let Ok(llt) = b.llt(Side::Lower) {
            let l = llt.L();
            let ok = (0..n).all(|i| l[(i, i)].is_finite() && l[(i, i)] * l[(i, i)] > PIVOT_FLOOR * top)
                && (0..n).all(|c| (c..n).all(|r| l[(r, c)].is_finite()));
            if ok {
                return Factor::Chol(l.to_owned());
            }
        }
        let Ok(evd) = b.self_adjoint_eigen(Side::Lower) else {
            return Factor::Pinv(Mat::zeros(n, 0));
        };
        let (u, s) = (evd.U(), evd.S().column_vector());
        let emax = (0..n).map(|i| s[i].abs()).fold(0.0f64, f64::max);
        let keep: Vec<usize> = (0..n).filter(|&i| s[i] > EIGEN_CUT * emax && s[i].is_finite()).collect();
        Factor::Pinv(Mat::from_fn(n, keep.len(), |r, c| u[(r, keep[c])] / s[keep[c]].sqrt()))
    }

    /// Qᵀ X.
    fn qt(&self, mut x: Mat<f64>) -> Mat<f64> {
        match self {
            Factor::Chol(l) => {
                solve_lower_triangular_in_place(l.as_ref(), x.as_mut(), Par::Seq);
                x
            }
            Factor::Pinv(q) => q.transpose() * &x,
        }
    }

    /// Q y.
    fn q(&self, mut y: Mat<f64>) -> Mat<f64> {
        match self {
            Factor::Chol(l) => {
                solve_upper_triangular_in_place(l.transpose(), y.as_mut(), Par::Seq);
                y
            }
            Factor::Pinv(q) => q * &y,
        }
    }

    /// B⁺ y.
    fn solve(&self, y: Mat<f64>) -> Mat<f64> {
        self.q(self.qt(y))
    }
}

/// One neuron's elimination, kept while its free pairs (and rows) stay the same.
struct Neuron {
    /// Free pairs t of this neuron.
    free: Vec<usize>,
    /// Factor of B_j (None when `free` is empty or not yet factorised).
    factor: Option<Factor>,
    /// h_j = Q_jᵀ c_μ.
    h: Mat<f64>,
    /// Samples a of the rows of W_j.
    rows: Vec<usize>,
    /// W_j = Q_jᵀ C_jᵀ, one column per row sample.
    w: Mat<f64>,
}

/// The partition of one pivoting round, as the subproblem sees it.
pub(crate) struct Partition<'a> {
    /// Free λ (support indices), ascending.
    pub lf: &'a [usize],
    /// s_aj ∈ {0, 1} of the λ columns (pattern on, or pair merged at μ = λ), ns×k row-major.
    pub on: &'a [bool],
    /// Free pairs per neuron.
    pub free: &'a [Vec<usize>],
}

/// The cached eliminations of all neurons of one problem.
pub(crate) struct Elimination {
    neurons: Vec<Neuron>,
    /// c_μ per pair.
    c_mu: Vec<f64>,
    /// (Σ Σᵀ)_ab over the support.
    ss: Mat<f64>,
    /// Σ_j W_jᵀ W_j and Σ_j W_jᵀ h_j, indexed by support sample (None before the first
    /// round): kept up to date neuron by neuron.
    sum: Option<(Mat<f64>, Vec<f64>)>,
}

/// A sum of neuron contributions (ns×ns and ns).
type Sum = (Mat<f64>, Vec<f64>);

fn add_sums((a, ra): Sum, (b, rb): Sum) -> Sum {
    (a + b, ra.iter().zip(&rb).map(|(x, y)| x + y).collect())
}

impl Elimination {
    /// No neuron factorised yet.
    pub fn new(p: &Problem) -> Elimination {
        let c_mu = p.amb.iter().map(|&(a, j)| p.y[a] * p.v[j] * p.u[(a, j)]).collect();
        let ns = p.ns();
        let sig = Mat::from_fn(ns, p.k, |a, j| p.sig_at(a, j));
        let ss = &sig * sig.transpose();
        Elimination { neurons: (0..p.k).map(|_| Neuron::empty()).collect(), c_mu, ss, sum: None }
    }

    /// Brings every neuron and the sum of their contributions up to date with `part`:
    /// when most neurons changed, the sum is rebuilt; otherwise each changed neuron's
    /// old contribution is taken out and its new one put in.
    fn refresh(&mut self, p: &Problem, part: &Partition) {
        let (k, ns) = (p.k, p.ns());
        let rows: Vec<Vec<usize>> = (0..k)
            .into_par_iter()
            .map(|j| {
                if part.free[j].is_empty() {
                    Vec::new()
                } else {
                    part.lf.iter().copied().filter(|&a| part.on[a * k + j]).collect()
                }
            })
            .collect();
        let changed: Vec<bool> =
            self.neurons.iter().enumerate().map(|(j, nr)| !nr.is_current(&part.free[j], &rows[j])).collect();
        let n_changed = changed.iter().filter(|&&c| c).count();
        let c_mu = &self.c_mu;
        // At most four accumulators (each is ns×ns), whatever the number of threads.
        let chunk = k.div_ceil(4).max(1);
        let zero = || (Mat::<f64>::zeros(ns, ns), vec![0.0; ns]);
        match &mut self.sum {
            Some((d, dr)) if 2 * n_changed < k => {
                if n_changed == 0 {
                    return;
                }
                let (dd, ddr) = self
                    .neurons
                    .par_iter_mut()
                    .enumerate()
                    .with_min_len(chunk)
                    .filter(|(j, _)| changed[*j])
                    .fold(zero, |mut acc, (j, nr)| {
                        nr.add_to(&mut acc, -1.0);
                        nr.update(p, c_mu, &part.free[j], &rows[j]);
                        nr.add_to(&mut acc, 1.0);
                        acc
                    })
                    .reduce(zero, add_sums);
                *d += dd;
                for (x, y) in dr.iter_mut().zip(&ddr) {
                    *x += y;
                }
            }
            _ => {
                self.neurons.par_iter_mut().enumerate().filter(|(j, _)| changed[*j]).for_each(|(j, nr)| {
                    nr.update(p, c_mu, &part.free[j], &rows[j]);
                });
                let sum = self
                    .neurons
                    .par_iter()
                    .with_min_len(chunk)
                    .fold(zero, |mut acc, nr| {
                        nr.add_to(&mut acc, 1.0);
                        acc
                    })
                    .reduce(zero, add_sums);
                self.sum = Some(sum);
            }
        }
    }

    /// Solves the subproblem of `part`: the free λ (indexed like `part.lf`) and the
    /// free μ (by pair).
    pub fn solve(&mut self, p: &Problem, part: &Partition) -> (Vec<f64>, Vec<(usize, f64)>) {
        let (k, nl, ns) = (p.k, part.lf.len(), p.ns());
        if nl == 0 {
            return (Vec::new(), Vec::new());
        }
        self.refresh(p, part);
        let Some((d, dr)) = &self.sum else {
            return (vec![0.0; nl], Vec::new());
        };
        let mut pos = vec![usize::MAX; ns];
        for (r, &a) in part.lf.iter().enumerate() {
            pos[a] = r;
        }
        // The λ block with every free pair eliminated, and its right-hand side.
        let o = Mat::from_fn(nl, k, |r, j| if part.on[part.lf[r] * k + j] { p.v[j] } else { 0.0 });
        let oo = &o * o.transpose();
        let msym = Mat::from_fn(nl, nl, |r, s| {
            let (a, b) = (part.lf[r], part.lf[s]);
            p.y[a] * p.y[b] * (oo[(r, s)] * p.xg[(a, b)] + self.ss[(a, b)]) - 0.5 * (d[(a, b)] + d[(b, a)])
        });
        let rhs = Mat::from_fn(nl, 1, |r, _| {
            let a = part.lf[r];
            let s: f64 =
                (0..k).map(|j| p.v[j] * (if part.on[a * k + j] { p.u[(a, j)] } else { 0.0 } + p.sig_at(a, j))).sum();
            p.y[a] * s - dr[a]
        });
        let lam = Factor::new(&msym).solve(rhs);
        let lam_v: Vec<f64> = (0..nl).map(|r| lam[(r, 0)]).collect();
        let mus = self
            .neurons
            .par_iter()
            .flat_map_iter(|nr| {
                let mu = nr.mu(&pos, &lam_v);
                nr.free.iter().copied().zip(mu).collect::<Vec<_>>()
            })
            .collect();
        (lam_v, mus)
    }
}

impl Neuron {
    fn empty() -> Neuron {
        Neuron { free: Vec::new(), factor: None, h: Mat::zeros(0, 1), rows: Vec::new(), w: Mat::zeros(0, 0) }
    }

    /// Whether the cached elimination is that of free pairs `free` and rows `rows`.
    fn is_current(&self, free: &[usize], rows: &[usize]) -> bool {
        if free.is_empty() {
            self.factor.is_none()
        } else {
            self.factor.is_some() && self.free == free && self.rows == rows
        }
    }

    /// Recomputes the elimination for free pairs `free` and rows `rows` of neuron j
    /// (the factorisation only when the free pairs changed).
    fn update(&mut self, p: &Problem, c_mu: &[f64], free: &[usize], rows: &[usize]) {
        if free.is_empty() {
            self.free.clear();
            self.rows.clear();
            self.factor = None;
            return;
        }
        let j = p.amb[free[0]].1;
        let v2 = p.v[j] * p.v[j];
        let owner = |t: usize| p.amb[t].0;
        if self.factor.is_none() || self.free != free {
            self.free = free.to_vec();
            let f = free.len();
            let b = Mat::from_fn(f, f, |r, s| {
                let (a, c) = (owner(free[r]), owner(free[s]));
                v2 * p.y[a] * p.y[c] * p.xg[(a, c)]
            });
            let factor = Factor::new(&b);
            self.h = factor.qt(Mat::from_fn(f, 1, |r, _| c_mu[free[r]]));
            self.factor = Some(factor);
        }
        let ct = Mat::from_fn(free.len(), rows.len(), |r, s| {
            let (a, c) = (owner(free[r]), rows[s]);
            v2 * p.y[a] * p.y[c] * p.xg[(a, c)]
        });
        self.w = self.factor.as_ref().map_or_else(|| Mat::zeros(0, 0), |fa| fa.qt(ct));
        self.rows = rows.to_vec();
    }

    /// acc += sign·(W_jᵀ W_j, W_jᵀ h_j) on the rows' samples.
    fn add_to(&self, (dm, dr): &mut Sum, sign: f64) {
        if self.factor.is_none() || self.rows.is_empty() {
            return;
        }
        let nr = self.rows.len();
        let mut s = Mat::<f64>::zeros(nr, nr);
        matmul(s.as_mut(), Accum::Replace, self.w.transpose(), self.w.as_ref(), sign, Par::Seq);
        let g = self.w.transpose() * &self.h;
        for (c, &b) in self.rows.iter().enumerate() {
            for (r, &a) in self.rows.iter().enumerate() {
                dm[(a, b)] += s[(r, c)];
            }
            dr[b] += sign * g[(c, 0)];
        }
    }

    /// μ_j = Q_j (h_j − W_j λ).
    fn mu(&self, pos: &[usize], lam: &[f64]) -> Vec<f64> {
        let Some(factor) = &self.factor else {
            return Vec::new();
        };
        let lr = Mat::from_fn(self.rows.len(), 1, |r, _| lam[pos[self.rows[r]]]);
        let mut y = self.h.clone();
        if !self.rows.is_empty() {
            matmul(y.as_mut(), Accum::Add, self.w.as_ref(), lr.as_ref(), -1.0, Par::Seq);
        }
        let mu = factor.q(y);
        (0..mu.nrows()).map(|r| mu[(r, 0)]).collect()
    }
}
