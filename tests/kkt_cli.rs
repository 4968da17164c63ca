//! End-to-end tests of `relucert kkt` and `relucert verify-kkt`.
#![cfg(feature = "cli")]

mod common;

use common::{fails, ok, usage};

#[test]
fn kkt_certify_and_verify_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["gen", "orthogonal", "--d", "8", "--m", "8", "-o", "o.json"]);
    ok(d, &["construct", "orthogonal-kkt", "--data", "o.json", "-o", "k.json"]);
    let rep: serde_json::Value =
        serde_json::from_str(&ok(d, &["kkt", "--net", "k.json", "--data", "o.json", "--json", "-o", "cert.json"]))
            .unwrap();
    assert_eq!(rep["format"], "relucert/kkt@1");
    assert!(rep["eps_rel"].as_f64().unwrap() < 1e-10);
    assert_eq!(rep["lambda"].as_array().unwrap().len(), 8);
    assert_eq!(rep["net"]["name"], "k.json");
    assert_eq!(rep["net"]["sha256"].as_str().unwrap().len(), 64);
    let human = ok(d, &["verify-kkt", "--net", "k.json", "--data", "o.json", "--cert", "cert.json"]);
    assert!(human.contains("holds"), "{human}");
    // The LP norms through the CLI, and the summary.
    let h = ok(d, &["kkt", "--net", "k.json", "--data", "o.json", "--norm", "linf", "--all"]);
    assert!(h.contains("eps_rel"), "{h}");

    // The robust network is not a KKT point: certify, then a tampered ε fails.
    ok(d, &["gen", "sphere", "--d", "30", "--m", "10", "--seed", "2", "-o", "s.json"]);
    ok(d, &["construct", "robust", "--data", "s.json", "-o", "r.json"]);
    ok(d, &["kkt", "--net", "r.json", "--data", "s.json", "-o", "rc.json"]);
    ok(d, &["verify-kkt", "--net", "r.json", "--data", "s.json", "--cert", "rc.json"]);
    let mut cert: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("rc.json")).unwrap()).unwrap();
    assert!(cert["eps_rel"].as_f64().unwrap() > 0.5);
    cert["eps"] = serde_json::json!(cert["eps"].as_f64().unwrap() * 0.5);
    std::fs::write(d.join("bad.json"), serde_json::to_vec(&cert).unwrap()).unwrap();
    fails(d, &["verify-kkt", "--net", "r.json", "--data", "s.json", "--cert", "bad.json"], "measured eps");
    // A certificate for another net or dataset is refused.
    fails(d, &["verify-kkt", "--net", "k.json", "--data", "o.json", "--cert", "rc.json"], "another network");
    ok(d, &["gen", "sphere", "--d", "30", "--m", "10", "--seed", "3", "-o", "s3.json"]);
    ok(d, &["construct", "robust", "--data", "s3.json", "-o", "r3.json"]);
    fails(d, &["verify-kkt", "--net", "r.json", "--data", "s3.json", "--cert", "rc.json"], "");
    let mut fmt = cert.clone();
    fmt["format"] = serde_json::json!("relucert/kkt@7");
    std::fs::write(d.join("fmt.json"), serde_json::to_vec(&fmt).unwrap()).unwrap();
    fails(d, &["verify-kkt", "--net", "r.json", "--data", "s.json", "--cert", "fmt.json"], "unknown certificate format");
}

#[test]
fn kkt_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["gen", "sphere", "--d", "30", "--m", "10", "--seed", "2", "-o", "s.json"]);
    ok(d, &["gen", "sphere", "--d", "31", "--m", "10", "--seed", "2", "-o", "s31.json"]);
    ok(d, &["construct", "robust", "--data", "s.json", "-o", "r.json"]);
    // Another labelling of the same points: the robust net of s.json no longer separates.
    ok(d, &["gen", "sphere", "--d", "30", "--m", "10", "--seed", "9", "-o", "other.json"]);
    fails(d, &["kkt", "--net", "r.json", "--data", "s31.json"], "dimension mismatch");
    fails(d, &["kkt", "--net", "r.json", "--data", "other.json"], "separat");
    usage(d, &["kkt", "--net", "r.json", "--data", "s.json", "--tau=-1"], "--tau");
    usage(d, &["kkt", "--net", "r.json", "--data", "s.json", "--tau-ladder", "1e-9,abc"], "abc");
    usage(d, &["kkt", "--net", "r.json", "--data", "s.json", "--tau-ladder", "1e-9,nan"], "--tau-ladder");
    assert!(!d.join("out.json").exists());
}
