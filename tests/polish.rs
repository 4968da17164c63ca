//! Known answers of `relucert::polish`: the exact orthogonal KKT network is a fixed
//! point, perturbed and random separating networks polish to KKT points that the
//! independent verifier accepts at ε_rel ≤ 1e-8, the normalised margin never decreases,
//! and the result is invariant to scaling the input and permuting its neurons.

use std::path::Path;

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use relucert::construct::{self, RobustSettings};
use relucert::data::{Generator, Rng};
use relucert::kkt::{self, KktSettings, Support};
use relucert::polish::{polish, PolishSettings, PolishStatus, Polished};
use relucert::{io, Dataset, Net};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// Independent check: certify the polished net afresh (support = every sample, so the
/// multipliers off the margin must vanish through δ) and verify that certificate.
fn assert_kkt(net: &Net, data: &Dataset) {
    let s = KktSettings { support: Support::All, tau_ladder: vec![], ..KktSettings::default() };
    let rep = kkt::certify(net, data, &s).expect("certify");
    let v = kkt::verify(net, data, &rep).expect("verify");
    assert!(v.holds, "{}", v.summary());
    assert!(v.eps_rel_measured <= 1e-8, "eps_rel {}", v.eps_rel_measured);
    // Complementary slackness, relative to Σλ = ‖θ̂‖²/2.
    assert!(rep.delta <= 1e-8 * rep.lambda_sum.max(1.0), "delta {} (sum λ {})", rep.delta, rep.lambda_sum);
    // At an exact KKT point Σλ q̂ = ‖θ̂‖²/2 (Euler); q̂ = 1 on the support.
    assert!((rep.lambda_sum - rep.theta_norm_sq_half).abs() <= 1e-7 * rep.theta_norm_sq_half);
}

fn gamma(net: &Net, data: &Dataset) -> f64 {
    net.margins(data).unwrap().min() / net.param_norm_sq()
}

fn kkt_net(out: &Polished) -> &Net {
    assert_eq!(out.report.status, PolishStatus::Kkt, "{}", out.report.summary());
    out.net.as_ref().expect("a KKT status comes with a network")
}

fn orthogonal() -> (Net, Dataset) {
    let data = io::read_data(&fixture("orthogonal-d8.json")).unwrap();
    let net = construct::orthogonal_kkt(&data).unwrap();
    (net, data)
}

#[test]
fn orthogonal_fixture_is_a_fixed_point() {
    let (net, data) = orthogonal();
    let out = polish(&net, &data, &PolishSettings::default()).unwrap();
    let star = kkt_net(&out);
    assert_eq!(out.report.iterations, 0);
    let diff = (star.flatten() - net.flatten()).amax();
    assert!(diff <= 1e-12, "moved by {diff}");
    assert!(out.report.eps_rel.unwrap() <= 1e-12);
    assert_eq!(out.report.on_margin, (0..8).collect::<Vec<_>>());
    assert!(out.report.distance.unwrap() <= 1e-12);
}

fn perturbed(net: &Net, noise: f64, seed: u64) -> Net {
    let mut rng = Rng::seed_from_u64(seed);
    let (w, b, v) = net.clone().into_parts();
    let w = w.map(|t| t + noise * rng.normal());
    let b = b.map(|b| b.map(|t| t + noise * rng.normal()));
    let v = v.map(|t| t + noise * rng.normal());
    Net::new(w, b, v).unwrap()
}

#[test]
fn perturbed_orthogonal_fixture_polishes_back() {
    let (net, data) = orthogonal();
    for seed in 0..3 {
        let start = perturbed(&net, 1e-3, seed);
        let out = polish(&start, &data, &PolishSettings::default()).unwrap();
        let star = kkt_net(&out);
        assert_kkt(star, &data);
        assert!(gamma(star, &data) >= gamma(&start, &data) * (1.0 - 1e-12));
        assert!(out.report.distance.unwrap() < 0.05, "{}", out.report.summary());
    }
}

