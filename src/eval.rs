//! Evaluating a network on a dataset: the margins q_i = y_i N(x_i), the smallest one and
//! where it is attained, the accuracy and the normalised margin q_min/‖θ‖² — the report
//! of `relucert eval` (docs/reports.md, "eval"; the quantities are defined in
//! docs/model.md).

use serde::Serialize;

use crate::data::Dataset;
use crate::io::tags;
use crate::net::{argmin, Net, NetError};

/// What [`evaluate`] measured. The command line adds the input files (`net`, `data`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// [`tags::EVAL`].
    pub format: &'static str,
    /// q_i = y_i N(x_i) for every sample, in order (length m).
    pub margins: Vec<f64>,
    /// The smallest margin (NaN when a margin is NaN).
    pub q_min: f64,
    /// The first sample attaining `q_min` (0-based).
    pub argmin: usize,
    /// Fraction of samples classified correctly, with sign(0) = +1.
    pub accuracy: f64,
    /// ‖θ‖², the squared norm of all parameters.
    pub theta_norm_sq: f64,
    /// `q_min / theta_norm_sq` (scale-invariant, since N is 2-homogeneous in θ).
    pub normalized_margin: f64,
    /// Width k of the network.
    pub width: usize,
    /// Input dimension d.
    pub d: usize,
    /// Samples m.
    pub m: usize,
}

/// Evaluates `net` on `data`. Fails with [`NetError::DimensionMismatch`] when the
/// network's input dimension is not the data's.
pub fn evaluate(net: &Net, data: &Dataset) -> Result<EvalReport, NetError> {
    let q = net.margins(data)?;
    let (argmin, q_min) = argmin(&q);
    let theta_norm_sq = net.param_norm_sq();
    Ok(EvalReport {
        format: tags::EVAL,
        margins: q.iter().copied().collect(),
        q_min,
        argmin,
        accuracy: net.accuracy(data)?,
        theta_norm_sq,
        normalized_margin: q_min / theta_norm_sq,
        width: net.width(),
        d: data.d(),
        m: data.m(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// N(x) = relu(x_1) − relu(x_2), no biases: margins by hand.
    #[test]
    fn margins_and_accuracy_by_hand() {
        let net = Net::from_rows(2, &[1.0, 0.0, 0.0, 1.0], None, &[1.0, -1.0]).unwrap();
        // N = 2, −3, 0.5, 0 ; labels +1, −1, −1, −1.
        let data = Dataset::from_rows(2, &[2.0, 0.0, 0.0, 3.0, 0.5, -1.0, 0.0, 0.0], &[1.0, -1.0, -1.0, -1.0]).unwrap();
        let r = evaluate(&net, &data).unwrap();
        assert_eq!(r.margins, vec![2.0, 3.0, -0.5, 0.0]);
        assert_eq!((r.argmin, r.q_min), (2, -0.5));
        // Samples 0 and 1 right; 2 wrong; 3 has N = 0, read as +1, so wrong too.
        assert_eq!(r.accuracy, 0.5);
        assert_eq!(r.theta_norm_sq, 4.0);
        assert_eq!(r.normalized_margin, -0.125);
        assert_eq!((r.width, r.d, r.m), (2, 2, 4));
        assert_eq!(r.format, "relucert/eval@1");
    }

    #[test]
    fn a_dimension_mismatch_is_an_error() {
        let net = Net::from_rows(3, &[1.0, 0.0, 0.0], None, &[1.0]).unwrap();
        let data = Dataset::from_rows(2, &[1.0, 0.0], &[1.0]).unwrap();
        assert!(matches!(evaluate(&net, &data), Err(NetError::DimensionMismatch { net: 3, data: 2 })));
    }
}
