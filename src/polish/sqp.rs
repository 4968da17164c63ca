//! The SQP iteration of [`super::polish`]: the network in augmented coordinates, the
//! normalised margin (the merit function), neuron balancing, and one linearised
//! max-margin step solved through its dual, a non-negative least-squares problem in the
//! Gram form of the L2 KKT certificate (see docs/kkt.md and docs/theorems.md).
//!
//! Augmented coordinates: x̃_i = (x_i, 1) and w̃_j = (w_j, b_j) for a network with bias,
//! x̃_i = x_i and w̃_j = w_j without. Then u_ij = w̃_j·x̃_i and the per-sample gradient
//! h_i has the blocks ∂w̃_j = y_i v_j s_ij x̃_i and ∂v_j = y_i σ(u_ij).

use nalgebra::{DMatrix, DVector};

use crate::data::Dataset;
use crate::net::{Net, NetError};

/// The dataset in augmented coordinates, with its Gram matrix.
pub(crate) struct Aug {
    /// x̃, m×d̃.
    pub x: DMatrix<f64>,
    /// Labels.
    pub y: DVector<f64>,
    /// x̃_i·x̃_l, m×m.
    pub xx: DMatrix<f64>,
}

impl Aug {
    /// Builds the augmented data for a network with or without bias.
    pub fn new(data: &Dataset, bias: bool) -> Aug {
        let (m, d) = (data.m(), data.d());
        let dt = if bias { d + 1 } else { d };
        let x = DMatrix::from_fn(m, dt, |i, c| if c < d { data.x()[(i, c)] } else { 1.0 });
        let xx = &x * x.transpose();
        Aug { x, y: data.y().clone(), xx }
    }

    /// Number of samples.
    pub fn m(&self) -> usize {
        self.x.nrows()
    }
}

/// Network parameters in augmented coordinates.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Params {
    /// w̃, k×d̃.
    pub w: DMatrix<f64>,
    /// v, length k.
    pub v: DVector<f64>,
}

impl Params {
    /// From a network.
    pub fn from_net(net: &Net) -> Params {
        let (k, d) = (net.width(), net.dim());
        let dt = if net.has_bias() { d + 1 } else { d };
        let w = DMatrix::from_fn(k, dt, |j, c| if c < d { net.w()[(j, c)] } else { net.bias(j) });
        Params { w, v: net.v().clone() }
    }

    /// Back to a network.
    pub fn to_net(&self, bias: bool) -> Result<Net, NetError> {
        let k = self.w.nrows();
        let d = if bias { self.w.ncols() - 1 } else { self.w.ncols() };
        let w = self.w.columns(0, d).into_owned();
        let b = bias.then(|| DVector::from_fn(k, |j, _| self.w[(j, d)]));
        Net::new(w, b, self.v.clone())
    }

    /// ‖θ‖².
    pub fn norm_sq(&self) -> f64 {
        self.w.norm_squared() + self.v.norm_squared()
    }

    /// Every parameter times `a`.
    pub fn scale(&mut self, a: f64) {
        self.w *= a;
        self.v *= a;
    }

    /// Pre-activations U = X̃ W̃ᵀ, m×k.
    pub fn pre(&self, aug: &Aug) -> DMatrix<f64> {
        &aug.x * self.w.transpose()
    }

    /// Margins q_i = y_i Σ_j v_j σ(u_ij).
    pub fn margins(&self, aug: &Aug) -> DVector<f64> {
        let sig = self.pre(aug).map(|t| t.max(0.0));
        (sig * &self.v).component_mul(&aug.y)
    }

    /// Scales so that the smallest margin is 1; returns the old q_min (the parameters
    /// are left unchanged when q_min ≤ 0 or is not finite).
    pub fn normalize(&mut self, aug: &Aug) -> f64 {
        let q_min = self.margins(aug).min();
        if q_min.is_finite() && q_min > 0.0 {
            self.scale(1.0 / q_min.sqrt());
        }
        q_min
    }

    /// Balances every neuron (‖w̃_j‖ = |v_j|, the function is unchanged and ‖θ‖ can only
    /// shrink). A neuron with w̃_j = 0 or v_j = 0 contributes nothing and is zeroed.
    pub fn balance(&mut self) {
        for j in 0..self.w.nrows() {
            let a = self.w.row(j).norm();
            let b = self.v[j].abs();
            if a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() {
                let s = (b / a).sqrt();
                self.w.row_mut(j).scale_mut(s);
                self.v[j] /= s;
            } else {
                self.w.row_mut(j).fill(0.0);
                self.v[j] = 0.0;
            }
        }
    }
}

/// The normalised margin γ(θ) = q_min(θ)/‖θ‖² (Lyu & Li 2020): scale-invariant, and its
/// Clarke stationary points are the KKT points of the max-margin problem.
pub(crate) fn normalized_margin(p: &Params, aug: &Aug) -> f64 {
    let n2 = p.norm_sq();
    if n2 > 0.0 {
        p.margins(aug).min() / n2
    } else {
        f64::NEG_INFINITY
    }
}

/// The Gram matrix K = Hᵀ H of the per-sample gradients at the pattern s_ij = [u_ij > 0]:
/// K_il = y_i y_l [ (Σ_j s_ij s_lj v_j²) x̃_i·x̃_l + Σ_j σ(u_ij) σ(u_lj) ].
pub(crate) fn gram(p: &Params, aug: &Aug, u: &DMatrix<f64>) -> DMatrix<f64> {
    let (m, k) = u.shape();
    let o = DMatrix::from_fn(m, k, |i, j| if u[(i, j)] > 0.0 { p.v[j] } else { 0.0 });
    let sig = u.map(|t| t.max(0.0));
    let oo = &o * o.transpose();
    let ss = &sig * sig.transpose();
    DMatrix::from_fn(m, m, |i, l| aug.y[i] * aug.y[l] * (oo[(i, l)] * aug.xx[(i, l)] + ss[(i, l)]))
}

