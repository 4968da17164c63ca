//! The ball certificate: a proof that no point of a closed ball `B(x, r)` flips the
//! sample, from one quadratic minorant of the margin (docs/radius.md, "The ball
//! bound"). It gives the search a lower bound that does not come from the tree, and it
//! is what makes the bound tight when almost every neuron is unstable in the ball.
//!
//! With `τ_j = u_j(x + δ)`, every neuron's term `α_j σ(τ_j)` is bounded below on the
//! ball: exactly when the neuron is stable there, by `α_j β_j τ_j` (`0 ≤ β_j ≤ 1`) when
//! it raises the output, and by `α_j (τ_j + c_j)²/(4c_j)` (`c_j > 0`) when it lowers it,
//! since `σ(τ) ≤ (τ + c)²/(4c)` for every real τ. The sum `f(δ)` is a concave quadratic
//! minorant of `y·N(x + δ)` on the ball. For `μ > λ_max(M)`, `M = Σ |α_j|/(4c_j) w_j w_jᵀ`,
//! the function `F(δ) = f(δ) + μ(‖δ‖² − r²)` is below f on the ball and strictly
//! convex with Hessian `2(μI − M)`, so for any point δ̂
//!
//! ```text
//!   min_{‖δ‖ ≤ r} y·N(x + δ)  ≥  F(δ̂) − ‖∇F(δ̂)‖² / (4 λ_min(μI − M)).
//! ```
//!
//! [`check_ball`] evaluates the right-hand side with every rounding error bounded
//! (Higham §3.1, as in [`super::certify`]), and `λ_max(M)` from above by a Cholesky
//! factorisation of `νI − M` with its residual; the certificate holds when the result
//! is positive. The numbers (`r, μ, ν`, the per-neuron parameters and δ̂) are in the
//! proof file, and `verify-radius` re-runs the same check.

// `!(a <= b)` on purpose: a NaN must fail every check.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

use super::certify::{down, gamma, up, Sample};

const U: f64 = f64::EPSILON / 2.0;

/// A claim that `y·N(x + δ) > 0` for every `‖δ‖ ≤ radius`, with its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BallCert {
    /// The radius r of the ball claimed free of flipped points.
    pub radius: f64,
    /// The multiplier μ of `‖δ‖² ≤ r²`.
    pub mu: f64,
    /// A claimed upper bound ν < μ of `λ_max(M)` (checked by a Cholesky factorisation).
    pub nu: f64,
    /// Per neuron: `c_j > 0` for a neuron that lowers the output and is unstable in the
    /// ball, `β_j ∈ [0, 1]` for one that raises it; ignored for stable neurons.
    pub params: Vec<f64>,
    /// The point δ̂ (a displacement from x) where the minorant is evaluated.
    pub delta: Vec<f64>,
}

/// How a neuron enters the minorant on a ball.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Role {
    /// Constant zero on the ball, or `α_j = 0`.
    Off,
    /// Linear on the ball.
    On,
    /// Unstable, raises the output: `α σ(τ) ≥ α β τ`.
    Raise,
    /// Unstable, lowers the output: `α σ(τ) ≥ α (τ + c)²/(4c)`.
    Lower,
}

/// Each neuron's role on the closed ball of radius `r` (stability proved with rounding
/// margins by [`Sample::stable_state`]).
pub(crate) fn roles(sample: &Sample, r: f64) -> Vec<Role> {
    (0..sample.alpha.len())
        .map(|j| {
            let a = sample.alpha[j];
            if a == 0.0 {
                return Role::Off;
            }
            match sample.stable_state(j, r) {
                Some(true) => Role::On,
                Some(false) => Role::Off,
                None if a > 0.0 => Role::Raise,
                None => Role::Lower,
            }
        })
        .collect()
}

/// Why a ball certificate does not hold.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BallError {
    /// Wrong lengths, or a number that is not finite or out of its range.
    #[error("the ball certificate has a wrong length or a number out of range ({0})")]
    Malformed(&'static str),
    /// `νI − M` is not certified positive semidefinite, or `μ` is not above the bound.
    #[error("μ = {mu:e} is not certified above λ_max = {lmax:e}")]
    Curvature {
        /// The multiplier.
        mu: f64,
        /// The certified upper bound of λ_max(M) (∞ when the factorisation failed).
        lmax: f64,
    },
    /// The certified minimum of the minorant is not positive.
    #[error("the certified minimum of the margin on the ball is {0:e}, not positive")]
    Weak(f64),
}

