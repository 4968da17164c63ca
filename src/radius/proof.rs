//! Proof-carrying radii: the proof file ([`RadiusProof`]) that `radius --proof` writes,
//! and [`verify_radius`], which re-checks a report against it with fresh arithmetic and
//! no solver.
//!
//! For each sample the proof lists the leaves of the branch-and-bound tree. The
//! verifier checks (docs/radius.md) that
//!
//! 1. the leaves' branching paths cover every activation pattern (a complete binary
//!    tree over `u_j ≥ 0` / `u_j ≤ 0`);
//! 2. each leaf proves its bound: its fixed neurons are stable in its ball, and its
//!    multipliers give a dual value of at least `½ bound²` after every rounding error
//!    is bounded (module [`super::certify`]);
//! 3. the report's `lower` is at most the smallest leaf bound or, when the proof has
//!    one, the radius of its ball certificate (checked by [`super::ball`]), and its witness flips
//!    (`y·N ≤ 0` by the plain f64 forward pass) at a distance of at most `upper`;
//! 4. a sample reported exact has `lower ≤ upper` and `upper − lower ≤ exact_tol·upper`.

// `!(a <= b)` on purpose: a NaN must fail every check.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ball::{check_ball, BallCert};
use super::certify::{check_leaf, distance_up, down, gamma, never_flips, Leaf, Sample};
use super::report::SampleOutcome;
use crate::data::Dataset;
use crate::net::Net;

/// The format tag of a radius proof.
pub const PROOF_FORMAT: &str = crate::io::tags::RADIUS_PROOF;

/// What a sample's proof rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProofKind {
    /// The leaves of a branch-and-bound tree.
    Tree,
    /// Nothing flips: every neuron that can lower the output is constant and the
    /// constant part is positive.
    None,
    /// `y·N(x) ≤ 0` already (radius 0).
    Misclassified,
}

/// The proof of one sample's lower bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleProof {
    /// 0-based sample index.
    pub index: usize,
    /// What it rests on.
    pub kind: ProofKind,
    /// The relative gap within which `exact` was claimed.
    pub exact_tol: f64,
    /// The tree's leaves (empty unless `kind` is `tree`).
    pub leaves: Vec<Leaf>,
    /// A ball certificate ([`super::ball`]): no flipped point within its radius. The
    /// reported lower bound may rest on it instead of the leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ball: Option<BallCert>,
}

/// A `radius --proof` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RadiusProof {
    /// [`PROOF_FORMAT`].
    pub format: String,
    /// One entry per reported sample.
    pub samples: Vec<SampleProof>,
}

/// The fields of a report's sample line that a proof is checked against (read from a
/// `radius` report; unknown fields are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportedSample {
    /// 0-based sample index.
    pub index: usize,
    /// Certified lower bound (null: ∞).
    pub lower: Option<f64>,
    /// Upper bound (null: ∞).
    pub upper: Option<f64>,
    /// Whether the report calls the radius proved.
    pub exact: bool,
    /// The flipping point.
    pub witness: Option<Vec<f64>>,
    /// The reported outcome.
    pub outcome: SampleOutcome,
}

impl From<&super::SampleRadius> for ReportedSample {
    fn from(s: &super::SampleRadius) -> Self {
        let opt = |v: f64| v.is_finite().then_some(v);
        ReportedSample { index: s.index, lower: opt(s.lower), upper: opt(s.upper), exact: s.exact, witness: s.witness.clone(), outcome: s.outcome }
    }
}

