//! The paper's claims as regression tests: the same checks `relucert check` runs.

use nalgebra::{DMatrix, DVector};
use relucert::claims;
use relucert::construct::{self, RobustSettings};
use relucert::data::{Dataset, Rng};
use relucert::kkt;
use relucert::net::{Activation, Net};

#[test]
fn every_claim_holds_on_the_fixtures() {
    let report = claims::check_all().unwrap();
    for c in &report.claims {
        assert!(c.passed, "{} failed: {} — {}", c.source, c.statement, c.measured);
    }
    assert!(report.all_passed);
    assert!(report.claims.len() >= 6);
}

/// The Section 5.1 example by hand: z = (4/d) Σ_{j>d/2} x_j adds 4/√d to each negative
/// coordinate; negative neuron j then has pre-activation (x_j/d)·(4/d)x_j = 4/d and
/// contributes −4/d, so the d/2 of them give N′(x_i + z) = 1 − 2 = −1.
#[test]
fn section51_closed_form() {
    let data = claims::ORTHOGONAL_D8.data().unwrap();
    let net = claims::section51_network(&data).unwrap();
    let d: f64 = 8.0;
    // Pre-activation of a negative neuron j at x_i + z: (x_j/d)·(4/d)x_j = 4/d·‖x_j‖²/d = 4/d.
    // Sum over d/2 negative neurons: (d/2)·(4/d) = 2, so N′ = 1 − 2 = −1.
    let mut x = data.row(0);
    for xj in &mut x[4..8] {
        *xj += 4.0 / d * d.sqrt();
    }
    assert!((net.forward_one(&x) + 1.0).abs() < 1e-12);
}

#[cfg(feature = "cli")]
#[test]
fn check_command_prints_a_table_and_exits_zero() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_relucert")).arg("check").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("PASS") && !text.contains("FAIL  "));
}

/// Every check says whether it tests a paper statement or a toolkit fixture, and the
/// paper's statements cite where they are (no "Theorem 2.1" for a fixture, no
/// "Corollary 4.1" on a network outside its hypotheses).
#[test]
fn claims_name_what_they_check() {
    let report = claims::check_all().unwrap();
    for c in &report.claims {
        match c.kind {
            claims::ClaimKind::Paper => assert!(
                ["Lemma 3.1", "Theorem 3.1", "Theorem 3.1 proof", "Section 5.1", "Theorem 4.1", "Section 6.1"].contains(&c.source),
                "{}",
                c.source
            ),
            claims::ClaimKind::Toolkit => assert_eq!(c.source, "fixture"),
        }
        assert!(!c.source.contains("2.1") && !c.source.contains("Corollary"), "{}", c.source);
    }
    let not_kkt = report.claims.iter().find(|c| c.statement.contains("not a KKT point")).unwrap();
    assert_eq!(not_kkt.kind, claims::ClaimKind::Toolkit);
}

/// The bias-block bound on the Theorem 3.1 network is the closed form
/// ‖b‖/‖θ‖ = (1+c) / sqrt(4/d + (1+c)² + (1−c)²) (per neuron ‖w_j‖² = 4/(d(1−c)²),
/// b_j² = ((1+c)/(1−c))², v_j² = 1), every neuron counts, and it never exceeds the
/// solver's ε_rel, which bounds the minimum from above.
#[test]
fn bias_bound_on_the_robust_network() {
    for fixture in [claims::SPHERE_D50_M10, claims::SPHERE_D100_M30] {
        let data = fixture.data().unwrap();
        let (net, c) = construct::robust(&data, &RobustSettings::default()).unwrap();
        let d = data.d() as f64;
        let want = (1.0 + c) / (4.0 / d + (1.0 + c).powi(2) + (1.0 - c).powi(2)).sqrt();
        for tau in [0.0, 1e-9, 1e-2] {
            let b = claims::bias_residual_lower_bound(&net, &data, tau).unwrap();
            assert_eq!(b.neurons, data.m());
            assert!((b.eps_rel_lower - want).abs() <= 1e-12 * want && b.eps_rel_lower <= want, "{} vs {want}", b.eps_rel_lower);
            let cert = kkt::certify(&net, &data, &kkt::KktSettings { tau: tau.max(1e-12), tau_ladder: vec![], ..Default::default() }).unwrap();
            assert!(b.eps_rel_lower <= cert.eps_rel, "lower {} > solver {}", b.eps_rel_lower, cert.eps_rel);
        }
        // A τ so large that every pair is ambiguous: the other samples may activate each
        // neuron with either label, so no bias can be counted.
        let b = claims::bias_residual_lower_bound(&net, &data, 10.0).unwrap();
        assert_eq!((b.neurons, b.eps_rel_lower), (0, 0.0));
    }
}

