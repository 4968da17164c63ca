//! The paper's claims as checks on shipped fixtures (`relucert check`).
//!
//! Each check computes the claim's quantities on a concrete dataset and network, compares
//! them with what is claimed, and returns a [`Claim`] with the measured numbers. A claim
//! is either a statement of the paper ([`ClaimKind::Paper`], `source` names where it is
//! stated) or a property of the toolkit's own fixtures ([`ClaimKind::Toolkit`]). A check
//! passes only on bounds that point the right way: a "not KKT" verdict rests on a lower
//! bound on every certificate's residual ([`bias_residual_lower_bound`]), never on one
//! solver's residual, which bounds the minimum from above.
//! The fixtures (`fixtures/*.json`) are compiled into the library, so `check` needs no
//! files at run time. The same checks run in `cargo test` (tests/claims.rs).

use serde::Serialize;

use crate::construct::{self, RobustSettings};
use crate::data::Dataset;
use crate::io::{self, FileFormat, IoError};
use crate::net::Net;
use crate::{kkt, radius};

mod bound;

pub use bound::{bias_residual_lower_bound, BiasBound};

/// Whose claim a check tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimKind {
    /// A statement of the paper, on a concrete instance.
    Paper,
    /// A property of the toolkit's own fixtures, which other checks rely on.
    Toolkit,
}

/// One checked claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// A paper statement or a toolkit fixture property.
    pub kind: ClaimKind,
    /// Where the claim is stated: the paper's theorem, lemma or section (e.g.
    /// "Theorem 3.1"), or "fixture" for the toolkit's own.
    pub source: &'static str,
    /// What was checked, on which fixture.
    pub statement: String,
    /// The measured numbers, for humans.
    pub measured: String,
    /// Whether the claim held.
    pub passed: bool,
}

/// All checks together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// `relucert/check@1`.
    pub format: &'static str,
    /// Every claim checked.
    pub claims: Vec<Claim>,
    /// True when every claim passed.
    pub all_passed: bool,
}

impl CheckReport {
    /// A pass/fail table.
    pub fn summary(&self) -> String {
        let mut s = String::from("result  kind     source             claim\n");
        for c in &self.claims {
            s.push_str(&format!(
                "{:<6}  {:<8} {:<18} {}\n        {:<8} {:<18} {}\n",
                if c.passed { "PASS" } else { "FAIL" },
                match c.kind {
                    ClaimKind::Paper => "paper",
                    ClaimKind::Toolkit => "toolkit",
                },
                c.source,
                c.statement,
                "",
                "",
                c.measured
            ));
        }
        let failed = self.claims.iter().filter(|c| !c.passed).count();
        s.push_str(&format!("{} claims, {} passed, {} failed\n", self.claims.len(), self.claims.len() - failed, failed));
        s
    }
}

/// A fixture compiled into the library.
#[derive(Debug, Clone, Copy)]
pub struct Fixture {
    /// File name under `fixtures/`.
    pub name: &'static str,
    bytes: &'static [u8],
}

/// Sphere data, d = 50, m = 10 (seed 1).
pub const SPHERE_D50_M10: Fixture =
    Fixture { name: "sphere-d50-m10.json", bytes: include_bytes!("../../fixtures/sphere-d50-m10.json") };
/// Sphere data, d = 100, m = 30 (seed 2).
pub const SPHERE_D100_M30: Fixture =
    Fixture { name: "sphere-d100-m30.json", bytes: include_bytes!("../../fixtures/sphere-d100-m30.json") };
/// Orthogonal data x_i = √d e_i, d = 8, m = 8 (the Section 5.1 example).
pub const ORTHOGONAL_D8: Fixture =
    Fixture { name: "orthogonal-d8.json", bytes: include_bytes!("../../fixtures/orthogonal-d8.json") };
/// Orthogonal data, d = 64, m = 16: small enough for Theorem 4.1's hypothesis m ≤ (d+1)/(3(p+1)).
pub const ORTHOGONAL_D64_M16: Fixture =
    Fixture { name: "orthogonal-d64-m16.json", bytes: include_bytes!("../../fixtures/orthogonal-d64-m16.json") };

