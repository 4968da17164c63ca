//! Ranges of relaxed neurons tightened by a node's branching signs (docs/radius.md,
//! "Tighter ranges").
//!
//! A relaxed neuron j is replaced by the chord of σ over the range of `u_j` on the
//! node's region inside the ball `‖z − x‖ ≤ R`. The ball alone gives
//! `u_j(x) ∓ R‖w_j‖`; the path's sign constraints `s_i u_i(z) ≤ 0` (s = −1 for on,
//! +1 for off) cut the ball and shrink it. For multipliers `m_i ≥ 0`,
//!
//! ```text
//!   u_j(z) ≤ u_j(z) − Σ m_i s_i u_i(z) = ν·u(z) = ν·u(x) + (Wᵀν)·(z − x) ≤ ν·u(x) + R‖Wᵀν‖
//! ```
//!
//! with `ν = e_j − Σ m_i s_i e_i` (and `−u_j` likewise for the lower end). This is the
//! Lagrangian dual of `max w_j·δ` over the ball and the half-spaces, so the best `m`
//! gives the exact range. The search picks `m` by coordinate descent, each coordinate
//! in closed form (`best_step`); the bound itself is evaluated with every rounding
//! error bounded ([`Sample::range_bound`]), so a [`Range`] in a proof is checked by
//! recomputing it, whatever `m` is.

// `!(a < b)` on purpose: a NaN must stop the descent and give no multiplier.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use serde::{Deserialize, Serialize};

use super::certify::{down, gamma, up, Leaf, LeafError, Sample};

/// A bound on one relaxed neuron's pre-activation over a leaf's region in its ball,
/// from multipliers on the leaf's sign constraints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// The neuron j whose `u_j` is bounded.
    pub neuron: usize,
    /// True for an upper bound on `u_j`, false for a lower bound.
    pub upper: bool,
    /// `(position in the leaf's path, multiplier m ≥ 0)`.
    pub mult: Vec<(usize, f64)>,
}

/// Why a range is malformed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RangeError {
    /// A path position out of range.
    Position(usize),
    /// A neuron index out of range.
    Neuron(usize),
    /// A multiplier negative or not finite.
    Multiplier,
}

impl Sample<'_> {
    /// An upper bound of `max ±u_j(z)` over the points of the region of `path` with
    /// `‖z − x‖ ≤ r`, certified from the multipliers with every rounding bounded.
    pub(crate) fn range_bound(&self, path: &[(usize, bool)], range: &Range, r: f64) -> Result<f64, RangeError> {
        let w = self.net.w();
        let sign = if range.upper { 1.0 } else { -1.0 };
        let k = self.net.width();
        if range.neuron >= k {
            return Err(RangeError::Neuron(range.neuron));
        }
        // ν as sparse terms (neuron, coefficient); each coefficient is exact (±1 or ±m).
        let mut terms = Vec::with_capacity(range.mult.len() + 1);
        terms.push((range.neuron, sign));
        for &(pos, m) in &range.mult {
            let &(i, on) = path.get(pos).ok_or(RangeError::Position(pos))?;
            if i >= k {
                return Err(RangeError::Neuron(i));
            }
            if !(m.is_finite() && m >= 0.0) {
                return Err(RangeError::Multiplier);
            }
            terms.push((i, if on { m } else { -m }));
        }
        let n = terms.len();
        let d = self.net.dim();
        // ν·u(x) with the errors of the sum and of u(x).
        let (mut lin, mut lin_abs, mut err_u) = (0.0, 0.0, 0.0);
        for &(k, c) in &terms {
            lin += c * self.u0[k];
            lin_abs += (c * self.u0[k]).abs();
            err_u += c.abs() * self.e0[k];
        }
        let lin_up = up(lin + up(gamma(n + 2) * lin_abs) + up(err_u * (1.0 + gamma(n + 2))));
        // ‖Wᵀν‖ from above (each component's sum with its rounding bound).
        let (mut q2, mut f2) = (0.0, 0.0);
        for col in 0..d {
            let (mut s, mut sa) = (0.0, 0.0);
            for &(k, c) in &terms {
                s += w[(k, col)] * c;
                sa += (w[(k, col)] * c).abs();
            }
            q2 += s * s;
            let f = gamma(n + 2) * sa;
            f2 += f * f;
        }
        let norm_up = up(up(q2.sqrt() * (1.0 + gamma(d + 2))) + up(f2.sqrt() * (1.0 + gamma(d + 2))));
        Ok(up(lin_up + up(r * norm_up)))
    }

    /// The certified range `[lo, hi]` of `u_j` on the ball of radius r alone.
    pub(crate) fn ball_range(&self, j: usize, r: f64) -> (f64, f64) {
        let reach = up(r * self.wn_up[j]);
        (down(down(self.u0[j] - self.e0[j]) - reach), up(up(self.u0[j] + self.e0[j]) + reach))
    }

    /// The certified range of every neuron's `u_j` over the leaf's region in its ball:
    /// the ball's, cut by each of the leaf's ranges (unbounded without a ball).
    pub(crate) fn leaf_ranges(&self, leaf: &Leaf) -> Result<Vec<(f64, f64)>, LeafError> {
        let k = self.net.width();
        let Some(r) = leaf.ball.filter(|r| r.is_finite()) else {
            return Ok(vec![(f64::NEG_INFINITY, f64::INFINITY); k]);
        };
        let mut out: Vec<(f64, f64)> = (0..k).map(|j| self.ball_range(j, r)).collect();
        for rg in &leaf.ranges {
            let b = self.range_bound(&leaf.path, rg, r).map_err(|_| LeafError::BadRange(rg.neuron))?;
            let slot = out.get_mut(rg.neuron).ok_or(LeafError::BadRange(rg.neuron))?;
            if rg.upper {
                slot.1 = slot.1.min(b);
            } else {
                slot.0 = slot.0.max(-b);
            }
        }
        Ok(out)
    }
}

