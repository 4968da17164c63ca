//! Rigorous arithmetic behind the radius proof: the per-sample quantities with their
//! rounding bounds ([`Sample`]), the stability test that fixes a neuron in a ball, the
//! chord that relaxes an unstable neuron, and the check that a leaf's multipliers bound
//! its region ([`check_leaf`]). The search uses the same functions to state its bounds,
//! and `verify_radius` re-runs them from the files, so a proof passes exactly when its
//! numbers carry it.
//!
//! The statement of a leaf (docs/radius.md): every point `z` of the leaf's region
//! (its branching signs) with `y·N(z) ≤ 0` has `‖z − x‖ ≥ bound`. With multipliers
//! λ ≥ 0 on linear constraints that every such point within the ball `‖z − x‖ ≤ bound`
//! satisfies, the Lagrangian collapses to neuron weights μ:
//! `Σ_i λ_i c_i(z) = Σ_j μ_j u_j(z) + Γ ≤ 0`, and weak duality gives
//! `½‖z − x‖² ≥ D = μ·u(x) + Γ − ½‖Wᵀμ‖²`. Every rounding in computing μ, Γ, u(x) and
//! ‖Wᵀμ‖ is bounded above (`γ_n Σ|terms|`, Higham §3.1), and those bounds are
//! subtracted, so the computed `D_low ≤ D`. The leaf holds when `D_low ≥ ½ bound²`.

// `!(a <= b)` on purpose: a NaN must fail every check.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use serde::{Deserialize, Serialize};

use super::range::Range;
use crate::net::Net;

const U: f64 = f64::EPSILON / 2.0;
/// Absolute slack per operation for underflow.
const TINY: f64 = f64::MIN_POSITIVE;

/// `γ_n` (Higham §3.1) with two extra operations and a 1 % margin for the rounding of
/// the bound itself.
pub(crate) fn gamma(n: usize) -> f64 {
    let nu = (n as f64 + 2.0) * U;
    1.01 * nu / (1.0 - nu)
}

/// `v` rounded up past one rounding error.
pub(crate) fn up(v: f64) -> f64 {
    v + v.abs() * (2.0 * U) + TINY
}

/// `v` rounded down past one rounding error.
pub(crate) fn down(v: f64) -> f64 {
    v - v.abs() * (2.0 * U) - TINY
}

/// An upper bound of `‖a − b‖₂` (the distance of a witness).
pub(crate) fn distance_up(a: &[f64], b: &[f64]) -> f64 {
    let s: f64 = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum();
    up(s.sqrt() * (1.0 + gamma(a.len() + 2)))
}

/// A flip cut with its multiplier: the flip constraint in which the unstable neurons
/// that raise the output are taken linear when listed in `on` and zero otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cut {
    /// Multiplier λ ≥ 0.
    pub lambda: f64,
    /// The unstable positive-weight neurons taken as on (sorted, 0-based).
    pub on: Vec<usize>,
}

/// One leaf of the branch-and-bound tree, with what its bound rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaf {
    /// The branching decisions from the root: `(neuron, on)`, on meaning `u_j ≥ 0`,
    /// off meaning `u_j ≤ 0`.
    pub path: Vec<(usize, bool)>,
    /// The ball radius R that justifies the fixed neurons and the relaxations
    /// (null: no ball, nothing fixed or relaxed).
    pub ball: Option<f64>,
    /// The claim: no flipped point of the region is closer to x than this.
    pub bound: f64,
    /// Neurons fixed by the ball: `(neuron, on)`, with `|u_j(x)| ≥ R‖w_j‖`.
    pub fixed: Vec<(usize, bool)>,
    /// A branched neuron whose state contradicts the ball (the region misses the open
    /// ball entirely; then no multipliers are needed).
    pub conflict: Option<usize>,
    /// Multipliers of the sign constraints of `path`, one each.
    pub signs: Vec<f64>,
    /// Flip cuts with positive multipliers.
    pub cuts: Vec<Cut>,
    /// Ranges of relaxed neurons tightened by the path's sign constraints (empty: the
    /// ball's ranges).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
}

