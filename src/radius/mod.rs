//! L2 robustness radii of depth-2 ReLU networks (DESIGN §3).
//!
//! For a correctly classified sample `(x, y)` (margin `q = y·N(x) > 0`):
//!
//! * [`exact_radius`] — `r = inf { ‖δ‖₂ : y·N(x + δ) ≤ 0 }` (the **closed** reading: a
//!   point on the decision boundary counts as flipped). Branch and bound over the
//!   states of the neurons that can lower the output (see [`exact`] for the maths),
//!   each node a projection onto a polyhedron solved through its dual. The answer
//!   carries a witness `x + δ*` that the forward pass confirms, the number of nodes
//!   (regions) solved and closed, and a certified lower bound; when the budget runs out
//!   the outcome is a [`RadiusOutcome::Bracket`] `[lower, upper]`, never a claim of
//!   exactness.
//! * [`ray_radius`] — `inf { t ≥ 0 : y·N(x + t u) ≤ 0 }` along a unit vector `u`,
//!   exactly from the ≤ k breakpoints of the piecewise-linear restriction.
//! * [`fig1`] — the paper's Figure 1 measurement `c*` (strict reading, as the paper
//!   states it): one perturbation size along `ẑ = z/‖z‖`, `z = Σ_{i∈I} y_i x_i`, that
//!   flips every on-margin sample at once.
//! * [`theorem41()`] — the smallest η of Theorem 4.1 / Corollary 4.1 on θ̂ and the
//!   theorem's hypotheses (module [`mod@theorem41`]).
//!
//! A misclassified sample (`q ≤ 0`) has radius 0 and is reported as
//! [`RadiusOutcome::Misclassified`]. An infinite radius (nothing flips the sample) is
//! `f64::INFINITY` in the library and `null` in JSON reports.

pub mod attack;
pub mod exact;
pub mod qp;
pub mod ray;
pub mod theorem41;

use std::time::Duration;

use nalgebra::DVector;
use rayon::prelude::*;
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::data::Dataset;
use crate::net::{Net, NetError};
use ray::{intersect, Interval, Ray};

pub use theorem41::{theorem41, Theorem41Report, Theorem41Settings};

/// Errors for misuse: bad indices, directions, values or settings. A budget that ran
/// out or a misclassified sample is an outcome, not an error.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RadiusError {
    /// Network and data disagree, or the network does not separate the data.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A sample index beyond the dataset.
    #[error("sample index {index} is out of range: the dataset has m = {m} samples (indices are 0-based)")]
    IndexOutOfRange {
        /// Requested index.
        index: usize,
        /// Number of samples.
        m: usize,
    },
    /// A vector of the wrong length.
    #[error("{what} has length {got} but the network takes d = {expected} inputs")]
    Length {
        /// Which vector.
        what: &'static str,
        /// Expected length d.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A NaN or infinite entry.
    #[error("{what} has a non-finite value {value} at index {index}")]
    NonFinite {
        /// Which vector.
        what: &'static str,
        /// Position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A direction of zero norm.
    #[error("the direction has zero norm, so it defines no ray")]
    ZeroDirection,
    /// A label other than ±1.
    #[error("label {value} is not -1 or +1")]
    BadLabel {
        /// The value.
        value: f64,
    },
    /// A setting outside its allowed range.
    #[error("invalid setting {name} = {value}: {reason}")]
    BadSetting {
        /// Setting name.
        name: &'static str,
        /// Its value.
        value: f64,
        /// What is required.
        reason: &'static str,
    },
}

/// Which QP method solves the per-node projections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QpBackend {
    /// Dual active-set (Goldfarb–Idnani) with cutting planes — the default; fastest by
    /// measurement (BENCHMARKS.md).
    DualActiveSet,
    /// Clarabel's interior-point method, re-solved after each cut (a fallback).
    Clarabel,
}

