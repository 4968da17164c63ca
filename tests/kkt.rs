//! KKT certificates: known answers, agreement between norms, verification, misuse.
//!
//! Reference values: the orthogonal fixture's multipliers λ_j = 1/√d come from docs/kkt.md
//! (a closed form); the robust network's non-KKT-ness from the sign of its biases
//! (b_j < 0 while every admissible Σ λ_i h_i has b-block ≥ 0 on its own neuron).

mod common;

use common::instances::random_instance;
use nalgebra::{DMatrix, DVector};
use relucert::construct::{orthogonal_kkt, robust, RobustSettings};
use relucert::data::{Dataset, Generator};
use relucert::kkt::{self, KktError, KktSettings, L2Solver, Norm, SolveStatus, Support};
use relucert::net::{Net, NetError};

fn settings(norm: Norm) -> KktSettings {
    KktSettings { norm, tau_ladder: vec![], ..KktSettings::default() }
}

#[test]
fn orthogonal_fixture_is_exact_kkt_in_every_norm() {
    for d in [4usize, 8, 64] {
        let data = Generator::Orthogonal.generate(d, d, 1).unwrap();
        let net = orthogonal_kkt(&data).unwrap();
        for norm in [Norm::L2, Norm::Linf, Norm::L1] {
            let rep = kkt::certify(&net, &data, &settings(norm)).unwrap();
            assert!(rep.eps_rel < 1e-10, "d={d} {norm:?}: eps_rel {}", rep.eps_rel);
            let want = 1.0 / (d as f64).sqrt();
            for (i, l) in rep.lambda.iter().enumerate() {
                assert!((l - want).abs() < 1e-9 * want, "d={d} {norm:?}: lambda_{i} = {l}, want {want}");
            }
            let sqrt_d = (d as f64).sqrt();
            assert!((rep.lambda_sum - sqrt_d).abs() < 1e-9 * sqrt_d);
            assert!((rep.theta_norm_sq_half - sqrt_d).abs() < 1e-9 * sqrt_d);
            assert_eq!(rep.support.len(), d);
            // Bias-free orthogonal data: u_ij = 0 exactly for i ≠ j.
            assert_eq!(rep.ambiguous_pairs, d * (d - 1));
            assert!(rep.delta.abs() < 1e-12);
            let v = kkt::verify(&net, &data, &rep).unwrap();
            assert!(v.holds, "{v:?}");
        }
    }
}

/// Theorem 3.1's network is not a KKT point. Measured on sphere data d = 100, m = 20,
/// seed 7: ε_rel = 0.9949 in L2 and 1.0000 in L∞ (no λ ≥ 0 reduces the largest entry,
/// a bias b_j < 0), i.e. the best multipliers barely help.
#[test]
fn robust_network_is_not_kkt() {
    let data = Generator::Sphere.generate(100, 20, 7).unwrap();
    let (net, _) = robust(&data, &RobustSettings::default()).unwrap();
    for norm in [Norm::L2, Norm::Linf] {
        let rep = kkt::certify(&net, &data, &settings(norm)).unwrap();
        eprintln!("robust net {norm:?}: eps_rel = {}", rep.eps_rel);
        assert!(rep.eps_rel > 0.05, "{norm:?}: eps_rel {}", rep.eps_rel);
        assert!(kkt::verify(&net, &data, &rep).unwrap().holds);
    }
    // The b-block alone: each b_j < 0 must be matched by −λ_j·(positive), so the L2
    // residual is at least ‖b̂‖ (a lower bound independent of the solver).
    let rep = kkt::certify(&net, &data, &settings(Norm::L2)).unwrap();
    let (hat, _) = net.normalized(&data).unwrap();
    let bnorm = hat.b().unwrap().norm();
    assert!(rep.eps >= bnorm * (1.0 - 1e-9), "eps {} < |b| {}", rep.eps, bnorm);
}

