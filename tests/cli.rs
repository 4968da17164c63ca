//! End-to-end tests of the `relucert` binary: the README pipeline, exit codes, one-line
//! errors, no partial output files, and `--help` examples.

use std::path::Path;
use std::process::{Command, Output};

fn relucert(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relucert")).current_dir(dir).args(args).output().expect("binary runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = relucert(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

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
        (&["gen", "sphere", "--d", "0", "--m", "5", "-o", "out.json"], "empty"),
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
    // Usage errors exit non-zero too.
    assert_eq!(relucert(d, &["gen", "nosuch", "--d", "1", "--m", "1", "-o", "x.json"]).status.code(), Some(2));
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