/// The first thing that fails, with the sample and leaf it fails at.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("sample {sample}{}: {reason}", leaf.map(|l| format!(", leaf {l}")).unwrap_or_default())]
pub struct VerifyFailure {
    /// 0-based sample index.
    pub sample: usize,
    /// 0-based leaf index within the sample's proof, when a leaf fails.
    pub leaf: Option<usize>,
    /// What fails.
    pub reason: String,
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifySummary {
    /// Samples checked.
    pub samples: usize,
    /// Of which reported exact.
    pub exact: usize,
    /// Leaves checked.
    pub leaves: usize,
    /// Ball certificates checked.
    pub balls: usize,
}

impl VerifySummary {
    /// One line for humans.
    pub fn summary(&self) -> String {
        format!("radius proof holds: {} samples ({} exact), {} leaves and {} ball certificates re-checked\n", self.samples, self.exact, self.leaves, self.balls)
    }
}

/// Re-checks every sample of `report` against `proof` (see the module doc).
pub fn verify_radius(net: &Net, data: &Dataset, report: &[ReportedSample], proof: &RadiusProof) -> Result<VerifySummary, VerifyFailure> {
    let fail = |sample: usize, leaf: Option<usize>, reason: String| VerifyFailure { sample, leaf, reason };
    let v1 = proof.format == crate::io::tags::RADIUS_PROOF_V1 && proof.samples.iter().all(|p| p.ball.is_none());
    if proof.format != PROOF_FORMAT && !v1 {
        return Err(fail(0, None, format!("proof format {:?} is not {PROOF_FORMAT}", proof.format)));
    }
    if net.check_data(data).is_err() {
        return Err(fail(0, None, "the network and the data disagree in dimension".into()));
    }
    let mut summary = VerifySummary { samples: 0, exact: 0, leaves: 0, balls: 0 };
    for r in report {
        let i = r.index;
        if i >= data.m() {
            return Err(fail(i, None, format!("index out of range (m = {})", data.m())));
        }
        let p = proof.samples.iter().find(|p| p.index == i).ok_or_else(|| fail(i, None, "the proof has no entry for this sample".into()))?;
        let x = data.row(i);
        let y = data.y()[i];
        let sample = Sample::new(net, &x, y);
        let lower = r.lower.unwrap_or(f64::INFINITY);
        let upper = r.upper.unwrap_or(f64::INFINITY);
        match p.kind {
            ProofKind::Misclassified => {
                let q = y * net.forward_one(&x);
                if !(q <= 0.0) {
                    return Err(fail(i, None, format!("declared misclassified but y·N(x) = {q:e} > 0")));
                }
            }
            ProofKind::None => {
                if !never_flips(&sample) {
                    return Err(fail(i, None, "declared unflippable, but a neuron can lower the output or the constant part is not positive".into()));
                }
            }
            ProofKind::Tree => {
                let mut min_bound = f64::INFINITY;
                for (li, leaf) in p.leaves.iter().enumerate() {
                    check_leaf(&sample, leaf).map_err(|e| fail(i, Some(li), e.to_string()))?;
                    min_bound = min_bound.min(leaf.bound);
                }
                cover(&p.leaves, &(0..p.leaves.len()).collect::<Vec<_>>(), 0, &mut Vec::new()).map_err(|e| fail(i, None, e))?;
                if let Some(ball) = &p.ball {
                    check_ball(&sample, ball).map_err(|e| fail(i, None, format!("ball certificate: {e}")))?;
                    min_bound = min_bound.max(ball.radius);
                    summary.balls += 1;
                }
                if !(lower <= min_bound) {
                    return Err(fail(i, None, format!("reported lower bound {lower:e} exceeds the smallest leaf bound {min_bound:e} (and the ball's radius)")));
                }
                summary.leaves += p.leaves.len();
            }
        }
        if let Some(w) = &r.witness {
            if w.len() != x.len() || w.iter().any(|t| !t.is_finite()) {
                return Err(fail(i, None, "the witness has the wrong length or a non-finite entry".into()));
            }
            let q = y * net.forward_one(w);
            if !(q <= 0.0) {
                return Err(fail(i, None, format!("the witness does not flip: y·N(witness) = {q:e} > 0")));
            }
            let dist = distance_up(w, &x);
            let dist_lo = down(dist * (1.0 - 2.0 * gamma(x.len() + 2)));
            if !(dist_lo <= upper) {
                return Err(fail(i, None, format!("the witness is at distance {dist:e}, beyond the reported upper bound {upper:e}")));
            }
            if !(lower <= dist) {
                return Err(fail(i, None, format!("the lower bound {lower:e} exceeds the witness's distance {dist:e}")));
            }
        }
        if r.exact {
            summary.exact += 1;
            let tight = match p.kind {
                ProofKind::None => r.witness.is_none() && upper.is_infinite(),
                ProofKind::Misclassified => r.outcome == SampleOutcome::Misclassified,
                ProofKind::Tree => r.witness.is_some() && lower <= upper && upper - lower <= p.exact_tol * upper,
            };
            if !tight {
                return Err(fail(i, None, format!("reported exact, but [{lower:e}, {upper:e}] is not closed within {} with a flipping witness", p.exact_tol)));
            }
        }
        summary.samples += 1;
    }
    Ok(summary)
}

/// Checks that the leaves `idx` (all sharing the branching `prefix`, of length
/// `depth`) cover every pattern below it.
fn cover(leaves: &[Leaf], idx: &[usize], depth: usize, prefix: &mut Vec<(usize, bool)>) -> Result<(), String> {
    if idx.iter().any(|&i| leaves[i].path.len() == depth) {
        return Ok(());
    }
    let Some(&first) = idx.first() else {
        return Err(format!("no leaf covers the region {prefix:?} (neuron, on)"));
    };
    let j = leaves[first].path[depth].0;
    if let Some(&other) = idx.iter().find(|&&i| leaves[i].path[depth].0 != j) {
        return Err(format!("leaves {first} and {other} branch on different neurons below {prefix:?}"));
    }
    for on in [true, false] {
        let sub: Vec<usize> = idx.iter().copied().filter(|&i| leaves[i].path[depth].1 == on).collect();
        prefix.push((j, on));
        cover(leaves, &sub, depth + 1, prefix)?;
        prefix.pop();
    }
    Ok(())
}