/// Why a leaf does not prove its bound.
#[derive(Debug, Clone, PartialEq)]
pub enum LeafError {
    /// A neuron index is out of range or repeated where it must not be.
    BadNeuron(usize),
    /// The bound is negative, NaN, or larger than the ball.
    BadBound,
    /// A fixed neuron is not stable in the ball.
    NotStable(usize),
    /// The declared conflict is not one.
    NoConflict(usize),
    /// A multiplier is negative or not finite, or `signs` has the wrong length.
    BadMultiplier,
    /// A cut lists a neuron that is not an unstable positive-weight neuron.
    BadCut(usize),
    /// An unstable neuron that lowers the output needs a finite ball to be relaxed.
    NoBall(usize),
    /// A range names a path position that does not exist or a bad multiplier.
    BadRange(usize),
    /// The dual value is below `½ bound²`.
    Weak {
        /// Certified dual value.
        dual: f64,
        /// What the bound needs.
        need: f64,
    },
}

impl std::fmt::Display for LeafError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeafError::BadNeuron(j) => write!(f, "neuron index {j} is out of range or repeated"),
            LeafError::BadBound => write!(f, "the bound is negative, not a number, or larger than the ball"),
            LeafError::NotStable(j) => write!(f, "fixed neuron {j} is not stable in the ball"),
            LeafError::NoConflict(j) => write!(f, "neuron {j} is declared in conflict with the ball but is not"),
            LeafError::BadMultiplier => write!(f, "a multiplier is negative or not finite, or the sign multipliers do not match the path"),
            LeafError::BadCut(j) => write!(f, "a cut lists neuron {j}, which is not an unstable neuron that raises the output"),
            LeafError::NoBall(j) => write!(f, "unstable neuron {j} lowers the output but the leaf has no ball to relax it in"),
            LeafError::BadRange(j) => write!(f, "a range of neuron {j} names a missing path position or a bad multiplier"),
            LeafError::Weak { dual, need } => write!(f, "certified dual value {dual:e} is below bound²/2 = {need:e}"),
        }
    }
}

/// One sample's quantities with rounding bounds, recomputed from the network.
pub(crate) struct Sample<'a> {
    pub net: &'a Net,
    /// `α_j = y v_j` (exact: y = ±1).
    pub alpha: Vec<f64>,
    /// `fl(u_j(x))` and its error bound.
    pub u0: Vec<f64>,
    pub e0: Vec<f64>,
    /// `fl(‖w_j‖)` and an upper bound.
    pub wn: Vec<f64>,
    pub wn_up: Vec<f64>,
}

/// How a neuron enters a leaf's flip cuts.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Skip,
    On,
    Off,
    Raise,
    Lower,
}

