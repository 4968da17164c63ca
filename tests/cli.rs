//! End-to-end tests of the `relucert` binary: the README pipeline, exit codes, one-line
//! errors, no partial output files, and `--help` examples.
#![cfg(feature = "cli")]

mod common;

use common::{ok, relucert, usage};

/// The "done when" pipeline: q_min = 1 to 1e-12 and accuracy = 1.
#[test]
fn gen_construct_eval_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["gen", "sphere", "--d", "50", "--m", "20", "--seed", "1", "-o", "d.json"]);
    ok(d, &["construct", "robust", "--data", "d.json", "-o", "n.json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(d, &["eval", "--net", "n.json", "--data", "d.json", "--json"])).unwrap();
    assert!((report["q_min"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(report["accuracy"].as_f64().unwrap(), 1.0);
    assert_eq!(report["margins"].as_array().unwrap().len(), 20);
    // The same pipeline through the tensor formats gives the same margins.
    ok(d, &["gen", "sphere", "--d", "50", "--m", "20", "--seed", "1", "-o", "d.npz"]);
    ok(d, &["construct", "robust", "--data", "d.npz", "-o", "n.safetensors"]);
    let r2: serde_json::Value = serde_json::from_str(&ok(d, &["eval", "--net", "n.safetensors", "--data", "d.npz", "--json"])).unwrap();
    assert_eq!(report["margins"], r2["margins"]);
}

#[test]
fn same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for kind in ["sphere", "gaussian", "clusters", "orthogonal"] {
        ok(d, &["gen", kind, "--d", "12", "--m", "9", "--seed", "5", "-o", "a.json"]);
        ok(d, &["gen", kind, "--d", "12", "--m", "9", "--seed", "5", "-o", "b.json"]);
        assert_eq!(std::fs::read(d.join("a.json")).unwrap(), std::fs::read(d.join("b.json")).unwrap(), "{kind}");
    }
}

/// Bad input: exit code 1, exactly one line on stderr naming the problem, no output file.
#[test]
fn bad_input_is_one_line_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["gen", "sphere", "--d", "5", "--m", "4", "-o", "d5.json"]);
    ok(d, &["gen", "sphere", "--d", "6", "--m", "4", "-o", "d6.json"]);
    ok(d, &["construct", "robust", "--data", "d5.json", "-o", "n5.json"]);
    std::fs::write(d.join("trunc.json"), b"{\"format\":\"relucert/data@1\",\"d\":").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["eval", "--net", "n5.json", "--data", "d6.json"], "dimension mismatch"),
        (&["eval", "--net", "n5.json", "--data", "trunc.json"], "trunc.json"),
        (&["construct", "robust", "--data", "trunc.json", "-o", "out.json"], "trunc.json"),
        (&["gen", "orthogonal", "--d", "3", "--m", "5", "-o", "out.json"], "m ≤ d"),
        (&["construct", "orthogonal-kkt", "--data", "d5.json", "-o", "out.json"], "orthogonal"),
        (&["eval", "--net", "nope.json", "--data", "d5.json"], "nope.json"),
    ];
    for (args, needle) in cases {
        let out = relucert(d, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err:?} should mention {needle:?}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!d.join("out.json").exists(), "{args:?} left a partial file");
    }
    // Usage errors exit 2 with clap's message, and write nothing.
    usage(d, &["gen", "nosuch", "--d", "1", "--m", "1", "-o", "out.json"], "nosuch");
    usage(d, &["gen", "sphere", "--d", "0", "--m", "5", "-o", "out.json"], "--d");
    assert!(!d.join("out.json").exists());
}

#[test]
fn help_shows_an_example_for_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let top = ok(dir.path(), &["--help"]);
    let cmds: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(cmds.len() >= 4, "{cmds:?}");
    for c in cmds {
        let h = ok(dir.path(), &[&c, "--help"]);
        assert!(h.contains("Example") && h.contains(&format!("relucert {c}")), "{c} --help lacks an example");
    }
}

/// `demo --quick` runs the whole story at small sizes in the test suite: the robust
/// network's certified radii meet Theorem 3.1's bound, recomputed here from the reported
/// c, and the trained network reaches the paper's loss.
#[test]
fn demo_quick_tells_the_story() {
    let dir = tempfile::tempdir().unwrap();
    let r: serde_json::Value = serde_json::from_str(&ok(dir.path(), &["demo", "--quick", "--json"])).unwrap();
    assert_eq!((r["d"].as_u64(), r["m"].as_u64(), r["width"].as_u64()), (Some(64), Some(8), Some(32)));
    let c = r["c"].as_f64().unwrap();
    let bound = (1.0 - c) / 4.0 * 8.0;
    assert!((r["robust_radius_bound"].as_f64().unwrap() - bound).abs() <= 1e-12 * bound);
    let lower = r["robust_radii"]["lower"].as_array().unwrap();
    assert_eq!(lower.len(), 8);
    for l in lower {
        assert!(l.as_f64().unwrap() >= bound, "certified lower {l} below (1−c)/4·√d = {bound}");
    }
    assert!((r["robust_q_min"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    assert!(r["train"]["log10_loss"].as_f64().unwrap() <= -30.0);
    assert!(r["on_margin"].as_u64().unwrap() <= 8);
    // Explicit flags override the quick sizes; bad durations are usage errors.
    let r: serde_json::Value = serde_json::from_str(&ok(dir.path(), &["demo", "--quick", "--m", "4", "--json"])).unwrap();
    assert_eq!(r["m"].as_u64(), Some(4));
    for bad in ["-1", "nan", "inf", "1e20"] {
        let arg = format!("--radius-time-limit={bad}");
        usage(dir.path(), &["demo", "--quick", &arg], "--radius-time-limit");
    }
}