#[test]
fn lp_and_l2_agree_within_norm_equivalence() {
    for (seed, bias) in [(1u64, true), (2, false), (3, true)] {
        let (net, data) = random_instance(12, 6, 5, bias, seed);
        let all = |norm| KktSettings { support: Support::All, ..settings(norm) };
        let l2 = kkt::certify(&net, &data, &all(Norm::L2)).unwrap();
        let li = kkt::certify(&net, &data, &all(Norm::Linf)).unwrap();
        let l1 = kkt::certify(&net, &data, &all(Norm::L1)).unwrap();
        let p = net.param_count() as f64;
        // min_λ ‖r‖∞ ≤ min_λ ‖r‖2 ≤ ‖r(λ∞)‖2 ≤ √P·min ‖r‖∞ ; same for L1 the other way.
        assert!(li.eps <= l2.eps * (1.0 + 1e-7) + 1e-12, "{} > {}", li.eps, l2.eps);
        assert!(l2.eps <= p.sqrt() * li.eps * (1.0 + 1e-7) + 1e-12);
        assert!(l2.eps <= l1.eps * (1.0 + 1e-7) + 1e-12);
        assert!(l1.eps <= p.sqrt() * l2.eps * (1.0 + 1e-7) + 1e-12);
        // Each optimiser beats the others' points in its own norm.
        assert!(l2.eps <= li.residual_l2 * (1.0 + 1e-7) + 1e-12);
        assert!(l2.eps <= l1.residual_l2 * (1.0 + 1e-7) + 1e-12);
        assert!(li.eps <= l2.residual_linf * (1.0 + 1e-7) + 1e-12);
        assert!(l1.eps <= l2.residual_l1 * (1.0 + 1e-7) + 1e-12);
        for rep in [&l2, &li, &l1] {
            assert!(kkt::verify(&net, &data, rep).unwrap().holds);
        }
    }
}

#[test]
fn clarabel_and_active_set_agree() {
    for (seed, bias) in [(4u64, true), (5, false)] {
        let (net, data) = random_instance(30, 10, 8, bias, seed);
        let s = KktSettings { support: Support::All, ..settings(Norm::L2) };
        let a = kkt::certify(&net, &data, &s).unwrap();
        let c = kkt::certify(&net, &data, &KktSettings { l2_solver: L2Solver::Clarabel, ..s.clone() }).unwrap();
        assert_eq!(a.solver.status, SolveStatus::Optimal);
        assert!((a.eps - c.eps).abs() <= 1e-6 * a.eps.max(1e-12), "{} vs {}", a.eps, c.eps);
    }
}

#[test]
fn ambiguity_constraints_are_handled() {
    // Large τ makes many pairs ambiguous; the certificate must stay admissible and
    // verifiable, and not worse than with the τ of the default.
    let (net, data) = random_instance(20, 8, 6, true, 9);
    let base = KktSettings { support: Support::All, ..settings(Norm::L2) };
    let small = kkt::certify(&net, &data, &base).unwrap();
    let big = kkt::certify(&net, &data, &KktSettings { tau: 0.2, ..base }).unwrap();
    assert!(big.ambiguous_pairs > 0);
    assert!(big.eps <= small.eps * (1.0 + 1e-6));
    let v = kkt::verify(&net, &data, &big).unwrap();
    assert!(v.holds, "{v:?}");
    // Brute check: the LP agrees in the other direction too.
    let li = kkt::certify(&net, &data, &KktSettings { norm: Norm::Linf, tau: 0.2, ..KktSettings::default() }).unwrap();
    assert!(kkt::verify(&net, &data, &li).unwrap().holds);
}

#[test]
fn tampered_certificate_fails() {
    let (net, data) = random_instance(15, 6, 5, true, 11);
    let s = KktSettings { support: Support::All, ..settings(Norm::L2) };
    let rep = kkt::certify(&net, &data, &s).unwrap();
    assert!(kkt::verify(&net, &data, &rep).unwrap().holds);
    let json = serde_json::to_string(&rep).unwrap();
    let back: kkt::KktReport = serde_json::from_str(&json).unwrap();
    assert!(kkt::verify(&net, &data, &back).unwrap().holds);
    let mut bad = rep.clone();
    bad.eps *= 0.5;
    let v = kkt::verify(&net, &data, &bad).unwrap();
    assert!(!v.holds);
    assert!(v.eps_measured > bad.eps);
    let mut neg = rep.clone();
    neg.lambda[0] = -1.0;
    assert!(!kkt::verify(&net, &data, &neg).unwrap().holds);
    // Another network: refused by hash.
    let other = net.scaled(2.0);
    assert!(matches!(kkt::verify(&other, &data, &rep), Err(KktError::HashMismatch { what: "network", .. })));
    let other_data = data.select(&(0..data.m()).rev().collect::<Vec<_>>());
    assert!(matches!(kkt::verify(&net, &other_data, &rep), Err(KktError::HashMismatch { what: "dataset", .. })));
    let mut fmt = rep.clone();
    fmt.format = "relucert/kkt@9".into();
    assert!(matches!(kkt::verify(&net, &data, &fmt), Err(KktError::UnknownFormat { .. })));
}

