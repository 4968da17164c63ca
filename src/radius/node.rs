//! One node of the exact-radius search: the sample's problem data ([`Problem`]), what
//! depends on the current ball radius ([`Frame`]: stable neurons and the linear part of
//! the flip constraint), the node's relaxation and its projection QP with cutting
//! planes ([`Problem::evaluate`]), and the forward-pass confirmation of a witness
//! ([`Problem::confirm`]).
//!
//! The relaxation is derived in docs/radius.md and in the module doc of
//! [`super::exact`].

use super::qp::{clarabel_project, dual_distance, DualActiveSet, QpStatus};
use super::{QpBackend, RadiusSettings};
use crate::net::Net;

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Problem data for one sample.
pub(crate) struct Problem<'a> {
    pub(crate) net: &'a Net,
    pub(crate) x: &'a [f64],
    pub(crate) y: f64,
    pub(crate) d: usize,
    /// Neurons that matter (α ≠ 0, w ≠ 0).
    pub(crate) neurons: Vec<usize>,
    pub(crate) rows: Vec<Vec<f64>>,
    pub(crate) bias: Vec<f64>,
    pub(crate) alpha: Vec<f64>,
    pub(crate) u0: Vec<f64>,
    pub(crate) wn: Vec<f64>,
    /// Σ α_j σ(b_j) over neurons with w_j = 0.
    pub(crate) konst: f64,
}

/// What depends on the current upper bound r.
pub(crate) struct Frame {
    pub(crate) r: f64,
    /// Stable state per neuron (`Some(on)`), `None` when unstable.
    pub(crate) stable: Vec<Option<bool>>,
    pub(crate) unstable_p: Vec<usize>,
    pub(crate) unstable_q: Vec<usize>,
    pub(crate) lin: Vec<f64>,
    pub(crate) lin_c: f64,
}

/// Constraint store shared by the two QP backends.
enum Solver {
    Gi(DualActiveSet),
    Clarabel { x0: Vec<f64>, a: Vec<Vec<f64>>, c: Vec<f64>, delta: Vec<f64>, lambda: Vec<f64> },
}

impl Solver {
    fn new(backend: QpBackend, x0: &[f64], tol: f64) -> Solver {
        match backend {
            QpBackend::DualActiveSet => Solver::Gi(DualActiveSet::new(x0.len(), tol)),
            QpBackend::Clarabel => Solver::Clarabel {
                x0: x0.to_vec(),
                a: Vec::new(),
                c: Vec::new(),
                delta: vec![0.0; x0.len()],
                lambda: Vec::new(),
            },
        }
    }

    /// Adds `a·z ≤ c` in absolute coordinates.
    fn add(&mut self, x0: &[f64], a: Vec<f64>, c: f64) {
        match self {
            Solver::Gi(qp) => {
                let e = c - dot(&a, x0);
                qp.add(a, e);
            }
            Solver::Clarabel { a: aa, c: cc, .. } => {
                aa.push(a);
                cc.push(c);
            }
        }
    }

    fn solve(&mut self, max_iter: usize) -> QpStatus {
        match self {
            Solver::Gi(qp) => qp.solve(max_iter),
            Solver::Clarabel { x0, a, c, delta, lambda } => {
                if a.is_empty() {
                    return QpStatus::Optimal;
                }
                let (st, z, lam) = clarabel_project(x0, a, c);
                for ((dk, zk), xk) in delta.iter_mut().zip(&z).zip(x0.iter()) {
                    *dk = zk - xk;
                }
                *lambda = lam;
                st
            }
        }
    }

    fn delta(&self) -> &[f64] {
        match self {
            Solver::Gi(qp) => qp.delta(),
            Solver::Clarabel { delta, .. } => delta,
        }
    }

    fn lower(&self) -> f64 {
        match self {
            Solver::Gi(qp) => qp.dual_distance(),
            Solver::Clarabel { x0, a, c, lambda, .. } => {
                if lambda.len() == a.len() {
                    dual_distance(x0, a, c, lambda)
                } else {
                    0.0
                }
            }
        }
    }
}

