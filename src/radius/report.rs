//! The `radius` report: [`radius_report`] runs one [`RadiusMethod`] over a set of
//! samples and returns a [`RadiusReport`] of typed per-sample lines
//! ([`SampleRadius`]) that serialise to the JSON fields listed in docs/reports.md.

use nalgebra::DVector;
use serde::{Deserialize, Serialize, Serializer};

use super::fig1::{fig1, signed_sum, Fig1Result};
use super::proof::{RadiusProof, PROOF_FORMAT};
use super::{check_vec, exact_radius_with_progress, ray_radius, BracketReason, RadiusError, RadiusOutcome, RadiusSettings, SearchProgress};
use crate::data::Dataset;
use crate::net::Net;

/// The format tag of a radius report.
pub const REPORT_FORMAT: &str = crate::io::tags::RADIUS;

/// Serialises a float, writing `null` for ±∞ and NaN.
pub fn finite_or_null<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_none()
    }
}

/// Serialises floats, writing `null` for ±∞ and NaN.
pub(crate) fn finite_or_null_vec<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|t| t.is_finite().then_some(*t)))
}

fn fmt_inf(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        "inf".into()
    }
}

/// Which radius a [`radius_report`] computes.
#[derive(Debug, Clone, PartialEq)]
pub enum RadiusMethod {
    /// Exact radius by branch and bound.
    Exact(RadiusSettings),
    /// Radius along one direction (any non-zero length-d vector; normalised).
    Ray {
        /// The direction.
        direction: DVector<f64>,
    },
    /// Figure 1's `c*` with the on-margin slack.
    Fig1 {
        /// Slack (0.1 in the paper).
        slack: f64,
    },
}

/// The name of a [`RadiusMethod`] in a report (`method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MethodKind {
    /// Branch and bound.
    Exact,
    /// Along one direction.
    Ray,
    /// The Figure 1 measurement.
    Fig1,
}

impl MethodKind {
    /// The report's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Exact => "exact",
            MethodKind::Ray => "ray",
            MethodKind::Fig1 => "fig1",
        }
    }
}

/// Which flip set a report uses (`reading`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reading {
    /// Flipped means `y·N ≤ 0`.
    Closed,
    /// Flipped means `y·N < 0` (Figure 1, as the paper states it).
    Strict,
}

impl Reading {
    /// The report's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Reading::Closed => "closed",
            Reading::Strict => "strict",
        }
    }

    fn relation(self) -> &'static str {
        match self {
            Reading::Closed => "≤ 0",
            Reading::Strict => "< 0",
        }
    }
}

/// One sample's outcome in a report (`outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleOutcome {
    /// The radius is proved.
    Exact,
    /// Only `[lower, upper]` is known.
    Bracket,
    /// `y·N(x) ≤ 0` already: radius 0.
    Misclassified,
    /// Nothing flips the sample: radius ∞.
    None,
}

impl SampleOutcome {
    /// The report's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SampleOutcome::Exact => "exact",
            SampleOutcome::Bracket => "bracket",
            SampleOutcome::Misclassified => "misclassified",
            SampleOutcome::None => "none",
        }
    }
}

/// One sample's line of a [`RadiusReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleRadius {
    /// 0-based sample index.
    pub index: usize,
    /// Label ±1.
    pub label: f64,
    /// `y·N(x)`.
    pub margin: f64,
    /// Radius (null when infinite).
    #[serde(serialize_with = "finite_or_null")]
    pub radius: f64,
    /// Certified lower bound (null when infinite).
    #[serde(serialize_with = "finite_or_null")]
    pub lower: f64,
    /// Upper bound (null when infinite).
    #[serde(serialize_with = "finite_or_null")]
    pub upper: f64,
    /// Whether `radius` is proved (for `ray`, exact along the ray).
    pub exact: bool,
    /// The flipping point `x + δ*` (null when none).
    pub witness: Option<Vec<f64>>,
    /// `y·N(witness)` by the plain f64 forward pass (null without a witness); a sample
    /// is exact only when it is ≤ 0.
    #[serde(serialize_with = "finite_or_null")]
    pub witness_margin: f64,
    /// Exact, bracket, misclassified, or none (nothing flips).
    pub outcome: SampleOutcome,
    /// Why a bracket is not exact (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<BracketReason>,
    /// Node QPs solved (exact method).
    pub regions: usize,
    /// Nodes closed (exact method).
    pub closed: usize,
    /// Seconds spent on this sample.
    pub seconds: f64,
    /// Exact method: the radius of the ball certificate, when one was found (absent
    /// otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ball_radius: Option<f64>,
    /// Exact method: the bracket over time (`seconds`, `lower`, `upper`; null for ∞).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<BracketPoint>,
}