#[test]
fn bad_inputs_are_refused() {
    let (net, data) = random_instance(10, 4, 5, true, 13);
    // Not separating: flip one label.
    let mut y = data.y().clone();
    y[3] = -y[3];
    let flipped = Dataset::new(data.x().clone(), y).unwrap();
    match kkt::certify(&net, &flipped, &settings(Norm::L2)) {
        Err(KktError::Net(NetError::NotSeparating { sample, .. })) => {
            let msg = kkt::certify(&net, &flipped, &settings(Norm::L2)).unwrap_err().to_string();
            assert!(msg.contains(&format!("sample {sample}")) && msg.contains("KKT"), "{msg}");
        }
        other => panic!("expected NotSeparating, got {other:?}"),
    }
    let wide = Generator::Sphere.generate(6, 10, 1).unwrap();
    assert!(matches!(
        kkt::certify(&net, &wide, &settings(Norm::L2)),
        Err(KktError::Net(NetError::DimensionMismatch { .. }))
    ));
    let bad_tau = KktSettings { tau: -1.0, ..settings(Norm::L2) };
    assert!(matches!(kkt::certify(&net, &data, &bad_tau), Err(KktError::Settings { field: "tau", .. })));
    let bad_slack = KktSettings { support: Support::Margin { slack: f64::NAN }, ..settings(Norm::L2) };
    assert!(matches!(kkt::certify(&net, &data, &bad_slack), Err(KktError::Settings { field: "slack", .. })));
    let tiny = KktSettings { max_memory: Some(1000), ..settings(Norm::Linf) };
    match kkt::certify(&net, &data, &tiny) {
        Err(e @ KktError::Memory { needed, budget: 1000, .. }) => {
            assert!(needed > 1000);
            assert!(e.to_string().contains(&needed.to_string()), "{e}");
        }
        other => panic!("expected a memory refusal, got {other:?}"),
    }
}

#[test]
fn report_fields_and_tau_profile() {
    let (net, data) = random_instance(15, 6, 5, true, 17);
    let rep = kkt::certify(&net, &data, &KktSettings::default()).unwrap();
    let json: serde_json::Value = serde_json::to_value(&rep).unwrap();
    for f in [
        "format",
        "norm",
        "tau",
        "slack",
        "q_min",
        "eps",
        "eps_rel",
        "delta",
        "lambda",
        "support",
        "ambiguous_pairs",
        "lambda_sum",
        "theta_norm_sq_half",
        "tau_profile",
    ] {
        assert!(json.get(f).is_some(), "missing field {f}");
    }
    assert_eq!(json["format"], "relucert/kkt@1");
    assert_eq!(json["norm"], "l2");
    assert_eq!(rep.tau_profile.len(), 5);
    assert_eq!(rep.lambda.len(), data.m());
    for (i, l) in rep.lambda.iter().enumerate() {
        if !rep.support.contains(&i) {
            assert_eq!(*l, 0.0);
        }
    }
    // δ with the margin support is at most slack·Σλ.
    assert!(rep.delta <= 0.1 * rep.lambda_sum + 1e-12);
    assert!(!rep.summary().is_empty());
}