impl<'a> Sample<'a> {
    pub(crate) fn new(net: &'a Net, x: &'a [f64], y: f64) -> Sample<'a> {
        let (k, d) = (net.width(), net.dim());
        let mut s = Sample { net, alpha: vec![0.0; k], u0: vec![0.0; k], e0: vec![0.0; k], wn: vec![0.0; k], wn_up: vec![0.0; k] };
        for j in 0..k {
            let row = net.w().row(j);
            let b = net.bias(j);
            s.alpha[j] = y * net.v()[j];
            s.u0[j] = net.preactivation_one(j, x);
            let mag: f64 = row.iter().zip(x).map(|(w, t)| (w * t).abs()).sum::<f64>() + b.abs();
            s.e0[j] = up(gamma(d + 1) * mag);
            let n2: f64 = row.iter().map(|w| w * w).sum();
            s.wn[j] = n2.sqrt();
            s.wn_up[j] = up(s.wn[j] * (1.0 + gamma(d + 2)));
        }
        s
    }

    fn w_zero(&self, j: usize) -> bool {
        self.wn[j] == 0.0
    }

    /// The state of neuron j on the whole closed ball of radius r (and strictly so on
    /// the open ball), when the rounding bounds prove it; `None` otherwise. A neuron
    /// with `w_j = 0` is constant.
    pub(crate) fn stable_state(&self, j: usize, r: f64) -> Option<bool> {
        if self.w_zero(j) {
            return Some(self.net.bias(j) > 0.0);
        }
        if !r.is_finite() {
            return None;
        }
        let reach = up(r * self.wn_up[j]);
        if down(self.u0[j] - self.e0[j]) >= reach {
            Some(true)
        } else if up(self.u0[j] + self.e0[j]) <= -reach {
            Some(false)
        } else {
            None
        }
    }


    #[allow(clippy::needless_range_loop)]
    /// The dual value of a leaf as `(lin0, slope, quad)`: the certified
    /// `D_low(b) = lin0 − b·slope − quad` for the claim radius b (see [`dual_at`]), with
    /// the certified ranges of [`Sample::leaf_ranges`].
    fn dual_parts(&self, leaf: &Leaf, ranges: &[(f64, f64)]) -> Result<(f64, f64, f64), LeafError> {
        let (k, d) = (self.net.width(), self.net.dim());
        let ball = leaf.ball.unwrap_or(f64::INFINITY);
        let mut role = vec![Role::Skip; k];
        for j in 0..k {
            if self.alpha[j] == 0.0 {
                continue;
            }
            role[j] = if let Some(on) = self.stable_state(j, f64::INFINITY) {
                if on { Role::On } else { Role::Off }
            } else if self.alpha[j] > 0.0 {
                Role::Raise
            } else {
                Role::Lower
            };
        }
        for &(j, on) in leaf.path.iter().chain(&leaf.fixed) {
            if j >= k {
                return Err(LeafError::BadNeuron(j));
            }
            if role[j] != Role::Skip {
                role[j] = if on { Role::On } else { Role::Off };
            }
        }
        // Fixed neurons win over the path (both are valid on the ball).
        for &(j, on) in &leaf.fixed {
            if self.stable_state(j, ball) != Some(on) {
                return Err(LeafError::NotStable(j));
            }
            if role[j] != Role::Skip {
                role[j] = if on { Role::On } else { Role::Off };
            }
        }
        if leaf.signs.len() != leaf.path.len() {
            return Err(LeafError::BadMultiplier);
        }
        let ok = |t: f64| t.is_finite() && t >= 0.0;
        let mut lam_sum = 0.0;
        for c in &leaf.cuts {
            if !ok(c.lambda) {
                return Err(LeafError::BadMultiplier);
            }
            lam_sum += c.lambda;
        }
        let n_terms = leaf.cuts.len() + leaf.path.len() + 6;
        let g = gamma(n_terms);
        // β_j: the coefficient of u_j shared by every cut; relaxed neurons also add to Γ.
        let mut beta = vec![0.0; k];
        let (mut g_sum, mut g_abs) = (0.0, 0.0);
        for j in 0..k {
            match role[j] {
                Role::On => beta[j] = self.alpha[j],
                Role::Lower if lam_sum > 0.0 => {
                    if !ball.is_finite() {
                        return Err(LeafError::NoBall(j));
                    }
                    let &(lo, hi) = ranges.get(j).ok_or(LeafError::BadRange(j))?;
                    let (kappa, l, v) = chord_over(lo, hi);
                    beta[j] = self.alpha[j] * kappa;
                    let t1 = -self.alpha[j] * kappa * l;
                    let t2 = -self.alpha[j].abs() * v;
                    g_sum += t1 + t2;
                    g_abs += t1.abs() + t2.abs();
                }
                _ => {}
            }
        }
        let mut mu: Vec<f64> = beta.iter().map(|b| lam_sum * b).collect();
        let mut mabs: Vec<f64> = beta.iter().map(|b| lam_sum * b.abs()).collect();
        for c in &leaf.cuts {
            let mut prev = None;
            for &j in &c.on {
                if j >= k || prev.is_some_and(|p| p >= j) || role[j] != Role::Raise {
                    return Err(LeafError::BadCut(j));
                }
                prev = Some(j);
                mu[j] += c.lambda * self.alpha[j];
                mabs[j] += (c.lambda * self.alpha[j]).abs();
            }
        }
        for (&(j, on), &ls) in leaf.path.iter().zip(&leaf.signs) {
            if !ok(ls) {
                return Err(LeafError::BadMultiplier);
            }
            mu[j] += if on { -ls } else { ls };
            mabs[j] += ls;
        }
        // Error of each μ_j (including that of Σλ) and of Γ = Σλ · G.
        let e: Vec<f64> = mabs.iter().map(|m| up(2.0 * g * m)).collect();
        let g_lo = down(g_sum - gamma(2 * k + 2) * g_abs);
        let gam = lam_sum * g_lo;
        let gam_lo = down(gam - 2.0 * g * gam.abs());
        // μ·u(x) with the errors of the sum, of u(x), and of μ at |u_j(x)|.
        let (mut lin, mut lin_abs, mut err_u, mut err_mu, mut slope) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for j in 0..k {
            lin += mu[j] * self.u0[j];
            lin_abs += (mu[j] * self.u0[j]).abs();
            err_u += mu[j].abs() * self.e0[j];
            err_mu += e[j] * (self.u0[j].abs() + self.e0[j]);
            slope += e[j] * self.wn_up[j];
        }
        let lin_err = up(gamma(k + 2) * lin_abs + up(err_u * (1.0 + gamma(k))) + up(err_mu * (1.0 + gamma(2 * k))));
        let lin0 = down(down(lin - lin_err) + gam_lo);
        // ‖Wᵀμ‖ from above.
        let w = self.net.w();
        let (mut q2, mut f2) = (0.0, 0.0);
        for c in 0..d {
            let (mut s, mut sa) = (0.0, 0.0);
            for j in 0..k {
                s += w[(j, c)] * mu[j];
                sa += (w[(j, c)] * mu[j]).abs();
            }
            q2 += s * s;
            let f = gamma(k + 2) * sa;
            f2 += f * f;
        }
        let norm_up = up(up(q2.sqrt() * (1.0 + gamma(d + 2))) + up(f2.sqrt() * (1.0 + gamma(d + 2))));
        let quad = up(0.5 * norm_up * norm_up);
        let slope = up(slope * (1.0 + gamma(k + 2)));
        if [lin0, slope, quad].iter().any(|t| t.is_nan()) {
            return Err(LeafError::BadMultiplier);
        }
        Ok((lin0, slope, quad))
    }
}