/// A separating network for random sphere data: the Theorem 3.1 construction, perturbed,
/// with extra small random neurons.
fn random_problem(seed: u64, d: usize, m: usize, extra: usize) -> Option<(Net, Dataset)> {
    let data = Generator::Sphere.generate(d, m, seed).ok()?;
    let (robust, _) = construct::robust(&data, &RobustSettings::default()).ok()?;
    let mut rng = Rng::seed_from_u64(seed + 1000);
    let (w, b, v) = robust.into_parts();
    let scale = w.amax();
    let k = m + extra;
    let w2 = DMatrix::from_fn(k, d, |j, c| if j < m { w[(j, c)] * (1.0 + 0.1 * rng.normal()) } else { 0.1 * scale * rng.normal() });
    let b = b.unwrap();
    let b2 = DVector::from_fn(k, |j, _| if j < m { b[j] } else { 0.05 * rng.normal() });
    let v2 = DVector::from_fn(k, |j, _| if j < m { v[j] * (1.0 + 0.1 * rng.normal()) } else { 0.1 * rng.normal() });
    let net = Net::new(w2, Some(b2), v2).ok()?;
    (net.margins(&data).ok()?.min() > 0.0).then_some((net, data))
}

/// Every network that polish returns passes the independent verifier at ε_rel ≤ 1e-8
/// with a normalised margin at least the starting one; a failure returns no network.
/// (Not every random start is polished: see BENCHMARKS.md; most are.)
#[test]
fn random_separable_problems_polish_to_verified_kkt_points() {
    let (mut tried, mut polished) = (0, 0);
    for seed in 0..10 {
        let Some((net, data)) = random_problem(seed, 12, 8, 6) else { continue };
        tried += 1;
        let out = polish(&net, &data, &PolishSettings::default()).unwrap();
        let r = &out.report.normalized_margin;
        assert!((r.before.unwrap() - gamma(&net, &data)).abs() <= 1e-12 * gamma(&net, &data));
        if out.report.status != PolishStatus::Kkt {
            assert!(out.net.is_none() && out.report.eps_rel.is_none() && !out.report.verified);
            continue;
        }
        polished += 1;
        let star = kkt_net(&out);
        assert_kkt(star, &data);
        assert!(gamma(star, &data) >= gamma(&net, &data) * (1.0 - 1e-12), "{}", out.report.summary());
        assert!((r.after.unwrap() - gamma(star, &data)).abs() <= 1e-12 * gamma(star, &data));
    }
    assert!(tried >= 5, "only {tried} separable problems");
    assert!(2 * polished > tried, "only {polished} of {tried} polished");
}

#[test]
fn trained_fixture_polishes() {
    let net = io::read_net(&fixture("trained-d50-m10-k50.json")).unwrap();
    let data = io::read_data(&fixture("sphere-d50-m10.json")).unwrap();
    let out = polish(&net, &data, &PolishSettings::default()).unwrap();
    eprintln!("{}", out.report.summary());
    let star = kkt_net(&out);
    assert_kkt(star, &data);
    assert!(gamma(star, &data) >= gamma(&net, &data) * (1.0 - 1e-12));
}

#[test]
fn not_separating_is_a_status_without_network() {
    let (net, data) = orthogonal();
    let flipped = net.scaled(-1.0);
    let (w, b, v) = flipped.into_parts();
    let bad = Net::new(w, b, -v).unwrap(); // N(x) → −N(x)
    let out = polish(&bad, &data, &PolishSettings::default()).unwrap();
    assert_eq!(out.report.status, PolishStatus::NotSeparating);
    assert!(out.net.is_none());
    assert!(out.report.eps_rel.is_none());
}

#[test]
fn a_tiny_budget_fails_honestly() {
    let (net, data) = orthogonal();
    let start = perturbed(&net, 1e-3, 7);
    let s = PolishSettings { max_iterations: 0, ..PolishSettings::default() };
    let out = polish(&start, &data, &s).unwrap();
    assert_eq!(out.report.status, PolishStatus::MaxIterations);
    assert!(out.net.is_none() && out.report.certificate.is_none() && !out.report.verified);
}