mod invariance {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * a.abs().max(b.abs()).max(1e-12)
    }

    /// Whether the per-sample gradients of the support are well independent
    /// (σ_min/σ_max > 1e-6 of the explicit P×|S| matrix).
    fn full_column_rank(net: &Net, data: &Dataset, support: &[usize]) -> bool {
        let cols: Vec<DVector<f64>> =
            support.iter().map(|&i| net.sample_gradient_default(&data.row(i), data.y()[i])).collect();
        if cols.len() > net.param_count() {
            return false;
        }
        let h = DMatrix::from_columns(&cols);
        let sv = h.singular_values();
        let (lo, hi) = sv.iter().fold((f64::INFINITY, 0.0f64), |(l, u), &x| (l.min(x), u.max(x)));
        lo > 1e-6 * hi
    }

    fn perm_from_seed(n: usize, seed: u64) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        relucert::data::Rng::seed_from_u64(seed).shuffle(&mut p);
        p
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// ε_rel and λ are invariant under θ → αθ, neuron permutations and sample
        /// permutations (λ permuted with the samples).
        #[test]
        fn scale_and_permutation_invariance(
            m in 4usize..14, k in 2usize..7, d in 2usize..6, bias in any::<bool>(),
            seed in 0u64..1000, alpha in 0.1f64..10.0, all in any::<bool>(), linf in any::<bool>(),
        ) {
            let (net, data) = random_instance(m, k, d, bias, seed);
            prop_assume!(data.m() >= 2);
            let m = data.m();
            let s = KktSettings {
                support: if all { Support::All } else { Support::Margin { slack: 0.1 } },
                ..settings(if linf { Norm::Linf } else { Norm::L2 })
            };
            let base = kkt::certify(&net, &data, &s).unwrap();
            prop_assert!(kkt::verify(&net, &data, &base).unwrap().holds);
            // λ is unique only for L2 with independent gradient columns; for L∞, or
            // dependent columns (found by proptest: k = 2, d = 2 bias-free, where samples
            // with one activation pattern span a 2-D space), several λ reach the same
            // optimal ε: compare ε only.
            let check_lambda = !linf && full_column_rank(&net, &data, &base.support);
            if !linf {
                // Optimality against an independent solver (clarabel's interior point).
                let c = kkt::certify(&net, &data, &KktSettings { l2_solver: L2Solver::Clarabel, ..s.clone() }).unwrap();
                prop_assert!(base.eps <= c.eps * (1.0 + 1e-6) + 1e-12, "NNLS {} > clarabel {}", base.eps, c.eps);
                prop_assert_eq!(&base.solver.status, &SolveStatus::Optimal);
            }

            let scaled = kkt::certify(&net.scaled(alpha), &data, &s).unwrap();
            prop_assert!(close(base.eps_rel, scaled.eps_rel, 1e-6), "{} vs {}", base.eps_rel, scaled.eps_rel);
            if check_lambda {
                for (a, b) in base.lambda.iter().zip(&scaled.lambda) {
                    prop_assert!((a - b).abs() <= 1e-6 * base.lambda_sum.max(1e-12), "{a} vs {b}");
                }
            }

            let pk = perm_from_seed(k, seed + 1);
            let pnet = kkt::certify(&net.permuted(&pk), &data, &s).unwrap();
            prop_assert!(close(base.eps_rel, pnet.eps_rel, 1e-6), "{} vs {}", base.eps_rel, pnet.eps_rel);
            if check_lambda {
                for (a, b) in base.lambda.iter().zip(&pnet.lambda) {
                    prop_assert!((a - b).abs() <= 1e-6 * base.lambda_sum.max(1e-12), "{a} vs {b}");
                }
            }

            let pm = perm_from_seed(m, seed + 2);
            let pdata = data.select(&pm);
            let pd = kkt::certify(&net, &pdata, &s).unwrap();
            prop_assert!(close(base.eps_rel, pd.eps_rel, 1e-6), "{} vs {}", base.eps_rel, pd.eps_rel);
            if check_lambda {
                for (r, &i) in pm.iter().enumerate() {
                    prop_assert!((base.lambda[i] - pd.lambda[r]).abs() <= 1e-6 * base.lambda_sum.max(1e-12));
                }
            }
        }
    }
}

#[test]
fn binding_ambiguity_constraints_use_the_coupled_solver() {
    // At a large τ the unconstrained-μ optimum tends to violate μ ≤ λ; the coupled
    // active set handles the constraints itself, proves optimality, and agrees with
    // clarabel's interior point on the same QP.
    let mut binding = 0;
    for seed in 0..12u64 {
        let (net, data) = random_instance(16, 6, 4, true, 100 + seed);
        if data.m() < 2 {
            continue;
        }
        let s = KktSettings { support: Support::All, tau: 0.3, ..settings(Norm::L2) };
        let auto = kkt::certify(&net, &data, &s).unwrap();
        assert!(kkt::verify(&net, &data, &auto).unwrap().holds);
        assert_eq!(auto.solver.method, kkt::SolverMethod::CoupledActiveSet);
        assert_eq!(auto.solver.status, SolveStatus::Optimal);
        let c = kkt::certify(&net, &data, &KktSettings { l2_solver: L2Solver::Clarabel, ..s.clone() }).unwrap();
        // Never worse than clarabel; equal to it wherever clarabel proves optimality.
        assert!(auto.eps <= c.eps * (1.0 + 1e-8) + 1e-12, "{} vs {}", auto.eps, c.eps);
        if c.solver.status == SolveStatus::Optimal {
            assert!((auto.eps - c.eps).abs() <= 1e-8 * c.eps.max(1e-12), "{} vs {} ({:?})", auto.eps, c.eps, c.solver);
        }
        // Binding: some pair sits strictly between its bounds or at λ on the "off" side.
        if auto.subgradient_choices.iter().any(|ch| ch.s > 0.0 && ch.s < 1.0) {
            binding += 1;
        }
    }
    assert!(binding > 0, "no instance had a fractional subgradient choice");
}

