//! The report of [`super::polish`] (`relucert/polish@1`, fields in docs/reports.md) and
//! its human summary.

use serde::{Deserialize, Serialize};

use super::{kinks, Outcome, PolishSettings, Polished};
use crate::data::Dataset;
use crate::kkt::KktReport;
use crate::net::Net;

/// Format tag of a polish report.
pub const POLISH_FORMAT: &str = crate::io::tags::POLISH;

/// How polishing ended. Only [`PolishStatus::Kkt`] comes with a KKT point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolishStatus {
    /// A KKT point was found, certified at the target ε_rel and independently verified.
    Kkt,
    /// The network does not separate the data: there is no direction to polish.
    NotSeparating,
    /// An iterate became non-finite.
    Diverged,
    /// The activation pattern returned to an earlier one without progress of the
    /// normalised margin.
    Cycling,
    /// No step along the SQP direction increased the normalised margin, and no KKT solve
    /// at the current pattern was certified.
    Stalled,
    /// The iteration budget ran out.
    MaxIterations,
    /// The time limit was reached.
    TimeLimit,
}

impl PolishStatus {
    /// The snake-case name used in the report.
    pub fn name(self) -> &'static str {
        match self {
            PolishStatus::Kkt => "kkt",
            PolishStatus::NotSeparating => "not_separating",
            PolishStatus::Diverged => "diverged",
            PolishStatus::Cycling => "cycling",
            PolishStatus::Stalled => "stalled",
            PolishStatus::MaxIterations => "max_iterations",
            PolishStatus::TimeLimit => "time_limit",
        }
    }
}

/// The normalised margin γ = q_min/‖θ‖² before and after polishing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MarginPair {
    /// γ of the input network (`None` when it does not separate the data).
    pub before: Option<f64>,
    /// γ of the polished network (of the last iterate when the status is not `kkt`).
    pub after: Option<f64>,
}

/// A ReLU at a kink of the polished network: |u_ij| ≤ τ·‖(w_j, b_j)‖·‖(x_i, 1)‖ for a
/// neuron that is not zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kink {
    /// Neuron j (0-based).
    pub neuron: usize,
    /// Sample i (0-based).
    pub sample: usize,
}

/// Report of [`super::polish`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolishReport {
    /// `relucert/polish@1`.
    pub format: String,
    /// How it ended; `kkt` only for a certified and verified KKT point.
    pub status: PolishStatus,
    /// One sentence on the outcome.
    pub message: String,
    /// SQP iterations taken.
    pub iterations: usize,
    /// Certified ε_rel (L2, τ as below) of the polished network; `None` when no point was
    /// certified.
    pub eps_rel: Option<f64>,
    /// Ambiguity tolerance τ of the certificate.
    pub tau: f64,
    /// Whether `kkt::verify` re-checked the certificate independently and it holds.
    pub verified: bool,
    /// Normalised margin γ = q_min/‖θ‖² before and after.
    pub normalized_margin: MarginPair,
    /// ‖θ̂/‖θ̂‖ − θ*/‖θ*‖‖ between the input's and the polished direction.
    pub distance: Option<f64>,
    /// The angle between the two directions, in degrees.
    pub angle_degrees: Option<f64>,
    /// Samples on the margin at θ* (q̂_i ≤ 1 + on-margin tolerance).
    pub on_margin: Vec<usize>,
    /// Pairs (neuron, sample) at a kink of θ* at tolerance τ (non-zero neurons only).
    pub kinks: Vec<Kink>,
    /// Neurons that are exactly zero at θ*.
    pub zero_neurons: usize,
    /// Distinct neuron directions of θ* (neurons that are non-zero and differ in
    /// direction by more than 1e-9).
    pub directions: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Samples, width, input dimension, bias.
    pub m: usize,
    /// Width k.
    pub k: usize,
    /// Input dimension d.
    pub d: usize,
    /// Whether the network has biases.
    pub bias: bool,
    /// The certificate of the polished network (only with status `kkt`).
    pub certificate: Option<KktReport>,
}

