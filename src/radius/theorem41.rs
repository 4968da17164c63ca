//! The Theorem 4.1 / Corollary 4.1 check (docs/theorems.md).
//!
//! On the normalised network θ̂ = θ/√q_min (smallest margin 1), with the on-margin set
//! `I = {i : q̂_i ≤ 1 + slack}`, `I± = {i ∈ I : y_i = ±1}` and `z = Σ_{i∈I} y_i x_i`:
//!
//! * `η = min { η > 0 : N̂(x_i − η z) ≤ −1 ∀ i ∈ I⁺ and N̂(x_i + η z) ≥ 1 ∀ i ∈ I⁻ }`,
//!   i.e. `y_i N̂(x_i − y_i η z) ≤ −1` for all `i ∈ I` — computed exactly from the
//!   breakpoints of each ray and an intersection of the sub-level sets (these sets are
//!   closed, so the minimum is attained);
//! * the theorem's scale `sqrt(d / (c² m))` with `m = |I|`, `c = min(|I⁺|, |I⁻|)/m`, and
//!   the ratio `‖η z‖ / scale` — the constant hidden in the O(·);
//! * the hypotheses on the data: `‖x_i‖ = √d` on I (to `norm_tol`, relative), both
//!   labels present (c > 0), and `m ≤ (d + 1) / (3 (p + 1))` with
//!   `p = max_{i≠j∈I} |⟨x_i, x_j⟩|`. That θ is a KKT point is the other hypothesis; it is
//!   certified separately (the `kkt` module), not here.
//!
//! The conclusion holds when a finite η exists; its size is `ratio`.

use serde::Serialize;

use super::fig1::{common_inf, on_margin, signed_ray_sets, signed_sum};
use super::{finite_or_null, RadiusError};
use crate::data::Dataset;
use crate::net::Net;

/// Settings of [`theorem41`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theorem41Settings {
    /// On-margin slack: I = {i : q̂_i ≤ 1 + slack}. Default 0.1 (the paper's 10 %).
    pub slack: f64,
    /// Relative tolerance on `‖x_i‖ = √d`. Default 1e-6.
    pub norm_tol: f64,
}

impl Default for Theorem41Settings {
    fn default() -> Self {
        Theorem41Settings { slack: 0.1, norm_tol: 1e-6 }
    }
}

/// The `theorem41` report (docs/reports.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Theorem41Report {
    /// The smallest η (null when none exists).
    #[serde(serialize_with = "finite_or_null")]
    pub eta: f64,
    /// `‖η z‖` (null when η is infinite).
    #[serde(serialize_with = "finite_or_null")]
    pub z_norm: f64,
    /// The theorem's scale `sqrt(d / (c² m))` (null when c = 0).
    #[serde(serialize_with = "finite_or_null")]
    pub scale: f64,
    /// `z_norm / scale`; undefined (NaN, null in JSON) when c = 0.
    #[serde(serialize_with = "finite_or_null")]
    pub ratio: f64,
    /// `c = min(|I⁺|, |I⁻|) / m`.
    pub c: f64,
    /// `m = |I|`.
    pub m_on_margin: usize,
    /// `p = max_{i≠j∈I} |⟨x_i, x_j⟩|` (0 when |I| = 1).
    pub p: f64,
    /// All data hypotheses hold (sphere norms, both labels, size bound).
    pub hypotheses_hold: bool,
    /// A finite η exists.
    pub conclusion_holds: bool,
    /// The on-margin set I (0-based).
    pub on_margin: Vec<usize>,
    /// |I⁺| and |I⁻|.
    pub n_pos: usize,
    /// |I⁻|.
    pub n_neg: usize,
    /// Input dimension d.
    pub d: usize,
    /// q_min of the network as given (θ̂ = θ/√q_min).
    pub q_min: f64,
    /// Slack used for I.
    pub slack: f64,
    /// `‖z‖` for the unscaled `z = Σ_{i∈I} y_i x_i`.
    pub z_unscaled_norm: f64,
    /// The bound `(d + 1) / (3 (p + 1))` that m must not exceed.
    pub size_bound: f64,
    /// `m ≤ size_bound`.
    pub size_condition: bool,
    /// Every `‖x_i‖` (i ∈ I) is √d to `norm_tol`.
    pub norms_on_sphere: bool,
    /// `max_{i∈I} |‖x_i‖ − √d| / √d`.
    pub max_norm_deviation: f64,
}

