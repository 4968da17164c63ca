//! The paper's claims as checks on shipped fixtures (`relucert check`).
//!
//! Each check computes the claim's quantities on a concrete dataset and network, compares
//! them with what the paper states, and returns a [`Claim`] with the measured numbers.
//! The fixtures (`fixtures/*.json`) are compiled into the library, so `check` needs no
//! files at run time. The same checks run in `cargo test` (tests/claims.rs).

use serde::Serialize;

use crate::construct::{self, RobustSettings};
use crate::data::Dataset;
use crate::io::{self, FileFormat, IoError};
use crate::net::Net;

/// One checked claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// Where the claim is in the paper (e.g. "Theorem 3.1").
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
        let mut s = String::from("result  source          claim\n");
        for c in &self.claims {
            s.push_str(&format!(
                "{}  {:<15} {}\n        {:<15} {}\n",
                if c.passed { "PASS" } else { "FAIL" },
                c.source,
                c.statement,
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
    Fixture { name: "sphere-d50-m10.json", bytes: include_bytes!("../fixtures/sphere-d50-m10.json") };
/// Sphere data, d = 100, m = 30 (seed 2).
pub const SPHERE_D100_M30: Fixture =
    Fixture { name: "sphere-d100-m30.json", bytes: include_bytes!("../fixtures/sphere-d100-m30.json") };
/// Orthogonal data x_i = √d e_i, d = 8, m = 8 (the Section 5.1 example).
pub const ORTHOGONAL_D8: Fixture =
    Fixture { name: "orthogonal-d8.json", bytes: include_bytes!("../fixtures/orthogonal-d8.json") };
/// Orthogonal data, d = 64, m = 16: small enough for Theorem 4.1's hypothesis m ≤ (d+1)/(3(p+1)).
pub const ORTHOGONAL_D64_M16: Fixture =
    Fixture { name: "orthogonal-d64-m16.json", bytes: include_bytes!("../fixtures/orthogonal-d64-m16.json") };

impl Fixture {
    /// Parses the fixture as a dataset.
    pub fn data(&self) -> Result<Dataset, IoError> {
        io::parse_data(self.name, FileFormat::Json, self.bytes)
    }
}

/// Lemma 3.1: for m = poly(d) samples uniform on √d·S^{d−1}, w.h.p. every
/// |⟨x_i, x_j⟩| ≤ d/2, and even ≤ √d·ln d.
pub fn lemma31(fixture: &Fixture) -> Result<Claim, IoError> {
    let data = fixture.data()?;
    let st = data.inner_product_stats();
    let d = data.d() as f64;
    let weak = d / 2.0;
    let strong = d.sqrt() * d.ln();
    Ok(Claim {
        source: "Lemma 3.1",
        statement: format!("{}: max |<x_i,x_j>| ≤ d/2 and ≤ √d·ln d", fixture.name),
        measured: format!("p = {:.4}, d/2 = {:.4}, √d·ln d = {:.4}", st.p, weak, strong),
        passed: st.p <= weak && st.p <= strong,
    })
}

/// Theorem 3.1 (construction): the robust network has y_i N(x_i) = 1 for all i, with each
/// sample activating its own neuron at 1 and every other neuron at ≤ −1.
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
        source: "Theorem 3.1",
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
    let robust_flip = (0..m / 2).all(|i| {
        let xi: Vec<f64> = data.row(i).iter().zip(&z).map(|(a, b)| a + b).collect();
        robust.forward_one(&xi) > 0.0
    });
    Ok(Claim {
        source: "Section 5.1",
        statement: format!("{}: N′ has margins 1, ‖z‖ = 2√2 and N′(x_i + z) = −1 for y_i = +1; the robust N is not flipped by z", fixture.name),
        measured: format!(
            "max |margin − 1| = {margin_err:.2e}, ‖z‖ = {z_norm:.12} (2√2 = {:.12}), max |N′(x_i+z) + 1| = {worst:.2e}, robust N keeps its sign: {robust_flip}",
            8f64.sqrt()
        ),
        passed: margin_err <= 1e-12 && (z_norm - 8f64.sqrt()).abs() <= 1e-12 && worst <= 1e-12 && robust_flip && m == d && d % 2 == 0,
    })
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
    ];
    let all_passed = claims.iter().all(|c| c.passed);
    Ok(CheckReport { format: "relucert/check@1", claims, all_passed })
}