/// Settings of [`exact_radius`].
#[derive(Debug, Clone, PartialEq)]
pub struct RadiusSettings {
    /// Stop after this many node QPs (regions) and return a bracket. Default: none.
    pub max_regions: Option<usize>,
    /// Stop after this wall time and return a bracket. Default: none.
    pub time_limit: Option<Duration>,
    /// A node is closed when its lower bound reaches `upper·(1 − rel_tol)`.
    /// Default 1e-9.
    pub rel_tol: f64,
    /// A finished search is called exact when `upper − lower ≤ exact_tol·upper`.
    /// Default 1e-6.
    pub exact_tol: f64,
    /// QP feasibility tolerance, as a distance relative to `1 + ‖x‖`. Default 1e-12.
    pub qp_tol: f64,
    /// Iteration cap per QP (dual active set). Default 100 000.
    pub qp_max_iterations: usize,
    /// Cutting planes allowed per node. Default 10 000.
    pub max_cuts: usize,
    /// Relative stretches `s` tried, in order, to confirm a boundary point
    /// `x + (1 + s)δ` with the forward pass (`y·N ≤ 0` exactly, no tolerance).
    /// Default `[0, 1e-12, 1e-10, 1e-8]`.
    pub witness_stretch: Vec<f64>,
    /// Forward-pass tolerance for a witness on a flip set without interior (where no
    /// stretch reaches `y·N ≤ 0` in floating point): accept `y·N(z) ≤ witness_tol·S`,
    /// `S = Σ_j |v_j| (‖w_j‖(‖x‖ + ‖δ‖) + |b_j|)` (the rounding scale of `x + δ` and the
    /// forward pass). The
    /// witness's own margin is reported. Default 1e-13.
    pub witness_tol: f64,
    /// Every this many node QPs, also solve the leaf obtained by rounding the node's
    /// relaxed point (each unassigned neuron in its state there) — a cheap dive that
    /// finds incumbents early, so that more neurons get fixed. 0 turns it off.
    /// Default 8.
    pub heuristic_every: usize,
    /// QP backend. Default [`QpBackend::DualActiveSet`].
    pub backend: QpBackend,
}

impl Default for RadiusSettings {
    fn default() -> Self {
        RadiusSettings {
            max_regions: None,
            time_limit: None,
            rel_tol: 1e-9,
            exact_tol: 1e-6,
            qp_tol: 1e-12,
            qp_max_iterations: 100_000,
            max_cuts: 10_000,
            witness_stretch: vec![0.0, 1e-12, 1e-10, 1e-8],
            witness_tol: 1e-13,
            heuristic_every: 8,
            backend: QpBackend::DualActiveSet,
        }
    }
}

impl RadiusSettings {
    fn check(&self) -> Result<(), RadiusError> {
        let pos = |name, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(RadiusError::BadSetting { name, value, reason: "must be finite and ≥ 0" })
            }
        };
        pos("rel_tol", self.rel_tol)?;
        pos("exact_tol", self.exact_tol)?;
        pos("qp_tol", self.qp_tol)?;
        pos("witness_tol", self.witness_tol)?;
        for &s in &self.witness_stretch {
            pos("witness_stretch", s)?;
        }
        Ok(())
    }
}

/// Why a search stopped before it could prove optimality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// `max_regions` node QPs were solved.
    MaxRegions,
    /// `time_limit` passed.
    TimeLimit,
    /// A QP hit its iteration cap or a witness could not be confirmed.
    Numerical,
}

/// Outcome of an exact-radius search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadiusOutcome {
    /// The search finished: `lower` and `upper` agree to `exact_tol`.
    Exact,
    /// The search stopped early: the radius lies in `[lower, upper]`.
    Bracket {
        /// Why it stopped.
        reason: StopReason,
    },
    /// `y·N(x) ≤ 0` already: radius 0 (closed reading).
    Misclassified,
}