/// A network trained with the paper's protocol (loss < 1e-30, width 50, seed 1) on
/// [`SPHERE_D50_M10`].
pub const TRAINED_D50_M10_K50: Fixture =
    Fixture { name: "trained-d50-m10-k50.json", bytes: include_bytes!("../../fixtures/trained-d50-m10-k50.json") };

impl Fixture {
    /// Parses the fixture as a network.
    pub fn net(&self) -> Result<Net, IoError> {
        io::parse_net(self.name, FileFormat::Json, self.bytes)
    }

    /// Parses the fixture as a dataset.
    pub fn data(&self) -> Result<Dataset, IoError> {
        io::parse_data(self.name, FileFormat::Json, self.bytes)
    }
}

/// Lemma 3.1 (a high-probability statement, checked on one draw): for m = poly(d)
/// samples uniform on √d·S^{d−1}, every |⟨x_i, x_j⟩| ≤ d/2, and even ≤ √d·ln d.
pub fn lemma31(fixture: &Fixture) -> Result<Claim, IoError> {
    let data = fixture.data()?;
    let st = data.inner_product_stats();
    let d = data.d() as f64;
    let weak = d / 2.0;
    let strong = d.sqrt() * d.ln();
    Ok(Claim {
        kind: ClaimKind::Paper,
        source: "Lemma 3.1",
        statement: format!("{}: max |<x_i,x_j>| ≤ d/2 and ≤ √d·ln d (holds w.h.p.; this draw)", fixture.name),
        measured: format!("p = {:.4}, d/2 = {:.4}, √d·ln d = {:.4}", st.p, weak, strong),
        passed: st.p <= weak && st.p <= strong,
    })
}

/// Theorem 3.1's proof (the construction): the robust network has y_i N(x_i) = 1 for all
/// i, with each sample activating its own neuron at 1 and every other neuron at ≤ −1.
pub fn theorem31_construction(fixture: &Fixture) -> Result<Claim, CheckError> {
    let data = fixture.data()?;
    let (net, c) = construct::robust(&data, &RobustSettings::default())?;
    let q = net.margins(&data)?;
    let worst = q.iter().map(|qi| (qi - 1.0).abs()).fold(0.0, f64::max);
    let u = net.preactivations(data.x());
    let mut off_max = f64::NEG_INFINITY;
    for i in 0..data.m() {
        for j in 0..data.m() {
            if i != j {
                off_max = off_max.max(u[(i, j)]);
            }
        }
    }
    Ok(Claim {
        kind: ClaimKind::Paper,
        source: "Theorem 3.1 proof",
        statement: format!("{}: robust network has y_i N(x_i) = 1, other neurons off", fixture.name),
        measured: format!("c = {c:.4}, max |y_i N(x_i) − 1| = {worst:.2e}, max off-neuron pre-activation = {off_max:.4}"),
        passed: worst <= 1e-12 && off_max <= -1.0 + 1e-12,
    })
}

/// The paper's Section 5.1 network N′ on orthogonal data (d even): `w′_j = x_j/d`,
/// `b′ = 0`, `v′_j = y_j`.
pub fn section51_network(data: &Dataset) -> Result<Net, crate::net::NetError> {
    let d = data.d() as f64;
    Net::new(data.x() / d, None, data.y().clone())
}