/// One point of a bracket's history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BracketPoint {
    /// Seconds since the sample's search started.
    pub seconds: f64,
    /// Certified lower bound then.
    #[serde(serialize_with = "finite_or_null")]
    pub lower: f64,
    /// Upper bound then (null: no witness yet).
    #[serde(serialize_with = "finite_or_null")]
    pub upper: f64,
}

/// The `radius` report (docs/reports.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RadiusReport {
    /// [`REPORT_FORMAT`].
    pub format: &'static str,
    /// Which method.
    pub method: MethodKind,
    /// Which flip set: closed (y·N ≤ 0) or strict (y·N < 0, Figure 1).
    pub reading: Reading,
    /// Per-sample results.
    pub samples: Vec<SampleRadius>,
    /// Figure 1 fields (`c_star`, `on_margin`, `sqrt_d`, …) with `--method fig1`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub fig1: Option<Fig1Result>,
    /// The proof of the lower bounds (exact method with `record_proof`); written to its
    /// own file, not part of the report.
    #[serde(skip)]
    pub proof: Option<RadiusProof>,
}

impl RadiusReport {
    /// A short human table.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "radius ({} method, {} reading: flipped means y·N {})\n",
            self.method.as_str(),
            self.reading.as_str(),
            self.reading.relation()
        );
        s.push_str(&format!("{:>6} {:>5} {:>12} {:>12} {:>12} {:>12} {:>22} {:>8}\n", "index", "label", "margin", "radius", "lower", "upper", "outcome", "regions"));
        for r in &self.samples {
            let outcome = match r.reason {
                Some(reason) => format!("{} ({})", r.outcome.as_str(), reason.as_str()),
                None => r.outcome.as_str().to_string(),
            };
            s.push_str(&format!(
                "{:>6} {:>5} {:>12.6} {:>12} {:>12} {:>12} {:>22} {:>8}\n",
                r.index,
                r.label,
                r.margin,
                fmt_inf(r.radius),
                fmt_inf(r.lower),
                fmt_inf(r.upper),
                outcome,
                r.regions
            ));
        }
        if let Some(f) = &self.fig1 {
            s.push_str(&format!(
                "c* = {}   sqrt(d) = {:.6}   on margin: {} samples (slack {})\n",
                fmt_inf(f.c_star),
                f.sqrt_d,
                f.on_margin.len(),
                f.slack
            ));
        }
        if self.samples.iter().any(|r| r.outcome == SampleOutcome::Misclassified) {
            s.push_str("misclassified samples (y·N(x) ≤ 0) have radius 0\n");
        }
        s
    }
}

/// Builds report lines (the exact-method fields zeroed).
struct LineMaker<'a> {
    net: &'a Net,
    data: &'a Dataset,
    margins: DVector<f64>,
}

impl LineMaker<'_> {
    #[allow(clippy::too_many_arguments)]
    fn line(&self, index: usize, radius: f64, lower: f64, upper: f64, exact: bool, witness: Option<Vec<f64>>, outcome: SampleOutcome) -> SampleRadius {
        let y = self.data.y()[index];
        let witness_margin = witness.as_deref().map_or(f64::NAN, |w| y * self.net.forward_one(w));
        SampleRadius {
            index,
            label: y,
            margin: self.margins[index],
            radius,
            lower,
            upper,
            exact,
            witness,
            witness_margin,
            outcome,
            reason: None,
            regions: 0,
            closed: 0,
            seconds: 0.0,
            ball_radius: None,
            history: Vec::new(),
        }
    }

    /// The line of a crossing at distance t along the unit direction `u` (`sign` ±1)
    /// from sample `index`: exact only when the forward pass confirms that the point
    /// flips (`y·N ≤ 0`), at t or at t stretched by at most `max_stretch` (relative).
    fn crossing(&self, index: usize, t: f64, u: &[f64], sign: f64, stretches: &[f64]) -> SampleRadius {
        let x = self.data.row(index);
        let y = self.data.y()[index];
        let at = |s: f64| -> Vec<f64> { x.iter().zip(u).map(|(a, b)| a + sign * t * (1.0 + s) * b).collect() };
        for &s in stretches {
            let w = at(s);
            if y * self.net.forward_one(&w) <= 0.0 {
                let outcome = if t == 0.0 { SampleOutcome::Misclassified } else { SampleOutcome::Exact };
                return self.line(index, t, t, t * (1.0 + s), true, Some(w), outcome);
            }
        }
        let mut l = self.line(index, t, t, t, false, Some(at(0.0)), SampleOutcome::Bracket);
        l.reason = Some(BracketReason::Numerical);
        l
    }
}

/// Where a `radius` report stands: which sample the exact search is on and how far it
/// has got (see [`radius_report_with_progress`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadiusProgress {
    /// The sample's index in the data.
    pub sample: usize,
    /// Samples finished before this one.
    pub done: usize,
    /// Samples asked for.
    pub total: usize,
    /// The sample's search.
    pub search: SearchProgress,
}