/// The chord `κ (u − l)` of σ over a certified range `[lo, hi]` of u (0 when
/// `hi ≤ 0`, u when `lo ≥ 0`) and an upper bound `v ≥ 0` of `σ(u) − κ (u − l)` over
/// the range (so that `σ(u) ≤ κ (u − l) + v` holds there despite rounding; σ minus a
/// line is convex, so its maximum is at an end).
pub(crate) fn chord_over(lo: f64, hi: f64) -> (f64, f64, f64) {
    let (kappa, l) = if hi <= 0.0 {
        (0.0, 0.0)
    } else if lo >= 0.0 {
        (1.0, 0.0)
    } else {
        (hi / (hi - lo), lo)
    };
    let excess = |u: f64| {
        let val = u.max(0.0) - kappa * (u - l);
        let err = gamma(4) * (u.abs() + kappa.abs() * (u.abs() + l.abs()));
        up(val + err)
    };
    let v = excess(lo).max(excess(hi)).max(0.0);
    (kappa, l, if v.is_nan() { f64::INFINITY } else { v })
}

/// `D_low(b) = lin0 − b·slope − quad`, rounded down; decreasing in b.
fn dual_at(parts: (f64, f64, f64), b: f64) -> f64 {
    let (lin0, slope, quad) = parts;
    let bs = if slope == 0.0 { 0.0 } else { up(b * slope) };
    down(down(lin0 - bs) - quad)
}

