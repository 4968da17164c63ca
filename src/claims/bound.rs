//! A lower bound on the KKT residual that holds for every certificate, from the bias
//! entries alone: what lets `check` say "not a KKT point" soundly (docs/kkt.md).

use serde::Serialize;

use crate::data::Dataset;
use crate::net::{Net, NetError};

/// A lower bound on the relative L2 KKT residual that holds for *every* certificate:
/// every support, every λ ≥ 0 and every subgradient admissible at tolerance `tau`
/// (docs/kkt.md).
///
/// The bias entry of the residual of neuron j is `b̂_j − Σ_i λ_i y_i v̂_j s_ij` with
/// `s_ij ∈ [0, 1]`, and `s_ij = 0` when the pre-activation `u_ij` is off beyond the
/// τ-test. When every sample that may activate neuron j has `y_i v_j b_j ≤ 0`, every term
/// of the sum has the sign opposite to `b_j` (or is 0), so the entry's magnitude is at
/// least `|b_j|`. Summing the squares over those neurons J and dividing by ‖θ‖ gives
/// `ε_rel ≥ ‖b_J‖/‖θ‖`. The residual and the bound are scale-invariant (2-homogeneity),
/// so the bound holds for θ̂ = θ/√q_min too. "Off" is decided with the pre-activation's
/// worst-case rounding error added, and the bound is shaved by the rounding of its own
/// norms, so floating point cannot make it overstate.
pub fn bias_residual_lower_bound(net: &Net, data: &Dataset, tau: f64) -> Result<BiasBound, NetError> {
    net.check_data(data)?;
    let Some(b) = net.b() else {
        return Ok(BiasBound { eps_rel_lower: 0.0, neurons: 0, tau });
    };
    let (m, k, d) = (data.m(), net.width(), net.dim());
    let eps = f64::EPSILON;
    let grow = 1.0 + (d as f64 + 4.0) * eps;
    let mut sum_sq = 0.0;
    let mut neurons = 0;
    for j in 0..k {
        let (w, bj, vj) = (net.w().row(j), b[j], net.v()[j]);
        if bj == 0.0 {
            continue;
        }
        let wn = (w.norm_squared() + bj * bj).sqrt();
        let counts = (0..m).all(|i| {
            let x = data.x().row(i);
            let u = w.dot(&x) + bj;
            let abs_sum: f64 = w.iter().zip(x.iter()).map(|(a, c)| (a * c).abs()).sum::<f64>() + bj.abs();
            let rounding = (d as f64 + 2.0) * eps * abs_sum * grow;
            let threshold = tau * wn * (x.norm_squared() + 1.0).sqrt() * grow;
            let surely_off = u + rounding < -threshold;
            surely_off || data.y()[i] * vj * bj <= 0.0
        });
        if counts {
            sum_sq += bj * bj;
            neurons += 1;
        }
    }
    let theta = net.param_norm_sq().sqrt();
    let shave = 1.0 - (net.param_count() as f64 + 8.0) * eps;
    let eps_rel_lower = if theta > 0.0 { sum_sq.sqrt() / theta * shave } else { 0.0 };
    Ok(BiasBound { eps_rel_lower: eps_rel_lower.max(0.0), neurons, tau })
}

/// What [`bias_residual_lower_bound`] proved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BiasBound {
    /// A lower bound on min ε_rel (L2) over every certificate at tolerance ≤ `tau`.
    pub eps_rel_lower: f64,
    /// How many neurons' biases entered the bound.
    pub neurons: usize,
    /// The ambiguity tolerance τ it holds for (and every smaller one).
    pub tau: f64,
}
