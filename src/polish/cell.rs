//! Classes of neurons and the convex cell problem of [`super::polish`] (docs/theorems.md,
//! "polish").
//!
//! A *class* is a set of neurons with the same sign of v and the same activation pattern
//! s_ij = [u_ij > 0] on every sample. On the data such neurons act through their sum
//! M_g = Σ_{j∈g} v_j w̃_j only: Σ_{j∈g} v_j σ(u_ij) = s_gi M_g·x̃_i. Within the *cell* of
//! a pattern, the max-margin problem is therefore convex in (M_g) (Pilanci & Ergen,
//! "Neural networks are convex regularizers", ICML 2020), since a balanced neuron has
//! ‖θ_j‖² = 2‖v_j w̃_j‖:
//!
//! min Σ_g ‖M_g‖  s.t.  y_i Σ_g s_gi M_g·x̃_i ≥ 1,  σ_gi M_g·x̃_i ≥ 0,
//!
//! where σ_gi = ±(2s_gi − 1) (sign of the class) keeps every class in its pattern. A
//! solution has the true margins of its network, and it is a KKT point of the
//! max-margin problem when every pattern constraint that binds (a kink, M_g·x̃_i = 0)
//! has a multiplier ν_gi that a Clarke derivative of the ReLU in [0, 1] absorbs.
//!
//! * [`merge`] gives every member of a class the class's direction (mass shared in
//!   proportion to v_j²): margins are unchanged on the data and ‖θ‖² = 2Σ‖M_g‖ can only
//!   shrink (triangle inequality), so the normalised margin never decreases.
//! * [`solve`] solves a cell's problem (a second-order cone program, by clarabel);
//!   [`blocking_pairs`] finds the binding pattern constraints that are not KKT, and
//!   [`Classes::next`] moves them to the other side of their kink, into a cell whose
//!   problem contains the current solution.
//!
//! Nothing here is trusted on its own: KKT is only what the certificate says.

use std::collections::BTreeMap;

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, NonnegativeConeT, SecondOrderConeT, SolverStatus};
use nalgebra::{DMatrix, DVector};

use super::sqp::{Aug, Params};

/// A class whose multiplier c_g is below this fraction of the largest is inactive.
const CLASS_DROP: f64 = 1e-7;

/// Neurons grouped by (sign of v, activation pattern on every sample).
pub(crate) struct Classes {
    /// Members of each class.
    pub members: Vec<Vec<usize>>,
    /// Sign of v of each class (true: positive).
    pub positive: Vec<bool>,
    /// Pattern of each class, one entry per sample.
    pub pattern: Vec<Vec<bool>>,
    /// M_g = Σ_{j∈g} v_j w̃_j, one row per class.
    pub sum: DMatrix<f64>,
}