/// The answer of [`exact_radius`].
#[derive(Debug, Clone, PartialEq)]
pub struct RadiusResult {
    /// Exact, bracket, or misclassified.
    pub outcome: RadiusOutcome,
    /// Best radius known: equal to `upper` (the witness distance); ∞ when nothing flips.
    pub radius: f64,
    /// Certified lower bound.
    pub lower: f64,
    /// Upper bound: the distance of the witness (∞ without one).
    pub upper: f64,
    /// The point `x + δ*` with `y·N ≤ 0` confirmed by the forward pass.
    pub witness: Option<DVector<f64>>,
    /// The margin `y·N(x)`.
    pub margin: f64,
    /// `y·N(witness)` by the forward pass: ≤ 0, or within `witness_tol·S` of 0 on a
    /// flip set without interior (NaN without a witness).
    pub witness_margin: f64,
    /// Node QPs solved (regions or branches visited).
    pub regions: usize,
    /// Nodes closed (pruned by bound, infeasible, or solved leaves).
    pub closed: usize,
    /// The cheap certified lower bound the search started from (per-neuron worst case).
    pub initial_lower: f64,
    /// The upper bound before branching (gradient ray and x's own region).
    pub initial_upper: f64,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl RadiusResult {
    /// Whether the radius is proved (within `exact_tol`), including the misclassified
    /// case (radius 0).
    pub fn is_exact(&self) -> bool {
        !matches!(self.outcome, RadiusOutcome::Bracket { .. })
    }
}

fn check_vec(what: &'static str, v: &[f64], d: usize) -> Result<(), RadiusError> {
    if v.len() != d {
        return Err(RadiusError::Length { what, expected: d, got: v.len() });
    }
    for (index, &value) in v.iter().enumerate() {
        if !value.is_finite() {
            return Err(RadiusError::NonFinite { what, index, value });
        }
    }
    Ok(())
}

fn check_label(y: f64) -> Result<(), RadiusError> {
    if y == 1.0 || y == -1.0 {
        Ok(())
    } else {
        Err(RadiusError::BadLabel { value: y })
    }
}

/// The exact L2 radius of `(x, y)` (closed reading `y·N ≤ 0`), by branch and bound.
pub fn exact_radius(net: &Net, x: &[f64], y: f64, settings: &RadiusSettings) -> Result<RadiusResult, RadiusError> {
    check_vec("sample x", x, net.dim())?;
    check_label(y)?;
    settings.check()?;
    Ok(exact::search(net, x, y, settings))
}

/// The radius along a direction: `inf { t ≥ 0 : y·N(x + t û) ≤ 0 }` with `û = u/‖u‖`,
/// or `None` when the ray never flips the sample. Exact from the breakpoints.
pub fn ray_radius(net: &Net, x: &[f64], y: f64, u: &[f64]) -> Result<Option<f64>, RadiusError> {
    let d = net.dim();
    check_vec("sample x", x, d)?;
    check_vec("direction", u, d)?;
    check_label(y)?;
    let un = u.iter().map(|t| t * t).sum::<f64>().sqrt();
    if un == 0.0 || !un.is_finite() {
        return Err(RadiusError::ZeroDirection);
    }
    let k = net.width();
    let mut a = Vec::with_capacity(k);
    let mut p = Vec::with_capacity(k);
    let mut alpha = Vec::with_capacity(k);
    for j in 0..k {
        a.push(net.preactivation_one(j, x));
        p.push(net.w().row(j).iter().zip(u).map(|(w, t)| w * t).sum::<f64>() / un);
        alpha.push(y * net.v()[j]);
    }
    Ok(Ray { a: &a, p: &p, alpha: &alpha }.first_crossing(0.0))
}

/// For the rows `idx` of `data`, the sub-level sets `{t ≥ 0 : y_i N(x_i − t y_i dir) ≤ level}`
/// (`strict`: `< level`), in matrix form (one product `X_I Wᵀ`).
pub(crate) fn signed_ray_sets(
    net: &Net,
    data: &Dataset,
    idx: &[usize],
    dir: &DVector<f64>,
    level: f64,
    strict: bool,
) -> Vec<Vec<Interval>> {
    let sub = data.select(idx);
    let u = net.preactivations(sub.x());
    let wz: DVector<f64> = net.w() * dir;
    let k = net.width();
    (0..idx.len())
        .into_par_iter()
        .map(|r| {
            let yi = sub.y()[r];
            let a: Vec<f64> = (0..k).map(|j| u[(r, j)]).collect();
            let p: Vec<f64> = (0..k).map(|j| -yi * wz[j]).collect();
            let alpha: Vec<f64> = (0..k).map(|j| yi * net.v()[j]).collect();
            Ray { a: &a, p: &p, alpha: &alpha }.sublevel(level, strict)
        })
        .collect()
}

/// `inf` of the intersection of sub-level sets (∞ when empty).
pub(crate) fn common_inf(sets: &[Vec<Interval>], strict: bool) -> f64 {
    let mut acc = vec![Interval { lo: 0.0, hi: f64::INFINITY }];
    for s in sets {
        acc = intersect(&acc, s, strict);
        if acc.is_empty() {
            return f64::INFINITY;
        }
    }
    acc[0].lo
}

/// On-margin set `{i : q_i ≤ (1 + slack)·q_min}` and q_min, for a separating network.
pub(crate) fn on_margin(net: &Net, data: &Dataset, slack: f64) -> Result<(Vec<usize>, f64, DVector<f64>), RadiusError> {
    if !(slack.is_finite() && slack >= 0.0) {
        return Err(RadiusError::BadSetting { name: "slack", value: slack, reason: "must be finite and ≥ 0" });
    }
    let q = net.margins(data)?;
    let (sample, q_min) = crate::net::argmin(&q);
    if q_min.is_nan() || q_min <= 0.0 {
        return Err(NetError::NotSeparating { sample, margin: q_min }.into());
    }
    let idx = (0..data.m()).filter(|&i| q[i] <= (1.0 + slack) * q_min).collect();
    Ok((idx, q_min, q))
}

/// The paper's Figure 1 measurement (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fig1Result {
    /// `c* = inf { c > 0 : y_i N(x_i − y_i c ẑ) < 0 ∀ i ∈ I }` (∞ → null).
    #[serde(serialize_with = "finite_or_null")]
    pub c_star: f64,
    /// The on-margin set I (0-based indices).
    pub on_margin: Vec<usize>,
    /// √d, the trivial perturbation size of the paper's plot.
    pub sqrt_d: f64,
    /// `‖z‖` with `z = Σ_{i∈I} y_i x_i` (0 makes c* infinite: no direction).
    pub z_norm: f64,
    /// The smallest margin q_min.
    pub q_min: f64,
    /// The slack used (I: q_i ≤ (1 + slack)·q_min).
    pub slack: f64,
    /// Per on-margin sample, `inf { c ≥ 0 : y_i N(x_i − y_i c ẑ) ≤ 0 }` (∞ → null).
    #[serde(serialize_with = "finite_or_null_vec")]
    pub per_sample: Vec<f64>,
}

