//! One simplex iteration of [`Simplex`] (docs/kkt.md, "LP norms"): the anti-cycling
//! pricing segment, the two-pass Harris ratio test with bound flips, and the pivot
//! that updates the explicit basis inverse.

use nalgebra::DVector;

use super::{Simplex, DTOL, PIVOT_REL, PTOL};

impl Simplex {
    /// Entering column and its reduced cost after a run of degenerate devex pivots:
    /// Dantzig's largest |d_j| over a short segment of 64 columns starting at a
    /// pseudo-random position (against cycling); the first segment with an eligible
    /// column wins, and every column is priced before optimality is declared.
    pub(super) fn price(&mut self, pi: &[f64]) -> Option<(usize, f64)> {
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
            let d = self.phase_cost(j) - self.col_dot(j, pi);
            let eligible = (d > DTOL && self.x[j] < self.hi[j]) || (d < -DTOL && self.x[j] > self.lo[j]);
            if eligible && best.is_none_or(|(_, b)| d.abs() > b.abs()) {
                best = Some((j, d));
            }
        }
        best
    }

    /// Moves column q in the direction of its reduced cost; returns the step length,
    /// or None when unbounded.
    pub(super) fn step(&mut self, q: usize, dq: f64) -> Option<f64> {
        let m = self.m;
        let dir = if dq > 0.0 { 1.0 } else { -1.0 };
        let alpha = self.ftran(q);
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
    pub(super) fn pivot(&mut self, q: usize, r: usize, alpha: &DVector<f64>) {
        let out = self.basis[r];
        self.devex_update(q, r, alpha);
        self.pos[out] = usize::MAX;
        self.pos[q] = r;
        self.basis[r] = q;
        self.update_inverse(r, alpha.as_slice());
        self.since_refactor += 1;
    }
}