/// Section 5.1: on x_i = √d e_i, N′ has all margins 1, and z = (4/d) Σ_{j>d/2} x_j has
/// ‖z‖ = 2√2 and flips every positive sample: N′(x_i + z) = −1.
pub fn section51(fixture: &Fixture) -> Result<Claim, CheckError> {
    let data = fixture.data()?;
    let (m, d) = (data.m(), data.d());
    let net = section51_network(&data)?;
    let q = net.margins(&data)?;
    let margin_err = q.iter().map(|qi| (qi - 1.0).abs()).fold(0.0, f64::max);
    let mut z = vec![0.0; d];
    for j in m / 2..m {
        for (c, zc) in z.iter_mut().enumerate() {
            *zc += 4.0 / d as f64 * data.x()[(j, c)];
        }
    }
    let z_norm = z.iter().map(|t| t * t).sum::<f64>().sqrt();
    let mut worst = 0.0f64;
    for i in 0..m / 2 {
        let xi: Vec<f64> = data.row(i).iter().zip(&z).map(|(a, b)| a + b).collect();
        worst = worst.max((net.forward_one(&xi) + 1.0).abs());
    }
    let robust = construct::robust(&data, &RobustSettings::default())?.0;
    let robust_keeps_sign = (0..m / 2).all(|i| {
        let xi: Vec<f64> = data.row(i).iter().zip(&z).map(|(a, b)| a + b).collect();
        robust.forward_one(&xi) > 0.0
    });
    Ok(Claim {
        kind: ClaimKind::Paper,
        source: "Section 5.1",
        statement: format!("{}: N′ has margins 1, ‖z‖ = 2√2 and N′(x_i + z) = −1 for y_i = +1; the robust N is not flipped by z", fixture.name),
        measured: format!(
            "max |margin − 1| = {margin_err:.2e}, ‖z‖ = {z_norm:.12} (2√2 = {:.12}), max |N′(x_i+z) + 1| = {worst:.2e}, robust N keeps its sign: {robust_keeps_sign}",
            8f64.sqrt()
        ),
        passed: margin_err <= 1e-12 && (z_norm - 8f64.sqrt()).abs() <= 1e-12 && worst <= 1e-12 && robust_keeps_sign && m == d && d % 2 == 0,
    })
}

/// Theorem 3.1 (robustness): every exact L2 radius of the robust network is at least
/// (1 − c)/4·√d. Radii use the closed reading y·N ≤ 0 (docs/radius.md).
pub fn theorem31_radius(fixture: &Fixture) -> Result<Claim, CheckError> {
    let data = fixture.data()?;
    let (net, c) = construct::robust(&data, &RobustSettings::default())?;
    let bound = construct::theorem31_radius_bound(c, data.d());
    let settings = radius::RadiusSettings::default();
    let (mut min_lower, mut min_r, mut all_exact) = (f64::INFINITY, f64::INFINITY, true);
    for i in 0..data.m() {
        let r = radius::exact_radius(&net, &data.row(i), data.y()[i], &settings)?;
        min_lower = min_lower.min(r.lower);
        min_r = min_r.min(r.radius);
        all_exact &= r.is_exact();
    }
    Ok(Claim {
        kind: ClaimKind::Paper,
        source: "Theorem 3.1",
        statement: format!("{}: every exact L2 radius of the robust network ≥ (1−c)/4·√d", fixture.name),
        measured: format!("min radius = {min_r:.6} (certified lower {min_lower:.6}, all exact: {all_exact}), bound = {bound:.6}"),
        passed: min_lower >= bound,
    })
}

/// The toolkit's exact KKT fixture (docs/theorems.md): the orthogonal network is a KKT
/// point of the paper's Problem (2), certified with ε_rel < 1e-10 and λ_j = 1/√d, so
/// Σλ = m/√d = ‖θ̂‖²/2 (= √d when m = d). The Theorem 4.1 check relies on it.
pub fn kkt_fixture(fixture: &Fixture) -> Result<Claim, CheckError> {
    let data = fixture.data()?;
    let net = construct::orthogonal_kkt(&data)?;
    let cert = kkt::certify(&net, &data, &kkt::KktSettings::default())?;
    let d = data.d() as f64;
    let lam_err = cert.lambda.iter().map(|l| (l - 1.0 / d.sqrt()).abs()).fold(0.0, f64::max);
    let want_sum = data.m() as f64 / d.sqrt();
    Ok(Claim {
        kind: ClaimKind::Toolkit,
        source: "fixture",
        statement: format!("{}: the orthogonal network is a KKT point of Problem (2) (λ_j = 1/√d, Σλ = m/√d = ‖θ̂‖²/2)", fixture.name),
        measured: format!(
            "ε_rel = {:.2e}, max |λ_j − 1/√d| = {lam_err:.2e}, Σλ = {:.9} (m/√d = {want_sum:.9}), ‖θ̂‖²/2 = {:.9}",
            cert.eps_rel, cert.lambda_sum, cert.theta_norm_sq_half
        ),
        passed: cert.eps_rel < 1e-10
            && lam_err < 1e-9
            && (cert.lambda_sum - want_sum).abs() < 1e-9
            && (cert.theta_norm_sq_half - want_sum).abs() < 1e-9,
    })
}

