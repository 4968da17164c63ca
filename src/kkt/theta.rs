//! θ̂ = α·θ, the normalised network of a certificate (docs/kkt.md), read from the
//! caller's network and the factor α instead of a scaled copy: every entry is rounded
//! as [`Net::scaled`] rounds it, fl(α·θ_p), and every product is the scaled network's
//! bit for bit ([`Net::scaled_preactivation_block`]), so the certificate is the same
//! while one network-sized copy fewer is alive (docs/kkt.md, "LP norms": memory).

use std::ops::Range;

use nalgebra::{DMatrix, DVector};

use crate::data::Dataset;
use crate::net::{Activation, Net, NetError};

/// The network `net` scaled by `alpha`, never formed.
#[derive(Clone, Copy)]
pub(crate) struct Theta<'a> {
    net: &'a Net,
    alpha: f64,
}

impl<'a> Theta<'a> {
    /// θ̂ = `alpha`·θ of `net`.
    pub fn new(net: &'a Net, alpha: f64) -> Theta<'a> {
        Theta { net, alpha }
    }

    /// Width k.
    pub fn width(&self) -> usize {
        self.net.width()
    }

    /// Input dimension d.
    pub fn dim(&self) -> usize {
        self.net.dim()
    }

    /// Whether the network has biases.
    pub fn has_bias(&self) -> bool {
        self.net.has_bias()
    }

    /// Number of parameters P.
    pub fn param_count(&self) -> usize {
        self.net.param_count()
    }

    /// θ̂_i in the order of [`Net::flatten`].
    pub fn param(&self, i: usize) -> f64 {
        self.net.param(i) * self.alpha
    }

    /// Calls `f(i, θ̂_i)` for every parameter, in the order of [`Net::flatten`].
    pub fn for_each_param(&self, mut f: impl FnMut(usize, f64)) {
        self.net.for_each_param(|i, t| f(i, t * self.alpha));
    }

    /// θ̂ as one vector (a P-vector: for the explicit LP and the norms of θ̂ only).
    pub fn flatten(&self) -> DVector<f64> {
        let mut out = Vec::with_capacity(self.param_count());
        self.for_each_param(|_, t| out.push(t));
        DVector::from_vec(out)
    }

    /// ‖θ̂‖², summed in the order of [`Net::flatten`].
    pub fn param_norm_sq(&self) -> f64 {
        let mut s = 0.0;
        self.for_each_param(|_, t| s += t * t);
        s
    }

    /// The output weights v̂.
    pub fn v(&self) -> Vec<f64> {
        self.net.v().iter().map(|t| t * self.alpha).collect()
    }

    /// Pre-activations of θ̂ for the neurons `neurons` on the rows of `x`.
    pub fn preactivation_block(&self, x: &DMatrix<f64>, neurons: Range<usize>) -> DMatrix<f64> {
        self.net.scaled_preactivation_block(x, neurons, self.alpha)
    }

    /// Activation pattern of θ̂ on `data` at tolerance `tau`.
    pub fn activation_pattern(&self, data: &Dataset, tau: f64) -> Result<Vec<Activation>, NetError> {
        self.net.scaled_activation_pattern(data, tau, self.alpha)
    }

    /// Margins y_i N_θ̂(x_i).
    pub fn margins(&self, data: &Dataset) -> Result<DVector<f64>, NetError> {
        self.net.scaled_margins(data, self.alpha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kkt::problem::tests::{random_data, random_net};

    /// Everything read through θ̂ = α·θ equals the scaled copy's, bit for bit: the
    /// parameters, the pre-activations (by blocks), the activation pattern and the margins.
    #[test]
    fn matches_the_scaled_copy_bit_for_bit() {
        let (m, k, d) = (9, 70, 5);
        let mut rng = crate::data::Rng::seed_from_u64(44);
        let data = random_data(&mut rng, m, d, 2);
        for bias in [false, true] {
            let net = random_net(&mut rng, k, d, bias);
            let alpha = 1.0 / 3.7f64.sqrt();
            let (hat, theta) = (net.scaled(alpha), Theta::new(&net, alpha));
            assert_eq!(theta.flatten(), hat.flatten());
            assert_eq!(theta.v(), hat.v().iter().copied().collect::<Vec<_>>());
            assert_eq!(theta.preactivation_block(data.x(), 3..67), hat.preactivation_block(data.x(), 3..67));
            assert_eq!(theta.activation_pattern(&data, 0.3), hat.activation_pattern(&data, 0.3));
            assert_eq!(theta.margins(&data), hat.margins(&data));
            let want = hat.param_norm_sq();
            assert!((theta.param_norm_sq() - want).abs() <= 1e-14 * want);
        }
    }
}