/// Figure 1's `c*` for a separating network, with the paper's on-margin set
/// (`slack` = 0.1 in the paper). Exact from the breakpoints of every ray.
pub fn fig1(net: &Net, data: &Dataset, slack: f64) -> Result<Fig1Result, RadiusError> {
    let (idx, q_min, _) = on_margin(net, data, slack)?;
    let d = data.d();
    let mut z = DVector::zeros(d);
    for &i in &idx {
        z += data.x().row(i).transpose() * data.y()[i];
    }
    let z_norm = z.norm();
    let sqrt_d = (d as f64).sqrt();
    if z_norm == 0.0 {
        let n = idx.len();
        return Ok(Fig1Result {
            c_star: f64::INFINITY,
            on_margin: idx,
            sqrt_d,
            z_norm,
            q_min,
            slack,
            per_sample: vec![f64::INFINITY; n],
        });
    }
    let zhat = z / z_norm;
    let strict_sets = signed_ray_sets(net, data, &idx, &zhat, 0.0, true);
    let c_star = common_inf(&strict_sets, true);
    let closed = signed_ray_sets(net, data, &idx, &zhat, 0.0, false);
    let per_sample = closed.iter().map(|s| s.first().map_or(f64::INFINITY, |iv| iv.lo)).collect();
    Ok(Fig1Result { c_star, on_margin: idx, sqrt_d, z_norm, q_min, slack, per_sample })
}

/// Serialises a float, writing `null` for ±∞ and NaN.
pub fn finite_or_null<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_none()
    }
}

fn finite_or_null_vec<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
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
    /// `exact`, `bracket`, `misclassified`, or `none` (nothing flips).
    pub outcome: String,
    /// Why a bracket stopped (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
    /// Node QPs solved (exact method).
    pub regions: usize,
    /// Nodes closed (exact method).
    pub closed: usize,
    /// Seconds spent on this sample.
    pub seconds: f64,
}

/// The `radius` report (DESIGN §7).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RadiusReport {
    /// `relucert/radius@1`.
    pub format: &'static str,
    /// `exact`, `ray` or `fig1`.
    pub method: &'static str,
    /// Which flip set: `closed` (y·N ≤ 0) or `strict` (y·N < 0, Figure 1).
    pub reading: &'static str,
    /// Per-sample results.
    pub samples: Vec<SampleRadius>,
    /// Figure 1 fields (`c_star`, `on_margin`, `sqrt_d`, …) with `--method fig1`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub fig1: Option<Fig1Result>,
}