impl Classes {
    /// Groups the non-zero neurons of `p` that are active on at least one sample; every
    /// other neuron contributes nothing on the data.
    pub fn of(p: &Params, aug: &Aug) -> Classes {
        let u = p.pre(aug);
        let (m, k) = u.shape();
        let mut groups: BTreeMap<(bool, Vec<bool>), Vec<usize>> = BTreeMap::new();
        for j in 0..k {
            if p.v[j] == 0.0 {
                continue;
            }
            let pat: Vec<bool> = (0..m).map(|i| u[(i, j)] > 0.0).collect();
            if pat.iter().any(|&b| b) {
                groups.entry((p.v[j] > 0.0, pat)).or_default().push(j);
            }
        }
        let ng = groups.len();
        let mut assign = DMatrix::zeros(ng, k);
        let (mut members, mut positive, mut pattern) = (Vec::new(), Vec::new(), Vec::new());
        for (g, ((pos, pat), js)) in groups.into_iter().enumerate() {
            for &j in &js {
                assign[(g, j)] = p.v[j];
            }
            members.push(js);
            positive.push(pos);
            pattern.push(pat);
        }
        Classes { members, positive, pattern, sum: assign * &p.w }
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Balanced parameters of width `k` in which class g is the vector `sums` row g: every
    /// member gets the direction ±M_g/‖M_g‖ and a share of the mass ‖M_g‖ proportional
    /// to its v_j² in `p`; every other neuron is zero.
    pub fn to_params(&self, p: &Params, sums: &DMatrix<f64>) -> Params {
        let (k, dt) = (p.w.nrows(), p.w.ncols());
        let mut out = Params { w: DMatrix::zeros(k, dt), v: DVector::zeros(k) };
        for g in 0..self.len() {
            let norm = sums.row(g).norm();
            if !(norm > 0.0 && norm.is_finite()) {
                continue;
            }
            let sign = if self.positive[g] { 1.0 } else { -1.0 };
            let mass: f64 = self.members[g].iter().map(|&j| p.v[j] * p.v[j]).sum();
            for &j in &self.members[g] {
                let vj = sign * (norm * p.v[j] * p.v[j] / mass).sqrt();
                out.v[j] = vj;
                out.w.row_mut(j).copy_from(&(sums.row(g) * (sign * vj.abs() / norm)));
            }
        }
        out
    }
}

/// Gives every class one direction (see the module docs); exact on the data.
pub(crate) fn merge(p: &Params, aug: &Aug) -> Params {
    let c = Classes::of(p, aug);
    c.to_params(p, &c.sum)
}

/// The solution of a cell's convex problem.
pub(crate) struct CellSolution {
    /// Class sums M_g at the optimum, one row per class.
    pub sums: DMatrix<f64>,
    /// Multipliers λ of the margins.
    pub lambda: DVector<f64>,
    /// Multipliers ν_gi of the pattern constraints, class-major (g·m + i).
    pub nu: Vec<f64>,
}

/// Solves the cell problem of `classes` with its pattern constraints,
///
/// min Σ_g t_g s.t. ‖M_g‖ ≤ t_g, y_i Σ_g s_gi M_g·x̃_i ≥ 1, σ_gi M_g·x̃_i ≥ 0,
///
/// σ_gi = ±(2s_gi − 1) with the sign of the class, by clarabel. `None` when the solver
/// does not reach optimality.
pub(crate) fn solve(classes: &Classes, aug: &Aug) -> Option<CellSolution> {
    let (m, ng, dt) = (aug.m(), classes.len(), aug.x.ncols());
    if ng == 0 {
        return None;
    }
    // Variables: M_g (dt each, class-major), then t_g. Rows: m margins, ng·m pattern
    // rows, then one cone (t_g, M_g) per class.
    let n = ng * (dt + 1);
    let (cone0, rows) = (m + ng * m, m + ng * m + ng * (dt + 1));
    let sigma = |g: usize, i: usize| {
        let s = if classes.pattern[g][i] { 1.0 } else { -1.0 };
        if classes.positive[g] {
            s
        } else {
            -s
        }
    };
    let (mut colptr, mut rowval, mut nzval) = (vec![0], Vec::new(), Vec::new());
    for g in 0..ng {
        for c in 0..dt {
            for i in (0..m).filter(|&i| classes.pattern[g][i] && aug.x[(i, c)] != 0.0) {
                rowval.push(i);
                nzval.push(-aug.y[i] * aug.x[(i, c)]);
            }
            for i in (0..m).filter(|&i| aug.x[(i, c)] != 0.0) {
                rowval.push(m + g * m + i);
                nzval.push(-sigma(g, i) * aug.x[(i, c)]);
            }
            rowval.push(cone0 + g * (dt + 1) + 1 + c);
            nzval.push(-1.0);
            colptr.push(rowval.len());
        }
    }
    for g in 0..ng {
        rowval.push(cone0 + g * (dt + 1));
        nzval.push(-1.0);
        colptr.push(rowval.len());
    }
    let am = CscMatrix::new(rows, n, colptr, rowval, nzval);
    let pm = CscMatrix::new(n, n, vec![0; n + 1], Vec::new(), Vec::new());
    let mut q = vec![0.0; n];
    for t in q.iter_mut().skip(ng * dt) {
        *t = 1.0;
    }
    let mut b = vec![0.0; rows];
    for t in b.iter_mut().take(m) {
        *t = -1.0;
    }
    let mut cones = vec![NonnegativeConeT(m + ng * m)];
    cones.extend((0..ng).map(|_| SecondOrderConeT(dt + 1)));
    let settings = DefaultSettings::<f64> {
        verbose: false,
        tol_gap_abs: 1e-11,
        tol_gap_rel: 1e-11,
        tol_feas: 1e-11,
        max_iter: 200,
        ..DefaultSettings::default()
    };
    let mut solver = DefaultSolver::new(&pm, &q, &am, &b, &cones, settings).ok()?;
    solver.solve();
    // A reduced-accuracy cell solution is still a usable step of the walk: it is only a
    // candidate, and KKT is decided by the certificate on the written network alone.
    if !matches!(solver.solution.status, SolverStatus::Solved | SolverStatus::AlmostSolved) {
        return None;
    }
    let x = &solver.solution.x;
    let z = &solver.solution.z;
    let mut sums = DMatrix::from_fn(ng, dt, |g, c| x[g * dt + c]);
    let tmax = (0..ng).map(|g| sums.row(g).norm()).fold(0.0f64, f64::max);
    for g in 0..ng {
        // Interior-point solutions leave inactive classes tiny, not zero.
        if sums.row(g).norm() <= CLASS_DROP * tmax {
            sums.row_mut(g).fill(0.0);
        }
    }
    let lmax = (0..m).map(|i| z[i]).fold(0.0f64, f64::max);
    let lambda = DVector::from_fn(m, |i, _| if z[i] > CLASS_DROP * lmax { z[i] } else { 0.0 });
    let nu = (0..ng * m).map(|r| z[m + r].max(0.0)).collect();
    Some(CellSolution { sums, lambda, nu })
}

/// Pairs (g, i) of active classes whose pattern constraint holds the solution back: a
/// multiplier ν_gi that no Clarke derivative s̃ ∈ [0, 1] of the ReLU at the kink can
/// absorb (s̃ = s_gi + ν_gi σ_gi/(λ_i y_i)). Flipping them leads into a neighbouring cell
/// whose problem contains the current solution, so its optimum is at least as good.
pub(crate) fn blocking_pairs(classes: &Classes, sol: &CellSolution, aug: &Aug) -> Vec<(usize, usize)> {
    let m = aug.m();
    let scale = sol.lambda.amax().max(f64::MIN_POSITIVE);
    let tol = 1e-7 * scale;
    let mut out = Vec::new();
    for g in 0..classes.len() {
        if sol.sums.row(g).norm() == 0.0 {
            continue;
        }
        for i in 0..m {
            let nu = sol.nu[g * m + i];
            if nu <= tol {
                continue;
            }
            let s = if classes.pattern[g][i] { 1.0 } else { 0.0 };
            let sigma = (2.0 * s - 1.0) * if classes.positive[g] { 1.0 } else { -1.0 };
            let lam = sol.lambda[i];
            let ok = lam > tol && {
                let st = s + nu * sigma / (lam * aug.y[i]);
                (-1e-6..=1.0 + 1e-6).contains(&st)
            };
            if !ok {
                out.push((g, i));
            }
        }
    }
    out
}

/// The Clarke derivative s̃_gi of every (sample, neuron) pair at the solution, m × k:
/// s_gi off the kinks, s_gi + ν_gi σ_gi/(λ_i y_i) clamped to [0, 1] at binding pattern
/// constraints; 0.5 for neurons outside the classes.
pub(crate) fn derivatives(classes: &Classes, sol: &CellSolution, aug: &Aug, k: usize) -> DMatrix<f64> {
    let m = aug.m();
    let mut out = DMatrix::from_element(m, k, 0.5);
    for g in 0..classes.len() {
        let sign = if classes.positive[g] { 1.0 } else { -1.0 };
        for i in 0..m {
            let s = if classes.pattern[g][i] { 1.0 } else { 0.0 };
            let (nu, lam) = (sol.nu[g * m + i], sol.lambda[i]);
            let st = if nu > 0.0 && lam > 0.0 { (s + nu * sign * (2.0 * s - 1.0) / (lam * aug.y[i])).clamp(0.0, 1.0) } else { s };
            for &j in &classes.members[g] {
                out[(i, j)] = st;
            }
        }
    }
    out
}

impl Classes {
    /// The `n` classes of largest ‖M_g‖ (all when there are at most `n`), in their order.
    pub fn heaviest(self, n: usize) -> Classes {
        if self.len() <= n {
            return self;
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|&a, &b| self.sum.row(b).norm().total_cmp(&self.sum.row(a).norm()).then(a.cmp(&b)));
        let mut keep = order[..n].to_vec();
        keep.sort_unstable();
        Classes {
            members: keep.iter().map(|&g| self.members[g].clone()).collect(),
            positive: keep.iter().map(|&g| self.positive[g]).collect(),
            pattern: keep.iter().map(|&g| self.pattern[g].clone()).collect(),
            sum: DMatrix::from_fn(keep.len(), self.sum.ncols(), |a, c| self.sum[(keep[a], c)]),
        }
    }

    /// The active classes of `sol` with the pairs `flip` moved to the other side of their
    /// kink; the class sums are those of the solution.
    pub fn next(&self, sol: &CellSolution, flip: &[(usize, usize)]) -> Classes {
        let keep: Vec<usize> = (0..self.len()).filter(|&g| sol.sums.row(g).norm() > 0.0).collect();
        let mut pattern: Vec<Vec<bool>> = keep.iter().map(|&g| self.pattern[g].clone()).collect();
        for &(g, i) in flip {
            if let Some(a) = keep.iter().position(|&h| h == g) {
                pattern[a][i] = !pattern[a][i];
            }
        }
        Classes {
            members: keep.iter().map(|&g| self.members[g].clone()).collect(),
            positive: keep.iter().map(|&g| self.positive[g]).collect(),
            pattern,
            sum: DMatrix::from_fn(keep.len(), sol.sums.ncols(), |a, c| sol.sums[(keep[a], c)]),
        }
    }
}
