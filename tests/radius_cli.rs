//! End-to-end: `relucert radius` (exact, ray, fig1) and `relucert theorem41` on the
//! exact KKT fixture, with closed-form answers, and their one-line errors.
#![cfg(feature = "cli")]

mod common;

use common::{fails, json, relucert, usage};

#[test]
fn radius_and_theorem41_on_orthogonal_kkt() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(relucert(d, &["gen", "orthogonal", "--d", "8", "--m", "8", "-o", "d.json"]).status.success());
    assert!(relucert(d, &["construct", "orthogonal-kkt", "--data", "d.json", "-o", "n.json"]).status.success());
    // Exact: √(d/(1 + d/2)) for every sample (closed form, see tests/radius.rs).
    let r = json(d, &["radius", "--net", "n.json", "--data", "d.json", "--samples", "0,7", "--json", "-o", "r.json"]);
    let want = (8.0f64 / 5.0).sqrt();
    for s in r["samples"].as_array().unwrap() {
        assert!((s["radius"].as_f64().unwrap() - want).abs() < 1e-9);
        assert_eq!(s["exact"], true);
        assert_eq!(s["witness"].as_array().unwrap().len(), 8);
        for key in ["index", "label", "margin", "lower", "upper"] {
            assert!(s.get(key).is_some(), "missing {key}");
        }
    }
    assert_eq!(r["reading"], "closed");
    assert!(d.join("r.json").exists());
    // Ray along e_1 from x_0 = √8 e_1 (label +1): N falls to 0 at distance √8.
    std::fs::write(d.join("u.json"), "[-1,0,0,0,0,0,0,0]").unwrap();
    let r = json(d, &["radius", "--net", "n.json", "--data", "d.json", "--method", "ray", "--direction", "u.json", "--samples", "0", "--json"]);
    assert!((r["samples"][0]["radius"].as_f64().unwrap() - 8f64.sqrt()).abs() < 1e-12);
    // Figure 1 and Theorem 4.1 (η = 2/(1 + d/2) = 0.4, ‖ηz‖ = η·d = 3.2).
    let f = json(d, &["radius", "--net", "n.json", "--data", "d.json", "--method", "fig1", "--json"]);
    assert_eq!(f["on_margin"].as_array().unwrap().len(), 8);
    assert!((f["sqrt_d"].as_f64().unwrap() - 8f64.sqrt()).abs() < 1e-15);
    assert!(f["c_star"].as_f64().unwrap() < 8f64.sqrt());
    let t = json(d, &["theorem41", "--net", "n.json", "--data", "d.json", "--json"]);
    assert!((t["eta"].as_f64().unwrap() - 0.4).abs() < 1e-12);
    assert!((t["z_norm"].as_f64().unwrap() - 3.2).abs() < 1e-12);
    assert_eq!(t["conclusion_holds"], true);
    // The proof of the exact radii verifies; one corrupted number does not.
    let r = json(d, &["radius", "--net", "n.json", "--data", "d.json", "--json", "-o", "r.json", "--proof", "p.json"]);
    assert!(r["samples"].as_array().unwrap().iter().all(|s| s["exact"] == true && s["witness_margin"].as_f64().unwrap() <= 0.0));
    let v = json(d, &["verify-radius", "--net", "n.json", "--data", "d.json", "--report", "r.json", "--proof", "p.json", "--json"]);
    assert_eq!(v["samples"], 8);
    let mut p: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("p.json")).unwrap()).unwrap();
    let leaf = &mut p["samples"][3]["leaves"][0];
    let b = leaf["bound"].as_f64().unwrap();
    leaf["bound"] = serde_json::json!(b * 1.5 + 1.0);
    std::fs::write(d.join("bad.json"), serde_json::to_vec(&p).unwrap()).unwrap();
    let out = relucert(d, &["verify-radius", "--net", "n.json", "--data", "d.json", "--report", "r.json", "--proof", "bad.json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("sample 3, leaf 0"), "{err}");
    // --gap: every line carries its bracket history, ending at its answer.
    let g = json(d, &["radius", "--net", "n.json", "--data", "d.json", "--samples", "0", "--gap", "0.5", "--json"]);
    let s0 = &g["samples"][0];
    let last = s0["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((&last["lower"], &last["upper"]), (&s0["lower"], &s0["upper"]));
    assert!(s0["outcome"] == "exact" || s0["reason"] == "gap", "{s0}");
    // --threads: the same bounds, witnesses and node counts as one thread.
    let one = json(d, &["radius", "--net", "n.json", "--data", "d.json", "--json"]);
    let two = json(d, &["radius", "--net", "n.json", "--data", "d.json", "--json", "--threads", "2"]);
    for (a, b) in one["samples"].as_array().unwrap().iter().zip(two["samples"].as_array().unwrap()) {
        for key in ["lower", "upper", "regions", "closed", "witness", "exact"] {
            assert_eq!(a[key], b[key], "{key}");
        }
    }
    // Bad input: one line on stderr, exit 1.
    std::fs::write(d.join("short.json"), "[1,0]").unwrap();
    std::fs::write(d.join("zero.json"), "[0,0,0,0,0,0,0,0]").unwrap();
    for (args, needle) in [
        (vec!["radius", "--net", "n.json", "--data", "d.json", "--samples", "8"], "out of range"),
        (vec!["radius", "--net", "n.json", "--data", "d.json", "--method", "ray", "--direction", "short.json"], "short.json"),
        (vec!["radius", "--net", "n.json", "--data", "d.json", "--method", "ray", "--direction", "zero.json"], "zero norm"),
    ] {
        fails(d, &args, needle);
    }
    // A ray without a direction is a usage error (clap names the missing flag).
    let out = relucert(d, &["radius", "--net", "n.json", "--data", "d.json", "--method", "ray"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--direction"));
    // Durations that are not a number of seconds a Duration can hold are usage errors
    // (1e20 and inf used to panic in Duration::from_secs_f64).
    for bad in ["1e20", "inf", "nan", "-1"] {
        let arg = format!("--time-limit={bad}");
        usage(d, &["radius", "--net", "n.json", "--data", "d.json", &arg], "--time-limit");
    }
}

/// The paper's scale (width 1000, d = 100, trained to loss 1e-30): the ball
/// certificate alone brings every bracket within 1 % (the issue asks for 5 % in 60 s),
/// and `verify-radius` re-checks the certificates. Before the saddle-point search
/// (a damped fixed point) sample 2 stalled at a 6.3 % gap.
#[test]
fn paper_scale_brackets_close_through_the_ball_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(relucert(d, &["gen", "sphere", "--d", "100", "--m", "100", "--seed", "1", "-o", "d.json"]).status.success());
    assert!(relucert(d, &["train", "--data", "d.json", "--width", "1000", "--target-loss", "1e-30", "-o", "n.json"]).status.success());
    let args = ["radius", "--net", "n.json", "--data", "d.json", "--samples", "0,1,2,3", "--time-limit", "240", "--gap", "0.01", "--threads", "1", "--json", "-o", "r.json", "--proof", "p.json"];
    let r = json(d, &args);
    for s in r["samples"].as_array().unwrap() {
        let (lower, upper) = (s["lower"].as_f64().unwrap(), s["upper"].as_f64().unwrap());
        let ball = s["ball_radius"].as_f64().unwrap();
        assert_eq!(ball, lower, "sample {}: the lower bound is the ball's", s["index"]);
        assert!(lower <= upper && (upper - lower) <= 0.01 * upper, "sample {}: [{lower}, {upper}]", s["index"]);
    }
    let v = json(d, &["verify-radius", "--net", "n.json", "--data", "d.json", "--report", "r.json", "--proof", "p.json", "--json"]);
    assert_eq!((v["samples"].as_u64(), v["balls"].as_u64()), (Some(4), Some(4)), "{v}");
}
