//! Finding a ball certificate ([`super::ball`]): the largest radius below the
//! incumbent whose ball the quadratic minorant proves free of flipped points.
//!
//! For a fixed radius the minorant's parameters are chosen by fictitious play, a
//! saddle-point iteration: minimise the minorant over the ball (a trust-region
//! problem, solved exactly through the eigenvalues of M), add the minimiser to a
//! running (weighted) average of the points found so far, and answer that average with
//! the best parameters against it: `c_j = sqrt(mean τ_j²)`, which minimises the mean
//! of the parabola `(τ_j + c)²/(4c)`, and `β_j = 1[mean τ_j > 0]`, which maximises the
//! mean of the line `β τ_j`. The bound is concave in the parameters and the
//! minorant is quadratic in δ, so this is the classical iteration for the
//! parameters' max-min; answering only the last minimiser (a fixed point) oscillates
//! between far-apart minimisers (docs/radius.md, "The ball bound"). Whenever the
//! minorant's value is positive, the numbers are checked by [`check_ball`]; only a
//! certificate that passes is returned. The radius is found by bisection between 0 and
//! the incumbent; measurements are in BENCHMARKS.md ("Paper scale").

use std::time::Instant;

use nalgebra::{DMatrix, SymmetricEigen};

use super::ball::{check_ball, gram, roles, BallCert, Role};
use super::certify::Sample;

/// Iterations per radius.
const ITERATIONS: usize = 60;
/// Iterations averaged with equal weights; later minimisers get weight 2/(n + 1), so
/// the average forgets the poor early points faster.
const EQUAL_WEIGHTS: usize = 5;
/// Bisection steps on the radius.
const BISECTIONS: usize = 14;
/// Largest input dimension searched: each round eigen-decomposes a d × d matrix.
pub(crate) const MAX_DIM: usize = 400;

/// The search's state between radii: the parameters warm start the next radius.
struct Minorant<'s, 'a> {
    sample: &'s Sample<'a>,
    params: Vec<f64>,
    /// Running averages of τ_j and τ_j² over this radius's minimisers.
    mean: Vec<f64>,
    mean_sq: Vec<f64>,
    /// Minimisers averaged so far at this radius.
    seen: usize,
}

/// The minorant `K + cᵀδ − δᵀMδ` of one parameter choice, and its minimum over the
/// ball `‖δ‖ ≤ r` with the multiplier μ and the minimiser.
struct Trs {
    value: f64,
    mu: f64,
    lmax: f64,
    delta: Vec<f64>,
}

impl Minorant<'_, '_> {
    fn tau(&self, delta: &[f64]) -> Vec<f64> {
        let w = self.sample.net.w();
        (0..self.params.len())
            .map(|j| self.sample.u0[j] + w.row(j).iter().zip(delta).map(|(a, b)| a * b).sum::<f64>())
            .collect()
    }

    /// Starting parameters at δ = 0 (each parabola tangent at |u_j(x)|, each slope the
    /// neuron's state at x), floored at a thousandth of the neuron's reach.
    fn start(&mut self, r: f64) {
        let s = self.sample;
        for j in 0..self.params.len() {
            let floor = 1e-3 * r * s.wn[j];
            self.params[j] = if s.alpha[j] < 0.0 { s.u0[j].abs().max(floor).max(f64::MIN_POSITIVE) } else { f64::from(u8::from(s.u0[j] > 0.0)) };
        }
    }