/// One neuron, one sample, by hand: θ = (w, b, v) = (1, −1/2, ±1) on x = 1, y = +1.
/// With v = +1 the active sample pushes the bias entry the other way from b, so
/// ε_rel ≥ |b|/‖θ‖ = 1/3 (the true minimum, min_λ ‖θ − λh‖/‖θ‖ with h = (1, 1, 1/2), is
/// sqrt(2.25 − 1/2.25)/1.5 ≈ 0.896). With v = −1 it pushes the same way: no bound.
#[test]
fn bias_bound_by_hand() {
    let data = Dataset::from_rows(1, &[1.0], &[1.0]).unwrap();
    let net = Net::from_rows(1, &[1.0], Some(&[-0.5]), &[1.0]).unwrap();
    let b = claims::bias_residual_lower_bound(&net, &data, 1e-9).unwrap();
    assert_eq!(b.neurons, 1);
    assert!((b.eps_rel_lower - 1.0 / 3.0).abs() < 1e-15);
    let true_min = (2.25f64 - 1.0 / 2.25).sqrt() / 1.5;
    assert!(b.eps_rel_lower <= true_min);
    let flipped = Net::from_rows(1, &[1.0], Some(&[-0.5]), &[-1.0]).unwrap();
    assert_eq!(claims::bias_residual_lower_bound(&flipped, &data, 1e-9).unwrap().neurons, 0);
}

/// Soundness against the definition: on random small networks, no certificate, neither
/// random multipliers nor ones optimised by projected gradient for each random admissible
/// subgradient choice, gets a relative residual below the bound.
#[test]
fn bias_bound_is_below_every_certificate() {
    let mut rng = Rng::seed_from_u64(7);
    let mut nontrivial = 0;
    for case in 0..300 {
        let (k, d, m) = (1 + case % 5, 1 + case % 3, 1 + case % 4);
        let w = DMatrix::from_fn(k, d, |_, _| rng.normal());
        let b = DVector::from_fn(k, |_, _| rng.normal());
        let v = DVector::from_fn(k, |_, _| rng.normal());
        let net = Net::new(w, Some(b), v).unwrap();
        let x = DMatrix::from_fn(m, d, |_, _| rng.normal());
        let y = DVector::from_fn(m, |_, _| if rng.uniform() < 0.5 { 1.0 } else { -1.0 });
        let data = Dataset::new(x, y).unwrap();
        let tau = [0.0, 1e-3, 0.3][case % 3];
        let bound = claims::bias_residual_lower_bound(&net, &data, tau).unwrap().eps_rel_lower;
        if bound > 0.0 {
            nontrivial += 1;
        }
        let theta = net.flatten();
        let pattern = net.activation_pattern(&data, tau).unwrap();
        for _ in 0..4 {
            // One admissible choice of ReLU derivatives per sample.
            let h: Vec<DVector<f64>> = (0..m)
                .map(|i| {
                    let s: Vec<f64> = (0..k)
                        .map(|j| match pattern[i * k + j] {
                            Activation::On => 1.0,
                            Activation::Off => 0.0,
                            Activation::Ambiguous => rng.uniform(),
                        })
                        .collect();
                    net.sample_gradient(&data.row(i), data.y()[i], &s)
                })
                .collect();
            let rel = |lam: &[f64]| {
                let mut r = theta.clone();
                for (l, hi) in lam.iter().zip(&h) {
                    r -= hi * *l;
                }
                r.norm() / theta.norm()
            };
            let random: Vec<f64> = (0..m).map(|_| rng.uniform() * 3.0).collect();
            assert!(rel(&random) >= bound, "case {case}: random λ beats the bound");
            // Projected gradient on ½‖θ − Σ λ_i h_i‖² over λ ≥ 0.
            let lip: f64 = h.iter().map(|hi| hi.norm_squared()).sum::<f64>().max(1e-300);
            let mut lam = vec![0.0; m];
            for _ in 0..3000 {
                let mut r = theta.clone();
                for (l, hi) in lam.iter().zip(&h) {
                    r -= hi * *l;
                }
                for (l, hi) in lam.iter_mut().zip(&h) {
                    *l = (*l + hi.dot(&r) / lip).max(0.0);
                }
            }
            assert!(rel(&lam) >= bound * (1.0 - 1e-12), "case {case}: optimised λ gives {} < bound {bound}", rel(&lam));
        }
    }
    assert!(nontrivial >= 50, "only {nontrivial} cases had a non-zero bound");
}