pub(crate) struct Eval {
    pub(crate) lb: f64,
    pub(crate) delta: Vec<f64>,
    pub(crate) branch: Option<usize>,
    pub(crate) status: QpStatus,
}

impl<'a> Problem<'a> {
    pub(crate) fn new(net: &'a Net, x: &'a [f64], y: f64) -> Problem<'a> {
        let (k, d) = (net.width(), net.dim());
        let mut p = Problem {
            net,
            x,
            y,
            d,
            neurons: Vec::new(),
            rows: Vec::with_capacity(k),
            bias: Vec::with_capacity(k),
            alpha: Vec::with_capacity(k),
            u0: Vec::with_capacity(k),
            wn: Vec::with_capacity(k),
            konst: 0.0,
        };
        for j in 0..k {
            let row: Vec<f64> = net.w().row(j).iter().copied().collect();
            let wn = dot(&row, &row).sqrt();
            let b = net.bias(j);
            let alpha = y * net.v()[j];
            let u0 = dot(&row, x) + b;
            if alpha != 0.0 && wn == 0.0 {
                p.konst += alpha * b.max(0.0);
            }
            if alpha != 0.0 && wn > 0.0 {
                p.neurons.push(j);
            }
            p.rows.push(row);
            p.bias.push(b);
            p.alpha.push(alpha);
            p.u0.push(u0);
            p.wn.push(wn);
        }
        p
    }

    pub(crate) fn frame(&self, r: f64) -> Frame {
        let k = self.rows.len();
        let mut f = Frame {
            r,
            stable: vec![None; k],
            unstable_p: Vec::new(),
            unstable_q: Vec::new(),
            lin: vec![0.0; self.d],
            lin_c: self.konst,
        };
        for &j in &self.neurons {
            if self.u0[j].abs() >= r * self.wn[j] {
                let on = self.u0[j] > 0.0;
                f.stable[j] = Some(on);
                if on {
                    for (lk, wk) in f.lin.iter_mut().zip(&self.rows[j]) {
                        *lk += self.alpha[j] * wk;
                    }
                    f.lin_c += self.alpha[j] * self.bias[j];
                }
            } else if self.alpha[j] > 0.0 {
                f.unstable_p.push(j);
            } else {
                f.unstable_q.push(j);
            }
        }
        f
    }

    /// `y·N(z)` by the network's own forward pass.
    pub(crate) fn margin_at(&self, z: &[f64]) -> f64 {
        self.y * self.net.forward_one(z)
    }

    /// Confirms a candidate step by the forward pass: first `y·N ≤ 0` exactly at
    /// `x + (1 + s)δ` for the stretches `s` (a boundary point may round to the wrong
    /// side), then, for flip sets without interior (where no stretch helps), `y·N(x + δ)
    /// ≤ witness_tol · S` with `S = Σ_j |v_j| (‖w_j‖(‖x‖ + ‖δ‖) + |b_j|)`, the scale
    /// of the rounding in forming `x + δ` and the forward pass. Returns the witness and its distance.
    pub(crate) fn confirm(&self, delta: &[f64], settings: &RadiusSettings) -> Option<(Vec<f64>, f64)> {
        let point = |s: f64| -> Vec<f64> { self.x.iter().zip(delta).map(|(a, b)| a + (1.0 + s) * b).collect() };
        let dist = |z: &[f64]| z.iter().zip(self.x).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        for &s in &settings.witness_stretch {
            let z = point(s);
            if self.margin_at(&z) <= 0.0 {
                let dd = dist(&z);
                return Some((z, dd));
            }
        }
        let z = point(0.0);
        let zn = dot(self.x, self.x).sqrt() + dot(delta, delta).sqrt();
        let scale: f64 = (0..self.rows.len()).map(|j| self.net.v()[j].abs() * (self.wn[j] * zn + self.bias[j].abs())).sum();
        if self.margin_at(&z) <= settings.witness_tol * scale {
            let dd = dist(&z);
            return Some((z, dd));
        }
        None
    }

    pub(crate) fn evaluate(&self, frame: &Frame, assign: &[(usize, bool)], settings: &RadiusSettings, tol: f64) -> Eval {
        let infeasible = Eval { lb: f64::INFINITY, delta: vec![0.0; self.d], branch: None, status: QpStatus::Infeasible };
        let r = frame.r;
        let mut solver = Solver::new(settings.backend, self.x, tol);
        let mut lin = frame.lin.clone();
        let mut lin_c = frame.lin_c;
        let mut assigned = vec![false; 0];
        assigned.resize(self.rows.len(), false);
        for &(j, on) in assign {
            assigned[j] = true;
            if let Some(s) = frame.stable[j] {
                if s != on {
                    return infeasible;
                }
                continue;
            }
            let row = &self.rows[j];
            if on {
                solver.add(self.x, row.iter().map(|t| -t).collect(), self.bias[j]);
                for (lk, wk) in lin.iter_mut().zip(row) {
                    *lk += self.alpha[j] * wk;
                }
                lin_c += self.alpha[j] * self.bias[j];
            } else {
                solver.add(self.x, row.clone(), -self.bias[j]);
            }
        }
        let unassigned: Vec<usize> = frame.unstable_q.iter().copied().filter(|&j| !assigned[j]).collect();
        let flip = r.is_finite() || unassigned.is_empty();
        if flip {
            for &j in &unassigned {
                let kappa = (self.u0[j] + r * self.wn[j]) / (2.0 * r * self.wn[j]);
                let l = self.u0[j] - r * self.wn[j];
                let coef = self.alpha[j] * kappa;
                for (lk, wk) in lin.iter_mut().zip(&self.rows[j]) {
                    *lk += coef * wk;
                }
                lin_c += coef * (self.bias[j] - l);
            }
        }
        let cut_for = |z: &[f64]| -> (Vec<f64>, f64, f64) {
            // The cut of the P-neurons on at z, and g_node(z).
            let mut a = lin.clone();
            let mut c = lin_c;
            for &j in &frame.unstable_p {
                let u = dot(&self.rows[j], z) + self.bias[j];
                if u > 0.0 {
                    for (ak, wk) in a.iter_mut().zip(&self.rows[j]) {
                        *ak += self.alpha[j] * wk;
                    }
                    c += self.alpha[j] * self.bias[j];
                }
            }
            let g = dot(&a, z) + c;
            (a, c, g)
        };
        let max_iter = settings.qp_max_iterations;
        let mut status;
        let mut cuts = 0usize;
        if flip {
            let (a, c, _) = cut_for(self.x);
            solver.add(self.x, a, -c);
        }
        loop {
            status = solver.solve(max_iter);
            if status != QpStatus::Optimal || !flip {
                break;
            }
            let z: Vec<f64> = self.x.iter().zip(solver.delta()).map(|(a, b)| a + b).collect();
            let (a, c, g) = cut_for(&z);
            let an = dot(&a, &a).sqrt();
            let viol = if an > 0.0 { g / an } else if g > 0.0 { f64::INFINITY } else { 0.0 };
            if viol <= tol {
                break;
            }
            cuts += 1;
            if cuts > settings.max_cuts {
                status = QpStatus::IterationLimit;
                break;
            }
            solver.add(self.x, a, -c);
        }
        if status == QpStatus::Infeasible {
            return infeasible;
        }
        let lb = solver.lower();
        let delta = solver.delta().to_vec();
        // Branching neuron: the largest relaxation gap at the node's point.
        let z: Vec<f64> = self.x.iter().zip(&delta).map(|(a, b)| a + b).collect();
        let mut branch = None;
        let mut best = -1.0;
        for &j in &unassigned {
            let u = dot(&self.rows[j], &z) + self.bias[j];
            let gap = if r.is_finite() {
                let l = self.u0[j] - r * self.wn[j];
                let kappa = (self.u0[j] + r * self.wn[j]) / (2.0 * r * self.wn[j]);
                (-self.alpha[j]) * (kappa * (u - l) - u.max(0.0)) / ((-self.alpha[j]) * self.wn[j] * r)
            } else {
                1.0 / (1.0 + self.u0[j].abs() / self.wn[j])
            };
            if gap > best {
                best = gap;
                branch = Some(j);
            }
        }
        Eval { lb, delta, branch, status }
    }
}