    /// Minimises the minorant of the current parameters over the ball of radius r.
    fn solve(&self, role: &[Role], r: f64) -> Option<Trs> {
        let s = self.sample;
        let (k, d) = (s.net.width(), s.net.dim());
        let w = s.net.w();
        let (mut konst, mut lin) = (0.0, vec![0.0; d]);
        let mut curv = vec![0.0; k];
        for j in 0..k {
            let (a, u, p) = (s.alpha[j], s.u0[j], self.params[j]);
            // term(τ) = e0 + e1 (τ − u) + e2 (τ − u)², τ − u = w_j·δ
            let (e0, e1) = match role[j] {
                Role::Off => continue,
                Role::On => (a * u, a),
                Role::Raise => (a * p * u, a * p),
                Role::Lower => {
                    curv[j] = -a / (4.0 * p);
                    (a * (u + p) * (u + p) / (4.0 * p), a * (u + p) / (2.0 * p))
                }
            };
            konst += e0;
            for (l, wc) in lin.iter_mut().zip(w.row(j).iter()) {
                *l += e1 * wc;
            }
        }
        let used: Vec<usize> = (0..k).filter(|&j| curv[j] > 0.0).collect();
        let m = if used.is_empty() { DMatrix::zeros(d, d) } else { gram(s, &curv, &used) };
        let eig = SymmetricEigen::new(m);
        let lmax = eig.eigenvalues.iter().copied().fold(0.0, f64::max);
        let cv = eig.eigenvectors.transpose() * nalgebra::DVector::from_column_slice(&lin);
        let norm = |mu: f64| -> f64 { cv.iter().zip(eig.eigenvalues.iter()).map(|(c, l)| (c / (2.0 * (mu - l))).powi(2)).sum::<f64>().sqrt() };
        let lo0 = lmax * (1.0 + 1e-9) + 1e-12 * (1.0 + lmax);
        let mu = if norm(lo0) <= r {
            lo0
        } else {
            let (mut lo, mut hi) = (lo0, 2.0 * lo0 + 1.0);
            while norm(hi) > r {
                hi *= 2.0;
                if !hi.is_finite() {
                    return None;
                }
            }
            for _ in 0..100 {
                let mid = 0.5 * (lo + hi);
                if norm(mid) > r { lo = mid } else { hi = mid }
            }
            hi
        };
        let y: Vec<f64> = cv.iter().zip(eig.eigenvalues.iter()).map(|(c, l)| -c / (2.0 * (mu - l))).collect();
        let delta: Vec<f64> = (eig.eigenvectors * nalgebra::DVector::from_vec(y)).iter().copied().collect();
        let value = konst - mu * r * r - cv.iter().zip(eig.eigenvalues.iter()).map(|(c, l)| c * c / (4.0 * (mu - l))).sum::<f64>();
        value.is_finite().then_some(Trs { value, mu, lmax, delta })
    }

    /// Adds the minimiser δ to the running averages and sets each parameter to its
    /// best answer against them: `c_j = sqrt(mean τ_j²)` (floored at a millionth of the
    /// neuron's reach), `β_j = 1[mean τ_j > 0]`.
    fn update(&mut self, role: &[Role], delta: &[f64], r: f64) {
        let tau = self.tau(delta);
        self.seen += 1;
        let n = self.seen as f64;
        let weight = if self.seen <= EQUAL_WEIGHTS { 1.0 / n } else { 2.0 / (n + 1.0) };
        for j in 0..self.params.len() {
            self.mean[j] += weight * (tau[j] - self.mean[j]);
            self.mean_sq[j] += weight * (tau[j] * tau[j] - self.mean_sq[j]);
            match role[j] {
                Role::Lower => {
                    let floor = 1e-6 * r * self.sample.wn[j];
                    self.params[j] = self.mean_sq[j].max(0.0).sqrt().max(floor).max(f64::MIN_POSITIVE);
                }
                Role::Raise => self.params[j] = f64::from(u8::from(self.mean[j] > 0.0)),
                _ => {}
            }
        }
    }

    /// A certificate for the ball of radius r, if the iteration finds one that checks.
    fn certify(&mut self, r: f64) -> Option<BallCert> {
        let role = roles(self.sample, r);
        self.seen = 0;
        for _ in 0..ITERATIONS {
            let trs = self.solve(&role, r)?;
            if trs.value > 0.0 {
                // ν halfway between λ_max and μ: the Cholesky check needs room on both sides.
                let nu = trs.lmax + 0.5 * (trs.mu - trs.lmax);
                let cert = BallCert { radius: r, mu: trs.mu, nu, params: self.params.clone(), delta: trs.delta.clone() };
                if check_ball(self.sample, &cert).is_ok() {
                    return Some(cert);
                }
            }
            self.update(&role, &trs.delta, r);
        }
        None
    }
}

/// The largest radius in `(0, hi)` (to a relative 2⁻¹⁴ of `hi`) whose ball a
/// checked certificate proves free of flipped points; `None` when none is found or
/// the deadline passes first.
pub(crate) fn largest_ball(sample: &Sample, hi: f64, deadline: Option<Instant>) -> Option<BallCert> {
    if !(hi.is_finite() && hi > 0.0) {
        return None;
    }
    let k = sample.alpha.len();
    let mut mino = Minorant { sample, params: vec![0.0; k], mean: vec![0.0; k], mean_sq: vec![0.0; k], seen: 0 };
    let (mut lo, mut top, mut best) = (0.0, hi, None);
    mino.start(hi);
    for _ in 0..BISECTIONS {
        if deadline.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        let r = 0.5 * (lo + top);
        let saved = mino.params.clone();
        match mino.certify(r) {
            Some(cert) => {
                lo = r;
                best = Some(cert);
            }
            None => {
                top = r;
                mino.params = saved;
            }
        }
    }
    best
}