impl RadiusReport {
    /// A short human table.
    pub fn summary(&self) -> String {
        let mut s = format!("radius ({} method, {} reading: flipped means y·N {})\n", self.method, self.reading, if self.reading == "closed" { "≤ 0" } else { "< 0" });
        s.push_str(&format!("{:>6} {:>5} {:>12} {:>12} {:>12} {:>12} {:>14} {:>8}\n", "index", "label", "margin", "radius", "lower", "upper", "outcome", "regions"));
        for r in &self.samples {
            s.push_str(&format!(
                "{:>6} {:>5} {:>12.6} {:>12} {:>12} {:>12} {:>14} {:>8}\n",
                r.index,
                r.label,
                r.margin,
                fmt_inf(r.radius),
                fmt_inf(r.lower),
                fmt_inf(r.upper),
                r.outcome,
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
        if self.samples.iter().any(|r| r.outcome == "misclassified") {
            s.push_str("misclassified samples (y·N(x) ≤ 0) have radius 0\n");
        }
        s
    }
}

/// Computes the radius report for the samples `samples` (all when empty) of `data`.
/// For `Fig1`, the samples are the on-margin set and each line is that sample's own
/// crossing along `−y_i ẑ`.
pub fn radius_report(net: &Net, data: &Dataset, method: &RadiusMethod, samples: &[usize]) -> Result<RadiusReport, RadiusError> {
    net.check_data(data)?;
    let m = data.m();
    for &index in samples {
        if index >= m {
            return Err(RadiusError::IndexOutOfRange { index, m });
        }
    }
    let all: Vec<usize> = if samples.is_empty() { (0..m).collect() } else { samples.to_vec() };
    let margins = net.margins(data)?;
    let line = |index: usize, radius: f64, lower: f64, upper: f64, exact: bool, witness: Option<Vec<f64>>, outcome: &str| SampleRadius {
        index,
        label: data.y()[index],
        margin: margins[index],
        radius,
        lower,
        upper,
        exact,
        witness,
        outcome: outcome.into(),
        stop_reason: None,
        regions: 0,
        closed: 0,
        seconds: 0.0,
    };
    match method {
        RadiusMethod::Exact(settings) => {
            settings.check()?;
            let mut out = Vec::with_capacity(all.len());
            for &i in &all {
                let x = data.row(i);
                let r = exact_radius(net, &x, data.y()[i], settings)?;
                let (outcome, reason) = match r.outcome {
                    RadiusOutcome::Exact if r.radius.is_infinite() => ("none", None),
                    RadiusOutcome::Exact => ("exact", None),
                    RadiusOutcome::Misclassified => ("misclassified", None),
                    RadiusOutcome::Bracket { reason } => ("bracket", Some(reason)),
                };
                let mut l = line(i, r.radius, r.lower, r.upper, r.is_exact(), r.witness.map(|w| w.as_slice().to_vec()), outcome);
                l.stop_reason = reason;
                l.regions = r.regions;
                l.closed = r.closed;
                l.seconds = r.seconds;
                out.push(l);
            }
            Ok(RadiusReport { format: "relucert/radius@1", method: "exact", reading: "closed", samples: out, fig1: None })
        }
        RadiusMethod::Ray { direction } => {
            let u = direction.as_slice();
            check_vec("direction", u, net.dim())?;
            let un = direction.norm();
            if un == 0.0 {
                return Err(RadiusError::ZeroDirection);
            }
            let mut out = Vec::with_capacity(all.len());
            for &i in &all {
                let x = data.row(i);
                let y = data.y()[i];
                let t = ray_radius(net, &x, y, u)?;
                let l = match t {
                    Some(t) => {
                        let w: Vec<f64> = x.iter().zip(u).map(|(a, b)| a + t * b / un).collect();
                        line(i, t, t, t, true, Some(w), if t == 0.0 { "misclassified" } else { "exact" })
                    }
                    None => line(i, f64::INFINITY, f64::INFINITY, f64::INFINITY, true, None, "none"),
                };
                out.push(l);
            }
            Ok(RadiusReport { format: "relucert/radius@1", method: "ray", reading: "closed", samples: out, fig1: None })
        }
        RadiusMethod::Fig1 { slack } => {
            let f = fig1(net, data, *slack)?;
            let zhat = if f.z_norm > 0.0 {
                let mut z = DVector::zeros(data.d());
                for &i in &f.on_margin {
                    z += data.x().row(i).transpose() * data.y()[i];
                }
                Some(z / f.z_norm)
            } else {
                None
            };
            let out = f
                .on_margin
                .iter()
                .zip(&f.per_sample)
                .map(|(&i, &t)| {
                    let w = zhat.as_ref().filter(|_| t.is_finite()).map(|zh| {
                        let y = data.y()[i];
                        (0..data.d()).map(|c| data.x()[(i, c)] - y * t * zh[c]).collect()
                    });
                    line(i, t, t, t, true, w, if t.is_finite() { "exact" } else { "none" })
                })
                .collect();
            Ok(RadiusReport { format: "relucert/radius@1", method: "fig1", reading: "strict", samples: out, fig1: Some(f) })
        }
    }
}
