//! Per-sample losses in log space.
//!
//! Training to losses far below the smallest positive `f64` (1e-308) needs every loss
//! quantity as a logarithm. For a margin q this module gives `ln ℓ(q)` and
//! `ln(−ℓ'(q))`; the total loss is `ln L = LSE_i ln ℓ(q_i)` (log-sum-exp) and the
//! gradient weights normalised by the loss are `r_i = exp(ln(−ℓ'(q_i)) − ln L)`, which
//! are always representable (they lie in (0, 1] for the exponential loss and sum to 1).

use super::Loss;

/// Below this argument, `ln softplus(z)` is evaluated as `z − e^z/2` (the next term of
/// the series is `e^{2z}/3 − e^{2z}/8 < 2e-18·|z|` relative for `z < −20`).
const SOFTPLUS_SERIES_BELOW: f64 = -20.0;

/// `softplus(z) = ln(1 + e^z)`, stable for every finite z.
pub(crate) fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// `ln softplus(z)`, finite for every finite z (no underflow for z ≪ −745).
pub(crate) fn ln_softplus(z: f64) -> f64 {
    if z < SOFTPLUS_SERIES_BELOW {
        z - 0.5 * z.exp()
    } else {
        softplus(z).ln()
    }
}

/// `(ln ℓ(q), ln(−ℓ'(q)))` for one margin.
///
/// Exponential: `ℓ = −ℓ' = e^{−q}`, both logs are `−q`. Logistic:
/// `ℓ = softplus(−q)`, `−ℓ' = σ(−q) = e^{−softplus(q)}`.
#[inline]
pub(crate) fn ln_terms(loss: Loss, q: f64) -> (f64, f64) {
    match loss {
        Loss::Exp => (-q, -q),
        Loss::Logistic => (ln_softplus(-q), -softplus(q)),
    }
}

/// Log-sum-exp `ln Σ e^{t}` of `values` (iterated twice: once for the maximum, once for
/// the shifted sum), stable for any magnitudes. Returns −∞ for no values and NaN when
/// any value is NaN.
pub(crate) fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let mut max = f64::NEG_INFINITY;
    for t in values.clone() {
        if t.is_nan() {
            return f64::NAN;
        }
        if t > max {
            max = t;
        }
    }
    if max.is_infinite() {
        return max;
    }
    let s: f64 = values.map(|t| (t - max).exp()).sum();
    max + s.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_softplus_matches_direct_formula_where_representable() {
        for &z in &[-40.0f64, -25.0, -20.5, -19.0, -3.0, 0.0, 2.0, 30.0, 700.0] {
            // Reference: ln(1 + e^z) through ln_1p (exact to rounding where e^z is
            // representable).
            let direct = if z > 30.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() };
            let got = ln_softplus(z).exp();
            assert!((got - direct).abs() <= 1e-14 * direct, "z = {z}: {got} vs {direct}");
        }
        // Far below exp's range the log form keeps working.
        assert!((ln_softplus(-1e6) + 1e6).abs() < 1e-9);
    }

    #[test]
    fn log_sum_exp_is_shift_stable() {
        let v = [-1e5, -1e5 - 1.0, -1e5 - 2.0];
        let want = -1e5 + (1.0 + (-1.0f64).exp() + (-2.0f64).exp()).ln();
        assert!((log_sum_exp(v.iter().copied()) - want).abs() < 1e-9);
    }
}