/// With slack 0 the support is never empty: the smallest normalised margin is 1 up to
/// rounding, and the test is q̂ ≤ (1 + slack)(1 + 1e-12).
#[test]
fn slack_zero_never_empties_the_support() {
    for seed in 0..40u64 {
        let (net, data) = random_instance(12, 5, 4, seed % 2 == 0, 300 + seed);
        if data.m() < 1 {
            continue;
        }
        for alpha in [1.0, 3.7, 1e-3] {
            let s = KktSettings { support: Support::Margin { slack: 0.0 }, ..settings(Norm::L2) };
            let rep = kkt::certify(&net.scaled(alpha), &data, &s).unwrap();
            assert!(!rep.support.is_empty(), "seed {seed}");
            assert!(kkt::verify(&net.scaled(alpha), &data, &rep).unwrap().holds);
        }
    }
}

#[test]
fn verify_refuses_bad_tau_and_reports_the_relaxation() {
    let (net, data) = random_instance(15, 6, 5, true, 21);
    let rep = kkt::certify(&net, &data, &KktSettings { tau: 0.2, support: Support::All, ..settings(Norm::L2) }).unwrap();
    assert!(rep.ambiguous_pairs > 0);
    let v = kkt::verify(&net, &data, &rep).unwrap();
    assert!(v.holds);
    assert_eq!(v.tau, 0.2);
    assert_eq!(v.relaxed_pairs, rep.subgradient_choices.len());
    assert!(v.summary().contains("tau = 2e-1") && v.summary().contains("relaxed pairs"), "{}", v.summary());
    assert!(rep.summary().contains("tau-relaxed subdifferential"), "{}", rep.summary());
    for bad in [f64::NAN, f64::INFINITY, -1.0, f64::NEG_INFINITY] {
        let mut r = rep.clone();
        r.tau = bad;
        assert!(matches!(kkt::verify(&net, &data, &r), Err(KktError::Settings { field: "tau", .. })), "tau = {bad}");
    }
    let exact = kkt::certify(&net, &data, &KktSettings { tau: 0.0, ..settings(Norm::L2) }).unwrap();
    assert!(exact.summary().contains("Clarke subdifferential (tau = 0)"), "{}", exact.summary());
}

#[test]
fn failures_read_as_sentences_and_old_labels_are_read() {
    let f = kkt::VerifyFailure::Residual { measured: 2.0, stated: 1.0 };
    assert_eq!(f.to_string(), "measured eps = 2.000000e0 exceeds the stated eps = 1.000000e0");
    let f = kkt::VerifyFailure::BadChoice { sample: 3, neuron: 1, reason: "s = 2 is not in [0, 1]".into() };
    assert!(!f.to_string().contains('{'), "{f}");
    for (old, new) in [
        ("active-set-nnls", kkt::SolverMethod::BlockPivotingNnls),
        ("active-set-nnls+clarabel", kkt::SolverMethod::BlockPivotingNnlsClarabel),
        ("block-pivoting-nnls", kkt::SolverMethod::BlockPivotingNnls),
    ] {
        let info: kkt::SolverInfo = serde_json::from_str(&format!(
            r#"{{"method":"{old}","status":{{"kind":"optimal"}},"iterations":3,"seconds":0.1}}"#
        ))
        .unwrap();
        assert_eq!(info.method, new);
    }
    assert_eq!(serde_json::to_value(kkt::SolverMethod::BlockPivotingNnls).unwrap(), "block-pivoting-nnls");
}
