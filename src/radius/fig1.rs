//! The paper's Figure 1 measurement `c*` ([`fig1`]) and the ray machinery it shares
//! with Theorem 4.1: the on-margin set, the signed sub-level sets along one direction
//! for many samples at once, and their common infimum.
//!
//! Definitions (strict reading, as the paper states it) are in docs/radius.md.

use nalgebra::DVector;
use rayon::prelude::*;
use serde::Serialize;

use super::ray::{intersect, Interval, Ray};
use super::report::{finite_or_null, finite_or_null_vec};
use super::RadiusError;
use crate::data::Dataset;
use crate::net::{Net, NetError};

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

/// `z = Σ_{i∈I} y_i x_i` over the rows `idx`.
pub(crate) fn signed_sum(data: &Dataset, idx: &[usize]) -> DVector<f64> {
    let mut z = DVector::zeros(data.d());
    for &i in idx {
        z += data.x().row(i).transpose() * data.y()[i];
    }
    z
}

/// The paper's Figure 1 measurement (docs/radius.md).
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
    let z = signed_sum(data, &idx);
    let z_norm = z.norm();
    let sqrt_d = (data.d() as f64).sqrt();
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