/// Checks a leaf's claim: for every point z of the region with `y·N(z) ≤ 0`,
/// `‖z − x‖ ≥ leaf.bound`.
pub(crate) fn check_leaf(s: &Sample<'_>, leaf: &Leaf) -> Result<(), LeafError> {
    let ball = leaf.ball.unwrap_or(f64::INFINITY);
    let b = leaf.bound;
    if !(b >= 0.0 && b.is_finite() && b <= ball) {
        return Err(LeafError::BadBound);
    }
    if b == 0.0 {
        return Ok(());
    }
    if let Some(j) = leaf.conflict {
        let branched = leaf.path.iter().find(|p| p.0 == j).map(|p| p.1);
        let fixed = leaf.fixed.iter().find(|p| p.0 == j).map(|p| p.1);
        return match (branched, fixed) {
            (Some(on), Some(st)) if on != st && j < s.net.width() && !s.w_zero(j) && s.stable_state(j, ball) == Some(st) => Ok(()),
            _ => Err(LeafError::NoConflict(j)),
        };
    }
    let ranges = s.leaf_ranges(leaf)?;
    let parts = s.dual_parts(leaf, &ranges)?;
    let dual = dual_at(parts, b);
    let need = up(0.5 * b * b);
    if dual >= need {
        Ok(())
    } else {
        Err(LeafError::Weak { dual, need })
    }
}

/// Largest bound a claim may cap at (keeps `½ b²` finite).
const BOUND_CAP: f64 = 1e150;

/// Scales the leaf's multipliers to their best multiple and sets the largest bound
/// (≤ the ball) that [`check_leaf`] accepts; 0 when the multipliers prove nothing.
pub(crate) fn settle_leaf(s: &Sample<'_>, leaf: &mut Leaf) {
    let ball = leaf.ball.unwrap_or(f64::INFINITY).min(BOUND_CAP);
    if leaf.conflict.is_some() {
        leaf.bound = ball;
        if check_leaf(s, leaf).is_ok() {
            return;
        }
        leaf.conflict = None;
    }
    leaf.bound = 0.0;
    let Ok(ranges) = s.leaf_ranges(leaf) else { return };
    let Ok(parts) = s.dual_parts(leaf, &ranges) else { return };
    let (lin0, slope, quad) = parts;
    if !(lin0 > 0.0) {
        return;
    }
    // With λ scaled by t: D(t, b) = t (lin0 − b·slope) − t² quad; the best b solves
    // b = sqrt(2 D) at the best t, i.e. b = lin0 / (sqrt(2 quad) + slope).
    let denom = (2.0 * quad).sqrt() + slope;
    let b_star = if denom > 0.0 { lin0 / denom } else { f64::INFINITY };
    let mut b = (b_star * (1.0 - 1e-9)).min(ball);
    let margin = lin0 - b * slope;
    let t = if quad > 0.0 { margin / (2.0 * quad) } else if margin > 0.0 { (0.5 * b * b / margin).max(1.0) * 1.01 } else { 1.0 };
    if t.is_finite() && t > 0.0 && t != 1.0 {
        for c in &mut leaf.cuts {
            c.lambda *= t;
        }
        for ls in &mut leaf.signs {
            *ls *= t;
        }
    }
    let Ok(parts) = s.dual_parts(leaf, &ranges) else { return };
    for _ in 0..3 {
        // What check_leaf tests for a leaf without a conflict, on the parts at hand.
        let dual = dual_at(parts, b);
        if b >= 0.0 && b.is_finite() && b <= ball && (b == 0.0 || dual >= up(0.5 * b * b)) {
            leaf.bound = b;
            return;
        }
        b = if dual > 0.0 { (2.0 * dual).sqrt() * (1.0 - 1e-12) } else { 0.0 };
    }
    leaf.bound = 0.0;
}

/// The certified condition under which nothing flips the sample: every neuron that can
/// lower the output is constant (`w_j = 0`), and the constant part
/// `Σ_{w_j = 0} α_j σ(b_j)` is positive beyond its rounding (then
/// `y·N(z) ≥ Σ_{w_j=0} α_j σ(b_j) > 0` everywhere).
pub(crate) fn never_flips(s: &Sample<'_>) -> bool {
    let k = s.net.width();
    let (mut c, mut ca) = (0.0, 0.0);
    for j in 0..k {
        if s.alpha[j] < 0.0 && !s.w_zero(j) {
            return false;
        }
        if s.w_zero(j) {
            let t = s.alpha[j] * s.net.bias(j).max(0.0);
            c += t;
            ca += t.abs();
        }
    }
    down(c - gamma(k) * ca) > 0.0
}