/// The multiplier `t ≥ 0` minimising `t·e + R‖p − t·q‖` for the half-space
/// `q·δ ≤ e`, from `p·q`, `‖p‖²` and `‖q‖²` (closed form; 0 when the half-space does
/// not cut the ball's extreme point in direction p).
pub(crate) fn best_step(pq: f64, pp: f64, qq: f64, e: f64, r: f64) -> f64 {
    if qq == 0.0 || !(e.abs() < r * qq.sqrt()) {
        return 0.0;
    }
    let s = pq / qq;
    let perp = (pp - pq * s).max(0.0).sqrt();
    let tau = e * perp / (qq.sqrt() * (r * r * qq - e * e).sqrt());
    let t = s - tau;
    if t.is_finite() && t > 0.0 {
        t
    } else {
        0.0
    }
}

/// Multipliers on the path's sign constraints that tighten the range of `±u_j` in the
/// ball of radius r: coordinate descent from 0 on `Σ m_i e_i + R‖p(m)‖`, until a round
/// gains less than [`ROUND_GAIN`] of the ball's half-width or [`MAX_ROUNDS`] rounds;
/// only the positive multipliers are returned. Each coordinate costs one dot product
/// (`‖p‖²` is carried along), and p moves only when its multiplier does. `init` warm
/// starts the descent (the parent node's multipliers: its path is a prefix of this one).
pub(crate) fn tighten(s: &Sample<'_>, rows: &[Vec<f64>], path: &[(usize, bool)], j: usize, upper: bool, r: f64, init: &[(usize, f64)]) -> Vec<(usize, f64)> {
    let sign = if upper { 1.0 } else { -1.0 };
    let mut p: Vec<f64> = rows[j].iter().map(|t| sign * t).collect();
    let mut m = vec![0.0; path.len()];
    for &(pos, t) in init.iter().filter(|&&(pos, t)| pos < path.len() && t.is_finite() && t > 0.0) {
        let si = if path[pos].1 { -1.0 } else { 1.0 };
        m[pos] = t;
        for (pk, wk) in p.iter_mut().zip(&rows[path[pos].0]) {
            *pk -= t * si * wk;
        }
    }
    let half = r * s.wn[j];
    let mut prev = path.iter().zip(&m).map(|(&(i, on), &t)| t * if on { s.u0[i] } else { -s.u0[i] }).sum::<f64>()
        + r * p.iter().map(|t| t * t).sum::<f64>().sqrt();
    for _round in 0..MAX_ROUNDS {
        let mut pp: f64 = p.iter().map(|t| t * t).sum();
        for (pos, &(i, on)) in path.iter().enumerate() {
            // Constraint σ_i w_i·δ ≤ −σ_i u_i(x) (σ = −1 on, +1 off); with q = σ_i w_i,
            // p = Wᵀν has lost m·q. The step is taken from p' = p + m·q.
            let si = if on { -1.0 } else { 1.0 };
            let row = &rows[i];
            let qq = s.wn[i] * s.wn[i];
            let old = m[pos];
            let pw = si * row.iter().zip(&p).map(|(a, b)| a * b).sum::<f64>();
            let pq = pw + old * qq;
            let pp_without = pp + 2.0 * old * pw + old * old * qq;
            let t = best_step(pq, pp_without, qq, -si * s.u0[i], r);
            if t != old {
                let dt = t - old;
                for (pk, wk) in p.iter_mut().zip(row) {
                    *pk -= dt * si * wk;
                }
                pp = pp_without - 2.0 * t * pq + t * t * qq;
                m[pos] = t;
            }
        }
        let phi = path.iter().zip(&m).map(|(&(i, on), &t)| t * if on { s.u0[i] } else { -s.u0[i] }).sum::<f64>()
            + r * p.iter().map(|t| t * t).sum::<f64>().sqrt();
        if !(prev - phi > ROUND_GAIN * half) {
            break;
        }
        prev = phi;
    }
    m.into_iter().enumerate().filter(|&(_, t)| t > 0.0).collect()
}

