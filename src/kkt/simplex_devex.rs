//! Devex pricing for [`Simplex`] (docs/kkt.md, "LP norms"): the entering column
//! maximises d_j²/w_j, with w_j Forrest–Goldfarb's reference weights approximating the
//! squared norm of the edge direction. The reduced costs d_j of all columns are kept
//! and updated at every pivot from the pivot row α_r = (B⁻¹)_r A, which also updates
//! the weights; they are recomputed from π at the start of a solve and at every
//! refactorisation, so rounding does not accumulate.

use nalgebra::DVector;

use super::{Simplex, DTOL};

impl Simplex {
    /// Recomputes every reduced cost from π (weights reset to 1 for new columns).
    pub(super) fn devex_reset(&mut self) {
        let pi = self.duals_fast();
        let n = self.ncols();
        self.dj.resize(n, 0.0);
        // A fresh reference framework: the weights only grow between resets.
        self.w.clear();
        self.w.resize(n, 1.0);
        self.dots_into(&pi, |s, j| s.pos[j] == usize::MAX);
        for j in 0..n {
            self.dj[j] = if self.pos[j] != usize::MAX { 0.0 } else { self.phase_cost(j) - self.dots[j] };
        }
    }

    /// The eligible column with the largest d_j²/w_j.
    pub(super) fn devex_price(&self) -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64, f64)> = None;
        for j in 0..self.ncols() {
            if self.pos[j] != usize::MAX || self.lo[j] >= self.hi[j] {
                continue;
            }
            let d = self.dj[j];
            let eligible = (d > DTOL && self.x[j] < self.hi[j]) || (d < -DTOL && self.x[j] > self.lo[j]);
            if eligible {
                let score = d * d / self.w[j];
                if best.is_none_or(|(_, _, s)| score > s) {
                    best = Some((j, d, score));
                }
            }
        }
        best.map(|(j, d, _)| (j, d))
    }

    /// Updates the reduced costs and weights for q entering at row r (before B⁻¹ is).
    pub(super) fn devex_update(&mut self, q: usize, r: usize, alpha: &DVector<f64>) {
        let arq = alpha[r];
        let rho = self.binv_row(r);
        let theta = self.dj[q] / arq;
        let wq = self.w[q];
        self.dots_into(&rho, |s, j| s.pos[j] == usize::MAX && j != q);
        for j in 0..self.ncols() {
            if self.pos[j] != usize::MAX || j == q {
                continue;
            }
            let arj = self.dots[j];
            if arj != 0.0 {
                self.dj[j] -= theta * arj;
                let ratio = arj / arq;
                self.w[j] = self.w[j].max(ratio * ratio * wq);
            }
        }
        let out = self.basis[r];
        self.dj[out] = -theta;
        self.w[out] = (wq / (arq * arq)).max(1.0);
        self.dj[q] = 0.0;
    }
}
