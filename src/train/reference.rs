//! A plain reference for the loss and its gradient at one network, in f64 with
//! nalgebra, independent of the training kernel (`engine.rs`): used by the report to
//! recompute the returned network's loss and margins, and by the tests to check every
//! kernel step against it.

use nalgebra::{DMatrix, DVector};

use super::loss::{ln_terms, log_sum_exp};
use super::settings::Loss;
use super::TrainError;
use crate::data::Dataset;
use crate::net::Net;

/// Loss and gradient at one network (plain f64 nalgebra implementation, independent of
/// the training kernel).
#[derive(Debug, Clone)]
pub struct LossGrad {
    /// Natural log of the loss.
    pub ln_loss: f64,
    /// `∇L / L` in the layout of [`Net::flatten`] (always representable).
    pub grad_over_loss: DVector<f64>,
    /// Margins `q_i`.
    pub margins: DVector<f64>,
}

impl LossGrad {
    /// log10 of the loss.
    pub fn log10_loss(&self) -> f64 {
        self.ln_loss / std::f64::consts::LN_10
    }

    /// The loss (0 when below f64's range).
    pub fn loss(&self) -> f64 {
        self.ln_loss.exp()
    }

    /// `∇L` itself (underflows to 0 when the loss is below f64's range).
    pub fn grad(&self) -> DVector<f64> {
        &self.grad_over_loss * self.ln_loss.exp()
    }
}

/// Loss `Σ ℓ(y_i N(x_i))` (as its log) and its gradient, with the ReLU derivative 1
/// for u > 0 and 0 for u ≤ 0 (PyTorch's convention).
pub fn loss_and_grad(net: &Net, data: &Dataset, loss: Loss) -> Result<LossGrad, TrainError> {
    net.check_data(data)?;
    let x = data.x();
    let y = data.y();
    let u = net.preactivations(x);
    let h = u.map(|t| t.max(0.0));
    let q = (&h * net.v()).component_mul(y);
    let ln_loss = log_sum_exp(q.iter().map(|&t| ln_terms(loss, t).0));
    let a = DVector::from_fn(data.m(), |i, _| -y[i] * (ln_terms(loss, q[i]).1 - ln_loss).exp());
    let (m, k) = (data.m(), net.width());
    let g = DMatrix::from_fn(m, k, |i, j| if u[(i, j)] > 0.0 { a[i] * net.v()[j] } else { 0.0 });
    let dw = g.transpose() * x;
    let dv = h.transpose() * &a;
    let mut out = Vec::with_capacity(net.param_count());
    for j in 0..k {
        out.extend(dw.row(j).iter());
    }
    if net.has_bias() {
        out.extend((0..k).map(|j| g.column(j).sum()));
    }
    out.extend(dv.iter());
    Ok(LossGrad { ln_loss, grad_over_loss: DVector::from_vec(out), margins: q })
}