/// `fl(Σ_c w_c δ_c)` and an upper bound of its error.
fn dot_err<'w>(w: impl Iterator<Item = &'w f64>, d: &[f64]) -> (f64, f64) {
    let (mut s, mut a) = (0.0, 0.0);
    for (p, q) in w.zip(d) {
        s += p * q;
        a += (p * q).abs();
    }
    (s, up(gamma(d.len()) * a))
}

/// Checks `cert` against the sample; returns the certified lower bound of `y·N` on the
/// ball (positive) or what fails.
pub(crate) fn check_ball(sample: &Sample, cert: &BallCert) -> Result<f64, BallError> {
    let net = sample.net;
    let (k, d) = (net.width(), net.dim());
    let (r, mu, nu) = (cert.radius, cert.mu, cert.nu);
    if !(r.is_finite() && r > 0.0 && mu.is_finite() && nu.is_finite() && nu >= 0.0 && nu < mu) {
        return Err(BallError::Malformed("radius, μ or ν"));
    }
    if cert.params.len() != k || cert.delta.len() != d || cert.delta.iter().any(|t| !t.is_finite()) {
        return Err(BallError::Malformed("lengths or δ̂"));
    }
    let role = roles(sample, r);
    let w = net.w();
    let mut coef = vec![0.0; k]; // ∂(term)/∂τ at δ̂
    let mut coef_err = vec![0.0; k];
    let mut curv = vec![0.0; k]; // |α|/(4c) rounded up, for M
    let (mut f_sum, mut f_abs, mut f_err) = (0.0, 0.0, 0.0);
    for j in 0..k {
        if role[j] == Role::Off {
            continue;
        }
        let (s, es) = dot_err(w.row(j).iter(), &cert.delta);
        let tau = sample.u0[j] + s;
        let et = up((sample.e0[j] + es) * (1.0 + 4.0 * U) + tau.abs() * 2.0 * U);
        let a = sample.alpha[j];
        let p = cert.params[j];
        let (term, err) = match role[j] {
            Role::Off => continue,
            Role::On => {
                coef[j] = a;
                (a * tau, up(a.abs() * et + (a * tau).abs() * 2.0 * U))
            }
            Role::Raise => {
                if !(0.0..=1.0).contains(&p) {
                    return Err(BallError::Malformed("β outside [0, 1]"));
                }
                coef[j] = a * p;
                coef_err[j] = up(coef[j].abs() * 2.0 * U);
                let t = a * p * tau;
                (t, up((a * p).abs() * et * (1.0 + 4.0 * U) + t.abs() * 4.0 * U))
            }
            Role::Lower => {
                if !(p.is_finite() && p > 0.0) {
                    return Err(BallError::Malformed("c not positive"));
                }
                // −|α| (|τ + c| + e)² / (4c), from below: the square from above.
                let hi = up(up((tau + p).abs() * (1.0 + 2.0 * U)) + et);
                let q = up(up(hi * hi) / down(4.0 * p));
                let t = -up(a.abs() * q);
                coef[j] = a * (tau + p) / (2.0 * p);
                coef_err[j] = up(a.abs() * et / down(2.0 * p) + coef[j].abs() * 8.0 * U);
                curv[j] = up(up(a.abs() / down(4.0 * p)) * (1.0 + 2.0 * U));
                (t, 0.0)
            }
        };
        f_sum += term;
        f_abs += term.abs();
        f_err += err;
    }
    let dn2: f64 = cert.delta.iter().map(|t| t * t).sum();
    if !(dn2.sqrt() <= r * (1.0 + 1e-12)) {
        return Err(BallError::Malformed("δ̂ outside the ball"));
    }
    // F(δ̂) = f(δ̂) + μ(‖δ̂‖² − r²), from below.
    let f_lo = down(f_sum - up(gamma(k + 2) * f_abs) - up(f_err * (1.0 + gamma(k))));
    let ball_lo = down(down(mu * down(dn2 * (1.0 - gamma(d + 2)))) - up(mu * up(r * r)));
    let big_f = down(f_lo + ball_lo);
    // ‖∇F(δ̂)‖ = ‖Σ coef_j w_j + 2μδ̂‖ from above.
    let (mut g2, mut e2) = (0.0, 0.0);
    for c in 0..d {
        let (mut s, mut a, mut ce) = (2.0 * mu * cert.delta[c], (2.0 * mu * cert.delta[c]).abs(), 0.0);
        for j in 0..k {
            if coef[j] != 0.0 || coef_err[j] != 0.0 {
                let wjc = w[(j, c)];
                s += coef[j] * wjc;
                a += (coef[j] * wjc).abs();
                ce += coef_err[j] * wjc.abs();
            }
        }
        g2 += s * s;
        let e = up(gamma(k + 2) * a) + up(ce * (1.0 + gamma(k)));
        e2 += e * e;
    }
    let grad_up = up(up(g2.sqrt() * (1.0 + gamma(d + 2))) + up(e2.sqrt() * (1.0 + gamma(d + 2))));
    let lmax = lambda_max_up(sample, &curv, nu);
    if !(lmax < mu) {
        return Err(BallError::Curvature { mu, lmax });
    }
    let h_lo = down(mu - lmax);
    let bound = down(big_f - up(up(grad_up * grad_up) / down(4.0 * h_lo)));
    if bound > 0.0 {
        Ok(bound)
    } else {
        Err(BallError::Weak(bound))
    }
}

