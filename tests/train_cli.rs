//! End-to-end tests of `relucert train`: JSON report fields, companion report,
//! checkpoint and resume, and one-line errors for misuse and failed runs.
#![cfg(feature = "cli")]

mod common;

use common::{ok, relucert, usage};

#[test]
fn train_writes_network_report_and_resumes() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    ok(d, &["gen", "sphere", "--d", "20", "--m", "30", "--seed", "1", "-o", "d.json"]);
    let text = ok(d, &["train", "--data", "d.json", "--width", "64", "--checkpoint-every", "50", "-o", "n.json", "--json"]);
    let r: serde_json::Value = serde_json::from_str(&text).expect("json");
    for f in ["iterations", "log10_loss", "q_min", "normalized_margin", "wall_seconds", "step_seconds_median", "stop_reason"] {
        assert!(r.get(f).is_some(), "missing {f}");
    }
    assert_eq!(r["stop_reason"], "target_loss");
    assert!(r["log10_loss"].as_f64().expect("num") <= -30.0);
    assert!(d.join("n.json.report.json").exists());
    assert!(d.join("n.json.checkpoint.json").exists());
    // The written network has the reported margin.
    let e: serde_json::Value = serde_json::from_str(&ok(d, &["eval", "--net", "n.json", "--data", "d.json", "--json"])).expect("json");
    let (q1, q2) = (e["q_min"].as_f64().expect("num"), r["q_min"].as_f64().expect("num"));
    assert!((q1 - q2).abs() <= 1e-9 * q2);
    // Resume to a deeper target; the iteration count continues.
    let text = ok(d, &["train", "--data", "d.json", "--resume", "n.json", "--target-loss", "1e-60", "-o", "n2.json", "--json"]);
    let r2: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert!(r2["log10_loss"].as_f64().expect("num") <= -60.0);
    assert_eq!(r2["settings"]["start_iteration"], r["last_iteration"]);
    // Same seed, same bytes.
    ok(d, &["train", "--data", "d.json", "--width", "16", "--schedule", "paper", "--max-iters", "300", "--seed", "3", "-o", "a.json"]);
    ok(d, &["train", "--data", "d.json", "--width", "16", "--schedule", "paper", "--max-iters", "300", "--seed", "3", "-o", "b.json"]);
    assert_eq!(std::fs::read(d.join("a.json")).expect("a"), std::fs::read(d.join("b.json")).expect("b"));
}

#[test]
fn train_refuses_misuse_with_one_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    ok(d, &["gen", "sphere", "--d", "5", "--m", "6", "-o", "d.json"]);
    ok(d, &["gen", "sphere", "--d", "4", "--m", "6", "-o", "d4.json"]);
    ok(d, &["train", "--data", "d4.json", "--width", "3", "--max-iters", "2", "-o", "n4.json"]);
    usage(d, &["train", "--data", "d.json", "--width", "0"], "--width");
    usage(d, &["train", "--data", "d.json", "--width", "3", "--target-loss=-1"], "--target-loss");
    let out = relucert(d, &["train", "--data", "d.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--width"));
    for args in [
        vec!["train", "--data", "d.json", "--resume", "n4.json"],
        vec!["train", "--data", "missing.json", "--width", "3"],
    ] {
        let out = relucert(d, &args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
    // A diverging paper run names iteration and learning rate, and still writes the
    // best network and the report.
    let out = relucert(d, &["train", "--data", "d.json", "--width", "5", "--schedule", "paper", "--lr-start", "1e200", "-o", "bad.json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("iteration") && err.contains("learning rate"), "{err}");
    assert!(d.join("bad.json").exists() && d.join("bad.json.report.json").exists());
}

#[test]
fn train_refuses_wrapping_counters_and_huge_sizes() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    ok(d, &["gen", "sphere", "--d", "5", "--m", "6", "-o", "d.json"]);
    ok(d, &["train", "--data", "d.json", "--width", "3", "--max-iters", "2", "-o", "n.json"]);
    for args in [
        vec!["train", "--data", "d.json", "--resume", "n.json", "--schedule", "paper", "--start-iteration", "18446744073709551615"],
        vec!["train", "--data", "d.json", "--width", "1000000000"],
        vec!["train", "--data", "d.json", "--width", "18446744073709551615"],
    ] {
        let out = relucert(d, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("memory allocation"), "{err}");
    }
}
