//! End-to-end test of `relucert demo`'s third column: the trained network polished into
//! a certified KKT point, with the paper's measurements there (or an honest failure).
#![cfg(feature = "cli")]

mod common;

use common::json;

/// `demo --quick --json` keeps its existing keys and adds `kkt_point`. When polish
/// succeeds, the KKT point is certified at ε_rel ≤ 1e-8 and re-verified, it is
/// normalised (q_min = 1), its on-margin set is non-empty, and every exact radius comes
/// with a witness that the forward pass confirms flips (y·N ≤ 0); when it fails, the
/// column names a non-`kkt` status and carries no KKT numbers.
#[test]
fn demo_quick_has_a_kkt_column() {
    let dir = tempfile::tempdir().unwrap();
    let r = json(dir.path(), &["demo", "--quick", "--json"]);
    // Backward compatibility: the keys of the first two columns are still there.
    for key in ["robust_radii", "train", "kkt_eps_rel", "on_margin", "c_star", "theorem41_z_norm", "trained_radii", "wall_seconds"] {
        assert!(r.get(key).is_some(), "key {key} missing");
    }
    let m = r["m"].as_u64().unwrap() as usize;
    let k = &r["kkt_point"];
    let status = k["status"].as_str().unwrap();
    assert!(!k["message"].as_str().unwrap().is_empty());
    if status != "kkt" {
        assert!(k["at_kkt"].is_null(), "a failed polish ({status}) must report no KKT numbers");
        return;
    }
    let at = &k["at_kkt"];
    let eps = at["eps_rel"].as_f64().unwrap();
    assert!((0.0..=1e-8).contains(&eps), "certified ε_rel {eps} > 1e-8");
    assert_eq!(at["tau"].as_f64(), Some(1e-9));
    assert_eq!(at["verified"].as_bool(), Some(true));
    assert!((at["q_min"].as_f64().unwrap() - 1.0).abs() < 1e-9, "the KKT point is normalised");
    let exact_set = at["on_margin_exact"].as_array().unwrap();
    assert!(!exact_set.is_empty(), "a KKT point has a sample on the margin");
    assert!(exact_set.len() <= at["on_margin"].as_u64().unwrap() as usize, "q̂ ≤ 1 + 1e-9 lies within 10% slack");
    assert!(at["on_margin"].as_u64().unwrap() as usize <= m);
    // The normalised margin never decreases under polishing.
    let (before, after) = (k["normalized_margin_before"].as_f64().unwrap(), k["normalized_margin_after"].as_f64().unwrap());
    assert!(after >= before * (1.0 - 1e-12), "γ went down: {before} → {after}");
    let radii = &at["radii"];
    let (radius, lower, exact) = (radii["radius"].as_array().unwrap(), radii["lower"].as_array().unwrap(), radii["exact"].as_array().unwrap());
    let wm = at["witness_margin"].as_array().unwrap();
    assert_eq!(radius.len(), radii["samples"].as_array().unwrap().len());
    assert_eq!(wm.len(), radius.len());
    for (i, (((rad, lo), ex), w)) in radius.iter().zip(lower).zip(exact).zip(wm).enumerate() {
        let (rad, lo) = (rad.as_f64().unwrap(), lo.as_f64().unwrap());
        assert!(lo <= rad, "sample {i}: lower {lo} > radius {rad}");
        if ex.as_bool().unwrap() {
            let w = w.as_f64().expect("an exact radius has a witness");
            assert!(w <= 0.0, "sample {i}: witness margin {w} > 0 for an exact radius");
            assert!(rad > 0.0, "samples are classified correctly at the KKT point (margins ≥ 1)");
        }
    }
}