/// An upper bound of `λ_max(Σ_j curv_j w_j w_jᵀ)` from the claim ν: ν plus the residual
/// of a Cholesky factorisation of `νI − M̂` and the rounding of M̂ itself; ∞ when the
/// factorisation fails.
fn lambda_max_up(sample: &Sample, curv: &[f64], nu: f64) -> f64 {
    let net = sample.net;
    let (k, d) = (net.width(), net.dim());
    let used: Vec<usize> = (0..k).filter(|&j| curv[j] > 0.0).collect();
    if used.is_empty() {
        return 0.0;
    }
    let m = gram(sample, curv, &used);
    // ‖M̂ − M‖₂ ≤ γ Σ_j curv_j ‖w_j‖².
    let spread: f64 = used.iter().map(|&j| curv[j] * sample.wn_up[j] * sample.wn_up[j]).sum();
    let m_err = up(gamma(used.len() + 4) * spread * (1.0 + gamma(used.len())));
    let mut n = -m;
    for i in 0..d {
        n[(i, i)] += nu;
    }
    let Some(ch) = n.clone().cholesky() else { return f64::INFINITY };
    let l = ch.l();
    // Residual of the factorisation, computed, plus its rounding (γ(|N| + |L||Lᵀ|)).
    let llt = &l * l.transpose();
    let (mut r2, mut n2, mut l2) = (0.0, 0.0, 0.0);
    for a in 0..d {
        for b in 0..d {
            let e = n[(a, b)] - llt[(a, b)];
            r2 += e * e;
            n2 += n[(a, b)] * n[(a, b)];
        }
    }
    for v in l.iter() {
        l2 += v * v;
    }
    let diag = (0..d).map(|i| n[(i, i)].abs()).fold(0.0, f64::max) * 2.0 * U;
    let res = up(up(r2.sqrt() * (1.0 + gamma(d * d))) + up(gamma(d + 4) * (n2.sqrt() + l2) * (1.0 + gamma(d * d))) + diag);
    up(up(nu + res) + m_err)
}

/// `M̂ = Σ_{j ∈ used} curv_j w_j w_jᵀ` in floating point.
pub(crate) fn gram(sample: &Sample, curv: &[f64], used: &[usize]) -> DMatrix<f64> {
    let w = sample.net.w();
    let d = sample.net.dim();
    let mut b = DMatrix::<f64>::zeros(used.len(), d);
    for (i, &j) in used.iter().enumerate() {
        let s = curv[j].sqrt();
        for c in 0..d {
            b[(i, c)] = s * w[(j, c)];
        }
    }
    // Bᵀ B with B's rows √curv_j w_j; the error of the square root is inside the
    // margin of `lambda_max_up` (γ of the sum, applied to Σ curv_j ‖w_j‖²).
    b.transpose() * b
}

/// Checks a ball certificate for the sample `(x, y)` of `net` with fresh arithmetic:
/// `Ok(b)` with `b > 0` a certified lower bound of `y·N(x + δ)` over `‖δ‖ ≤ radius`,
/// so that no point of the closed ball flips the sample.
pub fn check_ball_cert(net: &crate::net::Net, x: &[f64], y: f64, cert: &BallCert) -> Result<f64, BallError> {
    if x.len() != net.dim() {
        return Err(BallError::Malformed("x has the wrong dimension"));
    }
    check_ball(&Sample::new(net, x, y), cert)
}