fn opt(x: Option<f64>) -> String {
    x.map_or("–".into(), |t| format!("{t:.6e}"))
}

impl PolishReport {
    /// A short human summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        s += &format!("polish (m={} k={} d={} bias={})\n", self.m, self.k, self.d, self.bias);
        s += &format!("  status             {} — {}\n", self.status.name(), self.message);
        s += &format!("  iterations         {} ({:.3} s)\n", self.iterations, self.seconds);
        s += &format!("  eps_rel (certified) {}  tau = {:e}, verified = {}\n", opt(self.eps_rel), self.tau, self.verified);
        s += &format!(
            "  normalized margin  before {}  after {}\n",
            opt(self.normalized_margin.before),
            opt(self.normalized_margin.after)
        );
        s += &format!("  distance           {}  angle {} degrees\n", opt(self.distance), opt(self.angle_degrees));
        s += &format!(
            "  on margin          {} samples; kinks {}; zero neurons {}; directions {}\n",
            self.on_margin.len(),
            self.kinks.len(),
            self.zero_neurons,
            self.directions
        );
        s
    }
}

/// Number of distinct unit directions (w̃_j, v_j)/‖·‖ among non-zero neurons, to 1e-9.
fn count_directions(net: &Net) -> (usize, usize) {
    let flat = |j: usize| -> Vec<f64> {
        let mut r: Vec<f64> = net.w().row(j).iter().copied().collect();
        r.push(net.bias(j));
        r.push(net.v()[j]);
        let n = r.iter().map(|t| t * t).sum::<f64>().sqrt();
        r.iter().map(|t| t / n).collect()
    };
    let mut reps: Vec<Vec<f64>> = Vec::new();
    let mut zero = 0;
    for j in 0..net.width() {
        if net.v()[j] == 0.0 && net.w().row(j).iter().all(|&t| t == 0.0) {
            zero += 1;
            continue;
        }
        let u = flat(j);
        let seen = reps.iter().any(|r| r.iter().zip(&u).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt() <= 1e-9);
        if !seen {
            reps.push(u);
        }
    }
    (zero, reps.len())
}

/// Assembles the report (and the network, only for a certified KKT point).
pub(crate) fn finish_report(
    input: &Net,
    data: &Dataset,
    s: &PolishSettings,
    out: Outcome,
    result: Option<(Net, KktReport)>,
) -> Polished {
    let gamma_of = |n: &Net| -> Option<f64> {
        let q = n.margins(data).ok()?;
        Some(q.min() / n.param_norm_sq())
    };
    let mut report = PolishReport {
        format: POLISH_FORMAT.into(),
        status: out.status,
        message: out.message,
        iterations: out.iterations,
        eps_rel: None,
        tau: s.tau,
        verified: false,
        normalized_margin: MarginPair { before: out.gamma_before, after: out.gamma_last },
        distance: None,
        angle_degrees: None,
        on_margin: Vec::new(),
        kinks: Vec::new(),
        zero_neurons: 0,
        directions: 0,
        seconds: 0.0,
        m: data.m(),
        k: input.width(),
        d: input.dim(),
        bias: input.has_bias(),
        certificate: None,
    };
    let net = result.map(|(star, cert)| {
        report.eps_rel = Some(cert.eps_rel);
        report.verified = true;
        report.normalized_margin.after = gamma_of(&star);
        let a = input.flatten();
        let b = star.flatten();
        let (a, b) = (&a / a.norm(), &b / b.norm());
        report.distance = Some((&a - &b).norm());
        report.angle_degrees = Some(a.dot(&b).clamp(-1.0, 1.0).acos().to_degrees());
        if let Ok(q) = star.margins(data) {
            let q_min = q.min();
            report.on_margin = (0..data.m()).filter(|&i| q[i] / q_min <= 1.0 + s.on_margin_tol).collect();
        }
        report.kinks = kinks(&star, data, s.tau);
        (report.zero_neurons, report.directions) = count_directions(&star);
        report.certificate = Some(cert);
        star
    });
    report.seconds = out.start.elapsed().as_secs_f64();
    Polished { report, net }
}
