//! Bound perturbation against degeneracy for [`Simplex`] (docs/kkt.md, "LP norms"), and
//! the clean-up that removes it exactly.
//!
//! The dual masters start with most basic variables at a bound (the unit columns at 0),
//! so Dantzig's steps are mostly of length 0. Before phase 2, every basic variable's
//! bounds are moved outward by a small pseudo-random amount; a basic variable is then
//! no longer at its bound and ties in the ratio test are broken. When phase 2 is
//! optimal for the perturbed bounds, the original bounds are restored (nonbasic
//! variables return to them) and the basic values recomputed; the reduced costs do not
//! depend on the bounds, so the basis is still dual feasible, and the few basic values
//! now outside their bounds are removed by dual simplex pivots. Phase 2 then re-prices
//! on the exact problem, so "optimal" is declared only for the original bounds.

use std::time::Instant;

use super::{Outcome, Simplex, DTOL, PTOL};

/// Relative size of the bound shifts (in the unit-norm column scaling).
const PERTURB: f64 = 1e-7;

impl Simplex {
    /// Moves the bounds of the basic (non-artificial) variables outward by
    /// PERTURB·(1 + |bound|)·u with u pseudo-random in [1, 2), saving the originals.
    pub(super) fn perturb(&mut self) {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ self.iterations as u64;
        for i in 0..self.m {
            let j = self.basis[i];
            if self.art[j] {
                continue;
            }
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = 1.0 + (seed >> 11) as f64 / (1u64 << 53) as f64;
            self.saved.push((j, self.lo[j], self.hi[j]));
            self.lo[j] -= PERTURB * (1.0 + self.lo[j].abs()) * u;
            if self.hi[j].is_finite() {
                self.hi[j] += PERTURB * (1.0 + self.hi[j].abs()) * u;
            }
        }
    }

    /// Restores the saved bounds, puts nonbasic variables back on them and recomputes
    /// the basic values. False if the refactorisation fails.
    pub(super) fn unperturb(&mut self) -> bool {
        if self.saved.is_empty() {
            return true;
        }
        for (j, lo, hi) in std::mem::take(&mut self.saved) {
            if self.pos[j] == usize::MAX {
                if self.x[j] <= self.lo[j] || self.x[j] < lo {
                    self.x[j] = lo;
                } else if self.x[j] >= self.hi[j] || self.x[j] > hi {
                    self.x[j] = hi;
                }
            }
            self.lo[j] = lo;
            self.hi[j] = hi;
        }
        self.refactor()
    }

    /// Dual simplex pivots until every basic value is within its bounds (PTOL), from a
    /// dual-feasible basis. `None` when feasible; otherwise how it stopped.
    pub(super) fn dual_cleanup(&mut self, limit: usize, deadline: Instant) -> Option<Outcome> {
        loop {
            if self.iterations >= limit || Instant::now() > deadline {
                return Some(Outcome::Limit);
            }
            // Leaving row: the largest bound violation.
            let mut leave: Option<(usize, f64, f64)> = None;
            for (i, &j) in self.basis.iter().enumerate() {
                let (below, above) = (self.lo[j] - self.x[j], self.x[j] - self.hi[j]);
                let (viol, target) = if below > above { (below, self.lo[j]) } else { (above, self.hi[j]) };
                if viol > PTOL && leave.is_none_or(|(_, v, _)| viol > v) {
                    leave = Some((i, viol, target));
                }
            }
            let (r, _, target) = leave?;
            // x_r must move by delta = target − x_r; x_B changes by −α_j·Δx_j.
            let up = target > self.x[self.basis[r]];
            let pi = self.duals_fast();
            let rho = self.binv_row(r);
            let mut best: Option<(usize, f64, f64)> = None;
            self.dots_into(&rho, |s, j| s.pos[j] == usize::MAX && s.lo[j] < s.hi[j]);
            for j in 0..self.ncols() {
                if self.pos[j] != usize::MAX || self.lo[j] >= self.hi[j] {
                    continue;
                }
                let arj = self.dots[j];
                if arj.abs() <= 1e-9 {
                    continue;
                }
                // Δx_j > 0 needs x_j below hi; the row moves by −arj·Δx_j.
                let inc = (up && arj < 0.0) || (!up && arj > 0.0);
                let ok = if inc { self.x[j] < self.hi[j] } else { self.x[j] > self.lo[j] };
                if !ok {
                    continue;
                }
                let d = self.phase_cost(j) - self.col_dot(j, &pi);
                let ratio = d.abs().max(0.0) / arj.abs();
                let better = match best {
                    None => true,
                    Some((_, br, ba)) => ratio < br - DTOL || (ratio <= br + DTOL && arj.abs() > ba),
                };
                if better {
                    best = Some((j, ratio, arj.abs()));
                }
            }
            let Some((q, _, _)) = best else {
                // No column can repair row r: the exact problem is infeasible.
                return Some(Outcome::Infeasible);
            };
            let alpha = self.ftran(q);
            let dx = (self.x[self.basis[r]] - target) / alpha[r];
            for i in 0..self.m {
                let j = self.basis[i];
                self.x[j] -= alpha[i] * dx;
            }
            self.x[q] += dx;
            let out = self.basis[r];
            self.x[out] = target;
            self.pivot(q, r, &alpha);
            self.iterations += 1;
        }
    }
}
