//! The paper's claims as regression tests: the same checks `relucert check` runs.

use relucert::claims;

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