/// θ' = Σ_i λ_i h_i at the pattern of `u`: w̃'_j = v_j Σ_i λ_i y_i s_ij x̃_i and
/// v'_j = Σ_i λ_i y_i σ(u_ij).
pub(crate) fn combine(p: &Params, aug: &Aug, u: &DMatrix<f64>, lambda: &DVector<f64>) -> Params {
    let (m, k) = u.shape();
    let ly = lambda.component_mul(&aug.y);
    let c = DMatrix::from_fn(m, k, |i, j| if u[(i, j)] > 0.0 { ly[i] } else { 0.0 });
    let mut w = c.transpose() * &aug.x;
    for j in 0..k {
        w.row_mut(j).scale_mut(p.v[j]);
    }
    let sig = u.map(|t| t.max(0.0));
    let v = sig.transpose() * ly;
    Params { w, v }
}

/// Outcome of one SQP subproblem at θ_t (normalised: q_min = 1).
pub(crate) struct Step {
    /// Multipliers of the linearised problem (the NNLS solution).
    pub lambda: DVector<f64>,
    /// Its primal solution θ_QP = Σ λ_i h_i.
    pub target: Params,
}

/// Solves min ½‖θ‖² s.t. q_i(θ_t) + h_i·(θ − θ_t) ≥ 1. As h_i·θ_t = 2 q_i (Euler), the
/// constraints are h_i·θ ≥ 1 + q_i and the dual is min_{λ ≥ 0} ½ λᵀKλ − (1 + q)ᵀλ.
pub(crate) fn step(p: &Params, aug: &Aug) -> Step {
    let u = p.pre(aug);
    let k = gram(p, aug, &u);
    let q = p.margins(aug);
    let r = q.map(|t| 1.0 + t);
    let (lambda, _converged) = nnls(&k, &r, 10 * aug.m() + 100);
    let target = combine(p, aug, &u, &lambda);
    Step { lambda, target }
}

/// Dense Lawson–Hanson NNLS in Gram form: min ½ zᵀ G z − cᵀ z, z ≥ 0 (Lawson & Hanson,
/// *Solving Least Squares Problems*, 1974, ch. 23). Returns the solution and whether the
/// optimality conditions were met within `max_iter` iterations.
pub(crate) fn nnls(g: &DMatrix<f64>, c: &DVector<f64>, max_iter: usize) -> (DVector<f64>, bool) {
    let n = c.len();
    let scale = c.amax().max(f64::MIN_POSITIVE);
    let tol = 1e-13 * scale;
    let mut passive = vec![false; n];
    let mut z = DVector::zeros(n);
    let mut iterations = 0;
    loop {
        let w = c - g * &z;
        let best = (0..n).filter(|&p| !passive[p] && w[p] > tol).max_by(|&a, &b| w[a].total_cmp(&w[b]));
        let Some(t) = best else { return (z, true) };
        if iterations >= max_iter {
            return (z, false);
        }
        passive[t] = true;
        loop {
            iterations += 1;
            let pset: Vec<usize> = (0..n).filter(|&p| passive[p]).collect();
            let sp = solve_sub(g, c, &pset);
            if sp.iter().all(|&s| s > 0.0) {
                for (&p, &s) in pset.iter().zip(sp.iter()) {
                    z[p] = s;
                }
                break;
            }
            let mut alpha = 1.0f64;
            for (&p, &s) in pset.iter().zip(sp.iter()) {
                if s <= 0.0 {
                    let den = z[p] - s;
                    alpha = alpha.min(if den > 0.0 { z[p] / den } else { 0.0 });
                }
            }
            for (&p, &s) in pset.iter().zip(sp.iter()) {
                z[p] += alpha * (s - z[p]);
                if z[p] <= 0.0 || (s <= 0.0 && z[p] <= 1e-300) {
                    z[p] = 0.0;
                    passive[p] = false;
                }
            }
            // Guarantee progress: drop the most negative entry if nothing left the set.
            if pset.iter().all(|&p| passive[p]) {
                if let Some((&p, _)) = pset.iter().zip(sp.iter()).filter(|(_, &s)| s <= 0.0).min_by(|a, b| a.1.total_cmp(b.1)) {
                    z[p] = 0.0;
                    passive[p] = false;
                }
            }
            if !passive.iter().any(|&b| b) || iterations >= max_iter {
                break;
            }
        }
    }
}

/// Solves G_PP s = c_P by Cholesky, with a growing ridge if G_PP is numerically singular.
fn solve_sub(g: &DMatrix<f64>, c: &DVector<f64>, pset: &[usize]) -> DVector<f64> {
    let n = pset.len();
    let sub = DMatrix::from_fn(n, n, |a, b| g[(pset[a], pset[b])]);
    let rhs = DVector::from_fn(n, |a, _| c[pset[a]]);
    let dmax = (0..n).map(|a| sub[(a, a)]).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    let mut ridge = 0.0;
    for _ in 0..10 {
        let mut m = sub.clone();
        for a in 0..n {
            m[(a, a)] += ridge;
        }
        if let Some(ch) = m.cholesky() {
            let s = ch.solve(&rhs);
            if s.iter().all(|t| t.is_finite()) {
                return s;
            }
        }
        ridge = if ridge == 0.0 { 1e-15 * dmax } else { ridge * 100.0 };
    }
    DVector::zeros(n)
}