/// Rounds of coordinate descent in [`tighten`] at most.
const MAX_ROUNDS: usize = 8;
/// [`tighten`] stops when a round gains less than this fraction of the ball's
/// half-width `R‖w_j‖`.
const ROUND_GAIN: f64 = 1e-3;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Net;

    /// In the plane, the ball of radius 1 at the origin cut by x₁ ≤ 0 (neuron 0 off):
    /// u₁ = x₁ + x₂ has maximum 1 on that half-disc (at (0, 1)), not √2.
    #[test]
    fn half_disc_maximum() {
        let net = Net::from_rows(2, &[1.0, 0.0, 1.0, 1.0], Some(&[0.0, 0.0]), &[1.0, -1.0]).expect("net");
        let x = [0.0, 0.0];
        let s = Sample::new(&net, &x, 1.0);
        let rows = vec![vec![1.0, 0.0], vec![1.0, 1.0]];
        let path = [(0usize, false)];
        let mult = tighten(&s, &rows, &path, 1, true, 1.0, &[]);
        let b = s.range_bound(&path, &Range { neuron: 1, upper: true, mult }, 1.0).expect("range");
        assert!((1.0..=1.0 + 1e-9).contains(&b), "bound {b}");
        // The lower end is untouched by the cut: −√2 at (−1, −1)/√2.
        let mult = tighten(&s, &rows, &path, 1, false, 1.0, &[]);
        let b = s.range_bound(&path, &Range { neuron: 1, upper: false, mult }, 1.0).expect("range");
        assert!((b - 2f64.sqrt()).abs() <= 1e-9, "bound {b}");
    }

    /// Random nets, paths and balls: the certified range contains u_j at every sampled
    /// point of the region in the ball (an independent check by the forward pass), and
    /// the tightened end is never looser than the ball's.
    #[test]
    fn ranges_contain_sampled_points() {
        let mut rng = crate::data::Rng::seed_from_u64(7);
        for _case in 0..40 {
            let (d, k) = (3, 6);
            let w: Vec<f64> = (0..k * d).map(|_| rng.normal()).collect();
            let b: Vec<f64> = (0..k).map(|_| 0.3 * rng.normal()).collect();
            let v: Vec<f64> = (0..k).map(|_| rng.normal()).collect();
            let net = Net::from_rows(d, &w, Some(&b), &v).expect("net");
            let x: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            let s = Sample::new(&net, &x, 1.0);
            let rows: Vec<Vec<f64>> = (0..k).map(|j| w[j * d..(j + 1) * d].to_vec()).collect();
            let r = 0.5 + rng.uniform_in(0.0, 2.0);
            let path: Vec<(usize, bool)> = (0..3).map(|i| (i, rng.uniform_in(0.0, 1.0) < 0.5)).collect();
            for j in 3..k {
                let (blo, bhi) = s.ball_range(j, r);
                let hi = s.range_bound(&path, &Range { neuron: j, upper: true, mult: tighten(&s, &rows, &path, j, true, r, &[]) }, r).expect("up");
                let lo = -s.range_bound(&path, &Range { neuron: j, upper: false, mult: tighten(&s, &rows, &path, j, false, r, &[]) }, r).expect("low");
                assert!(hi <= bhi * (1.0 + 1e-12) + 1e-12 && lo >= blo - blo.abs() * 1e-12 - 1e-12);
                for _ in 0..300 {
                    let dir: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
                    let n = dir.iter().map(|t| t * t).sum::<f64>().sqrt();
                    let t = r * rng.uniform_in(0.0, 1.0).powf(1.0 / d as f64);
                    let z: Vec<f64> = x.iter().zip(&dir).map(|(a, q)| a + t * q / n).collect();
                    if path.iter().all(|&(i, on)| (net.preactivation_one(i, &z) >= 0.0) == on) {
                        let u = net.preactivation_one(j, &z);
                        assert!(u <= hi && u >= lo, "u = {u} outside [{lo}, {hi}]");
                    }
                }
            }
        }
    }
}