/// Polishes `net`, its scaling by `alpha` and its neurons rotated by `rot`, and checks
/// that the three results agree up to the scaling and the permutation (1e-9, relative).
/// Returns `false` (asserting nothing) when the base problem is not separable or its
/// polish fails; the callers count how often that happens.
fn scaling_and_permutation_agree(seed: u64, alpha: f64, rot: usize) -> Result<bool, TestCaseError> {
    let Some((net, data)) = random_problem(seed, 10, 6, 6) else { return Ok(false) };
    let base = polish(&net, &data, &PolishSettings::default()).unwrap();
    if base.report.status != PolishStatus::Kkt {
        return Ok(false);
    }
    let star = base.net.unwrap().flatten();
    let scaled = polish(&net.scaled(alpha), &data, &PolishSettings::default()).unwrap();
    prop_assert_eq!(scaled.report.status, PolishStatus::Kkt, "seed {}: scaling by {} broke polish", seed, alpha);
    let diff = (scaled.net.unwrap().flatten() - &star).amax() / star.amax();
    prop_assert!(diff <= 1e-9, "seed {}: scaling by {} moved the result by {}", seed, alpha, diff);
    let k = net.width();
    let perm: Vec<usize> = (0..k).map(|j| (j + rot) % k).collect();
    let permuted = polish(&net.permuted(&perm), &data, &PolishSettings::default()).unwrap();
    prop_assert_eq!(permuted.report.status, PolishStatus::Kkt, "seed {}: permuting broke polish", seed);
    let got = permuted.net.unwrap();
    let mut inv = vec![0; k];
    for (j, &p) in perm.iter().enumerate() {
        inv[p] = j;
    }
    let diff = (got.permuted(&inv).flatten() - &star).amax() / star.amax();
    prop_assert!(diff <= 1e-9, "seed {}: permuting moved the result by {}", seed, diff);
    Ok(true)
}

/// The invariance on fixed seeds: most problems polish, and every one that does is
/// invariant (so the property is not checked vacuously on failures).
#[test]
fn invariant_to_scaling_and_permutation_on_fixed_seeds() {
    let mut rng = Rng::seed_from_u64(99);
    let mut checked = 0;
    let seeds = 8;
    for seed in 0..seeds {
        let alpha = 0.05 * 400f64.powf(rng.uniform());
        let rot = 1 + (seed as usize * 5) % 11;
        if scaling_and_permutation_agree(seed, alpha, rot).unwrap() {
            checked += 1;
        }
    }
    assert!(2 * checked > seeds, "only {checked} of {seeds} problems polished");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Random scalings and rotations; a case whose problem does not polish is rejected
    /// (not passed), so six invariance checks are made.
    #[test]
    fn invariant_to_scaling_and_permutation(seed in 0u64..50, alpha in 0.05f64..20.0, rot in 1usize..13) {
        prop_assume!(scaling_and_permutation_agree(seed, alpha, rot)?);
    }
}

fn relucert(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_relucert")).current_dir(dir).args(args).output().expect("binary runs")
}

/// `relucert polish` writes a network that `relucert kkt` certifies and `verify-kkt`
/// accepts; a failed polish exits 1 after its report and writes nothing.
#[test]
fn cli_polish_then_kkt_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let net = fixture("trained-d50-m10-k50.json");
    let data = fixture("sphere-d50-m10.json");
    let (net, data) = (net.to_str().unwrap(), data.to_str().unwrap());
    let out = relucert(d, &["polish", "--net", net, "--data", data, "-o", "kkt-net.json", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rep["status"], "kkt");
    assert!(rep["eps_rel"].as_f64().unwrap() <= 1e-8);
    for field in ["iterations", "normalized_margin", "distance", "angle_degrees", "on_margin", "kinks"] {
        assert!(rep.get(field).is_some(), "missing {field}");
    }
    let cert = relucert(d, &["kkt", "--net", "kkt-net.json", "--data", data, "--tau-ladder", "", "-o", "cert.json", "--json"]);
    assert!(cert.status.success());
    let c: serde_json::Value = serde_json::from_slice(&cert.stdout).unwrap();
    assert!(c["eps_rel"].as_f64().unwrap() <= 1e-8, "{c}");
    let v = relucert(d, &["verify-kkt", "--net", "kkt-net.json", "--data", data, "--cert", "cert.json"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));

    let fail = relucert(d, &["polish", "--net", net, "--data", data, "-o", "none.json", "--max-iterations", "0", "--json"]);
    assert_eq!(fail.status.code(), Some(1));
    let rep: serde_json::Value = serde_json::from_slice(&fail.stdout).unwrap();
    assert_eq!(rep["status"], "max_iterations");
    assert!(String::from_utf8_lossy(&fail.stderr).contains("nothing written"));
    assert!(!d.join("none.json").exists());
}