/// Computes the radius report for the samples `samples` (all when empty) of `data`.
/// For `Fig1`, the samples are the on-margin set and each line is that sample's own
/// crossing along `−y_i ẑ`.
pub fn radius_report(net: &Net, data: &Dataset, method: &RadiusMethod, samples: &[usize]) -> Result<RadiusReport, RadiusError> {
    radius_report_with_progress(net, data, method, samples, &mut |_| {})
}

/// [`radius_report`], telling `observe` where each exact search stands (the exact
/// method only; the others are quick).
pub fn radius_report_with_progress(net: &Net, data: &Dataset, method: &RadiusMethod, samples: &[usize], observe: &mut dyn FnMut(&RadiusProgress)) -> Result<RadiusReport, RadiusError> {
    net.check_data(data)?;
    let m = data.m();
    for &index in samples {
        if index >= m {
            return Err(RadiusError::IndexOutOfRange { index, m });
        }
    }
    let all: Vec<usize> = if samples.is_empty() { (0..m).collect() } else { samples.to_vec() };
    let lines = LineMaker { net, data, margins: net.margins(data)? };
    let stretches = RadiusSettings::default().witness_stretch;
    match method {
        RadiusMethod::Exact(settings) => {
            settings.check()?;
            let mut out = Vec::with_capacity(all.len());
            let mut proofs = Vec::new();
            for (done, &i) in all.iter().enumerate() {
                let mut tell = |search: &SearchProgress| observe(&RadiusProgress { sample: i, done, total: all.len(), search: *search });
                let r = exact_radius_with_progress(net, &data.row(i), data.y()[i], settings, &mut tell)?;
                let (outcome, reason) = match r.outcome {
                    RadiusOutcome::Exact if r.radius.is_infinite() => (SampleOutcome::None, None),
                    RadiusOutcome::Exact => (SampleOutcome::Exact, None),
                    RadiusOutcome::Misclassified => (SampleOutcome::Misclassified, None),
                    RadiusOutcome::Bracket { reason } => (SampleOutcome::Bracket, Some(reason)),
                };
                let witness = r.witness.as_ref().map(|w| w.as_slice().to_vec());
                let mut l = lines.line(i, r.radius, r.lower, r.upper, r.is_exact(), witness, outcome);
                l.reason = reason;
                l.regions = r.regions;
                l.closed = r.closed;
                l.seconds = r.seconds;
                l.ball_radius = r.ball_radius;
                l.history = r.history.iter().map(|&(seconds, lower, upper)| BracketPoint { seconds, lower, upper }).collect();
                out.push(l);
                if let Some(mut p) = r.proof {
                    p.index = i;
                    proofs.push(p);
                }
            }
            let proof = settings.record_proof.then(|| RadiusProof { format: PROOF_FORMAT.into(), samples: proofs });
            Ok(RadiusReport { format: REPORT_FORMAT, method: MethodKind::Exact, reading: Reading::Closed, samples: out, fig1: None, proof })
        }
        RadiusMethod::Ray { direction } => {
            let u = direction.as_slice();
            check_vec("direction", u, net.dim())?;
            let un = direction.norm();
            if un == 0.0 {
                return Err(RadiusError::ZeroDirection);
            }
            let unit: Vec<f64> = u.iter().map(|t| t / un).collect();
            let mut out = Vec::with_capacity(all.len());
            for &i in &all {
                let l = match ray_radius(net, &data.row(i), data.y()[i], u)? {
                    Some(t) => lines.crossing(i, t, &unit, 1.0, &stretches),
                    None => lines.line(i, f64::INFINITY, f64::INFINITY, f64::INFINITY, true, None, SampleOutcome::None),
                };
                out.push(l);
            }
            Ok(RadiusReport { format: REPORT_FORMAT, method: MethodKind::Ray, reading: Reading::Closed, samples: out, fig1: None, proof: None })
        }
        RadiusMethod::Fig1 { slack } => {
            let f = fig1(net, data, *slack)?;
            let zhat: Option<Vec<f64>> = (f.z_norm > 0.0).then(|| (signed_sum(data, &f.on_margin) / f.z_norm).as_slice().to_vec());
            let out = f
                .on_margin
                .iter()
                .zip(&f.per_sample)
                .map(|(&i, &t)| match zhat.as_ref().filter(|_| t.is_finite()) {
                    Some(zh) => lines.crossing(i, t, zh, -data.y()[i], &stretches),
                    None => lines.line(i, t, t, t, true, None, SampleOutcome::None),
                })
                .collect();
            Ok(RadiusReport { format: REPORT_FORMAT, method: MethodKind::Fig1, reading: Reading::Strict, samples: out, fig1: Some(f), proof: None })
        }
    }
}