/// The Theorem 3.1 network is far from every KKT point of Problem (2), proved with a
/// lower bound that holds for every certificate ([`bias_residual_lower_bound`]): each
/// neuron is strictly off on every other sample and `y_j v_j > 0` on its own, so no
/// λ ≥ 0 can match its negative bias, and min ε_rel ≥ ‖b‖/‖θ‖ > 0.1. The bound is
/// taken at the largest τ of the default τ-ladder, so it covers the certificate's τ too.
/// The solver's ε_rel, an upper bound on the minimum, is reported beside it.
pub fn robust_not_kkt(fixture: &Fixture) -> Result<Claim, CheckError> {
    let data = fixture.data()?;
    let (net, _) = construct::robust(&data, &RobustSettings::default())?;
    let settings = kkt::KktSettings::default();
    let tau = settings.tau_ladder.iter().copied().fold(settings.tau, f64::max);
    let bound = bias_residual_lower_bound(&net, &data, tau)?;
    let cert = kkt::certify(&net, &data, &settings)?;
    Ok(Claim {
        kind: ClaimKind::Toolkit,
        source: "fixture",
        statement: format!(
            "{}: the Theorem 3.1 network is not a KKT point of Problem (2): min ε_rel ≥ ‖b‖/‖θ‖ > 0.1 for every certificate with τ ≤ {tau:e}",
            fixture.name
        ),
        measured: format!(
            "lower bound on min ε_rel (L2) = {:.4} from {} of {} biases; the solver's ε_rel = {:.4} (an upper bound)",
            bound.eps_rel_lower,
            bound.neurons,
            net.width(),
            cert.eps_rel
        ),
        passed: bound.eps_rel_lower > 0.1 && bound.eps_rel_lower <= cert.eps_rel,
    })
}

/// Theorem 4.1 on the toolkit's exact KKT network for data that meet the theorem's
/// hypotheses: the hypotheses hold, and a finite η gives N(x_i − ηz) ≤ −1 on I⁺ and
/// N(x_i + ηz) ≥ 1 on I⁻ with ‖ηz‖ < √d (reported beside sqrt(d/(c²m))).
pub fn theorem41(data_fixture: &Fixture) -> Result<Claim, CheckError> {
    let data = data_fixture.data()?;
    let net = construct::orthogonal_kkt(&data)?;
    let r = radius::theorem41(&net, &data, &radius::Theorem41Settings::default())?;
    let sqrt_d = (data.d() as f64).sqrt();
    Ok(Claim {
        kind: ClaimKind::Paper,
        source: "Theorem 4.1",
        statement: format!(
            "exact KKT network on {}: hypotheses hold, and one z = η Σ y_i x_i with ‖ηz‖ < √d takes every sample to y·N ≤ −1",
            data_fixture.name
        ),
        measured: format!(
            "hypotheses hold: {}, ‖ηz‖ = {:.6}, scale sqrt(d/(c²m)) = {:.6}, ratio = {:.4}, √d = {:.4}, |I| = {}",
            r.hypotheses_hold, r.z_norm, r.scale, r.ratio, sqrt_d, r.m_on_margin
        ),
        passed: r.conclusion_holds && r.hypotheses_hold && r.z_norm < sqrt_d,
    })
}