impl Theorem41Report {
    /// A short human table.
    pub fn summary(&self) -> String {
        let f = |v: f64| if v.is_finite() { format!("{v:.6}") } else if v.is_nan() { "undefined".into() } else { "inf".into() };
        format!(
            "Theorem 4.1 on θ̂ (on-margin set I: q̂ ≤ {:.3}, |I| = {}, |I+| = {}, |I-| = {})\n\
             eta         {}\n\
             ||eta z||   {}\n\
             scale       {}   (sqrt(d/(c^2 m)), d = {}, c = {:.4})\n\
             ratio       {}\n\
             p           {:.6}   (m ≤ (d+1)/(3(p+1)) = {:.4}: {})\n\
             on sphere   {}   (max relative norm deviation {:.2e})\n\
             hypotheses  {}   (data only; KKT is certified by `kkt`)\n\
             conclusion  {}\n",
            1.0 + self.slack,
            self.m_on_margin,
            self.n_pos,
            self.n_neg,
            f(self.eta),
            f(self.z_norm),
            f(self.scale),
            self.d,
            self.c,
            f(self.ratio),
            self.p,
            self.size_bound,
            self.size_condition,
            self.norms_on_sphere,
            self.max_norm_deviation,
            if self.hypotheses_hold { "hold" } else { "fail" },
            if self.conclusion_holds { "holds" } else { "fails" },
        )
    }
}

/// Runs the Theorem 4.1 check on a separating network (normalised internally).
pub fn theorem41(net: &Net, data: &Dataset, settings: &Theorem41Settings) -> Result<Theorem41Report, RadiusError> {
    let (idx, q_min, _) = on_margin(net, data, settings.slack)?;
    let (hat, _) = net.normalized(data)?;
    let d = data.d();
    let df = d as f64;
    let sqrt_d = df.sqrt();
    let m = idx.len();
    let n_pos = idx.iter().filter(|&&i| data.y()[i] > 0.0).count();
    let n_neg = m - n_pos;
    let c = n_pos.min(n_neg) as f64 / m as f64;
    let sub = data.select(&idx);
    let pw = crate::data::pairwise_inner(sub.x());
    let p = pw.p;
    let dev = pw.sq_norms.iter().fold(0.0f64, |dev, s| dev.max((s.sqrt() - sqrt_d).abs() / sqrt_d));
    let size_bound = (df + 1.0) / (3.0 * (p + 1.0));
    let size_condition = (m as f64) <= size_bound;
    let norms_on_sphere = dev <= settings.norm_tol;
    let hypotheses_hold = size_condition && norms_on_sphere && c > 0.0;
    let z = signed_sum(data, &idx);
    let z_unscaled_norm = z.norm();
    let eta = if z_unscaled_norm == 0.0 {
        f64::INFINITY
    } else {
        let sets = signed_ray_sets(&hat, data, &idx, &z, -1.0, false);
        common_inf(&sets, false)
    };
    let z_norm = eta * z_unscaled_norm;
    let scale = if c > 0.0 { (df / (c * c * m as f64)).sqrt() } else { f64::INFINITY };
    // With c = 0 (one label only) the scale is infinite and the ratio undefined.
    let ratio = if c > 0.0 { z_norm / scale } else { f64::NAN };
    Ok(Theorem41Report {
        eta,
        z_norm,
        scale,
        ratio,
        c,
        m_on_margin: m,
        p,
        hypotheses_hold,
        conclusion_holds: eta.is_finite(),
        on_margin: idx,
        n_pos,
        n_neg,
        d,
        q_min,
        slack: settings.slack,
        z_unscaled_norm,
        size_bound,
        size_condition,
        norms_on_sphere,
        max_norm_deviation: dev,
    })
}