/// Section 6.1 (the paper's experiments): for a network trained to a tiny loss, outside
/// Theorem 4.1's hypotheses, one perturbation along z = Σ_{i∈I} y_i x_i over the
/// on-margin set I flips every on-margin sample at a size c* well below √d (Figure 1).
/// The claim is confirmed by the forward pass: at c = c*·(1 + 1e-6) every on-margin
/// sample has y_i N(x_i − y_i c ẑ) < 0 beyond the pass's rounding error, and c < √d.
pub fn section61(net_fixture: &Fixture, data_fixture: &Fixture) -> Result<Claim, CheckError> {
    let data = data_fixture.data()?;
    let net = net_fixture.net()?;
    let f = radius::fig1(&net, &data, 0.1)?;
    let sqrt_d = (data.d() as f64).sqrt();
    let c = f.c_star * (1.0 + 1e-6);
    let mut z = vec![0.0; data.d()];
    for &i in &f.on_margin {
        for (zc, xc) in z.iter_mut().zip(data.row(i)) {
            *zc += data.y()[i] * xc;
        }
    }
    let zn = z.iter().map(|t| t * t).sum::<f64>().sqrt();
    let flipped = c.is_finite()
        && zn > 0.0
        && f.on_margin.iter().all(|&i| {
            let y = data.y()[i];
            let x: Vec<f64> = data.row(i).iter().zip(&z).map(|(a, b)| a - y * c * b / zn).collect();
            surely_negative(&net, &x, y)
        });
    Ok(Claim {
        kind: ClaimKind::Paper,
        source: "Section 6.1",
        statement: format!(
            "{} on {}: one perturbation along z = Σ_I y_i x_i flips every on-margin sample at c* < √d (outside Theorem 4.1's hypotheses)",
            net_fixture.name, data_fixture.name
        ),
        measured: format!(
            "c* = {:.6}, √d = {sqrt_d:.4}, |I| = {} of {}, every on-margin sample flipped at c*(1 + 1e-6) by the forward pass: {flipped}",
            f.c_star,
            f.on_margin.len(),
            data.m()
        ),
        passed: flipped && c < sqrt_d,
    })
}

/// `y·N(x) < 0` with the forward pass's worst-case rounding error taken into account.
fn surely_negative(net: &Net, x: &[f64], y: f64) -> bool {
    let (k, d) = (net.width(), net.dim());
    let mut abs_sum = 0.0;
    for j in 0..k {
        let w = net.w().row(j);
        let u: f64 = w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + net.bias(j);
        let u_abs: f64 = w.iter().zip(x).map(|(a, b)| (a * b).abs()).sum::<f64>() + net.bias(j).abs();
        abs_sum += net.v()[j].abs() * u_abs.max(u.abs());
    }
    let err = (d + k + 4) as f64 * f64::EPSILON * abs_sum;
    y * net.forward_one(x) < -err
}

/// Errors of the checks themselves (a claim that fails is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A fixture could not be read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A construction refused a fixture.
    #[error("{0}")]
    Construct(#[from] construct::ConstructError),
    /// A network error.
    #[error("{0}")]
    Net(#[from] crate::net::NetError),
    /// A KKT certificate could not be computed.
    #[error("{0}")]
    Kkt(#[from] kkt::KktError),
    /// A radius could not be computed.
    #[error("{0}")]
    Radius(#[from] radius::RadiusError),
}

/// Runs every check on the shipped fixtures.
pub fn check_all() -> Result<CheckReport, CheckError> {
    let claims = vec![
        lemma31(&SPHERE_D50_M10)?,
        lemma31(&SPHERE_D100_M30)?,
        theorem31_construction(&SPHERE_D50_M10)?,
        theorem31_construction(&SPHERE_D100_M30)?,
        theorem31_construction(&ORTHOGONAL_D8)?,
        section51(&ORTHOGONAL_D8)?,
        theorem31_radius(&SPHERE_D50_M10)?,
        theorem31_radius(&ORTHOGONAL_D8)?,
        kkt_fixture(&ORTHOGONAL_D8)?,
        kkt_fixture(&ORTHOGONAL_D64_M16)?,
        robust_not_kkt(&SPHERE_D50_M10)?,
        theorem41(&ORTHOGONAL_D64_M16)?,
        section61(&TRAINED_D50_M10_K50, &SPHERE_D50_M10)?,
    ];
    let all_passed = claims.iter().all(|c| c.passed);
    Ok(CheckReport { format: io::tags::CHECK, claims, all_passed })
}
