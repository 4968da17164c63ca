//! Hostile and mistaken command lines: an output that names an input is refused before
//! any work (and the input is left byte for byte as it was), every invalid flag value is
//! a usage error (exit 2) instead of a panic or a late exit 1, and reports are never
//! written under a tensor file's name. Each case runs under 1 GiB of address space and
//! 10 s.
#![cfg(feature = "cli")]

mod common;

use std::path::Path;

use common::{ok, refused};

/// d.json (sphere, d = 6, m = 5), n.json (its robust network), u.json (a direction).
fn setup(d: &Path) {
    ok(d, &["gen", "sphere", "--d", "6", "--m", "5", "--seed", "1", "-o", "d.json"]);
    ok(d, &["construct", "robust", "--data", "d.json", "-o", "n.json"]);
    std::fs::write(d.join("u.json"), "[1,0,0,0,0,0]").unwrap();
}

fn snapshot(d: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

/// Issue: `train --data d.json -o d.json` replaced the dataset with the network; so did
/// eval, kkt, radius, theorem41 and construct with `-o` naming an input.
#[test]
fn an_output_that_names_an_input_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    std::fs::create_dir(d.join("sub")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(d.join("d.json"), d.join("link.json")).unwrap();
    let abs = d.join("d.json").display().to_string();
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["train", "--data", "d.json", "--width", "20", "-o", "d.json"], "--data d.json"),
        (vec!["train", "--data", "d.json", "--width", "20", "-o", "./d.json"], "--data d.json"),
        (vec!["train", "--data", "d.json", "--width", "20", "-o", "sub/../d.json"], "--data d.json"),
        (vec!["train", "--data", "d.json", "--width", "20", "-o", &abs], "--data d.json"),
        (vec!["train", "--data", "d.json", "--resume", "n.json", "-o", "n.json"], "--resume n.json"),
        (vec!["eval", "--net", "n.json", "--data", "d.json", "-o", "n.json"], "--net n.json"),
        (vec!["eval", "--net", "n.json", "--data", "d.json", "-o", "d.json"], "--data d.json"),
        (vec!["kkt", "--net", "n.json", "--data", "d.json", "-o", "d.json"], "--data d.json"),
        (vec!["kkt", "--net", "n.json", "--data", "d.json", "-o", "n.json"], "--net n.json"),
        (vec!["radius", "--net", "n.json", "--data", "d.json", "-o", "d.json"], "--data d.json"),
        (vec!["radius", "--net", "n.json", "--data", "d.json", "-o", "n.json"], "--net n.json"),
        (vec!["radius", "--net", "n.json", "--data", "d.json", "--method", "ray", "--direction", "u.json", "-o", "u.json"], "--direction u.json"),
        (vec!["theorem41", "--net", "n.json", "--data", "d.json", "-o", "d.json"], "--data d.json"),
        (vec!["theorem41", "--net", "n.json", "--data", "d.json", "-o", "n.json"], "--net n.json"),
        (vec!["construct", "robust", "--data", "d.json", "-o", "d.json"], "--data d.json"),
        (vec!["construct", "orthogonal-kkt", "--data", "d.json", "-o", "./sub/../d.json"], "--data d.json"),
    ];
    #[cfg(unix)]
    cases.push((vec!["eval", "--net", "n.json", "--data", "d.json", "-o", "link.json"], "--data d.json"));
    let before = snapshot(d);
    for (args, input) in &cases {
        let line = refused(d, args, 2, "refusing to write -o");
        assert!(line.contains(input), "{args:?}: {line} should name {input}");
        assert_eq!(snapshot(d), before, "{args:?} changed a file");
    }
    // train writes <out>.report.json beside the network: that must not be an input either.
    std::fs::copy(d.join("d.json"), d.join("m.json.report.json")).unwrap();
    let before = snapshot(d);
    refused(d, &["train", "--data", "m.json.report.json", "--width", "3", "-o", "m.json"], 2, "report");
    assert_eq!(snapshot(d), before);
}

/// Issue: `eval -o x.safetensors` wrote JSON under that name. Reports are JSON: a tensor
/// name (or none) is refused before any work.
#[test]
fn reports_are_not_written_under_a_tensor_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    for out in ["x.safetensors", "x.npz", "x"] {
        for cmd in [
            vec!["eval", "--net", "n.json", "--data", "d.json", "-o", out],
            vec!["kkt", "--net", "n.json", "--data", "d.json", "-o", out],
            vec!["radius", "--net", "n.json", "--data", "d.json", "-o", out],
            vec!["theorem41", "--net", "n.json", "--data", "d.json", "-o", out],
        ] {
            let line = refused(d, &cmd, 2, out);
            assert!(line.contains(".json"), "{line}");
            assert!(!d.join(out).exists(), "{cmd:?} wrote {out}");
        }
    }
}

/// Issue: `radius --time-limit 1e20` and `demo --radius-time-limit inf` panicked in
/// `Duration::from_secs_f64` (exit 101); `demo --radius-time-limit -1` and `nan` were
/// accepted while `radius` refused them; `--start-iteration u64::MAX` wrapped the counter.
#[test]
fn durations_and_counters_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    for bad in ["1e20", "inf", "-inf", "nan", "-1", "1e400", "x"] {
        let arg = format!("--time-limit={bad}");
        refused(d, &["radius", "--net", "n.json", "--data", "d.json", &arg], 2, "--time-limit");
        let arg = format!("--radius-time-limit={bad}");
        refused(d, &["demo", "--quick", &arg], 2, "--radius-time-limit");
        let arg = format!("--time-limit={bad}");
        refused(d, &["train", "--data", "d.json", "--width", "3", &arg], 2, "--time-limit");
    }
    // A start that would wrap the counter is the trainer's typed error (exit 1).
    refused(
        d,
        &["train", "--data", "d.json", "--width", "3", "--schedule", "paper", "--start-iteration", "18446744073709551615", "-o", "t.json"],
        1,
        "",
    );
    assert!(!d.join("t.json").exists());
}

/// Issue: about 90 invalid values exited 1 (or were accepted) although usage errors exit
/// 2. Every one of these is refused by the parser, names its flag, and writes nothing.
#[test]
fn invalid_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let nonfinite = ["nan", "inf", "-inf", "1e400", "abc", ""];
    let mut cases: Vec<(Vec<&str>, &str, Vec<&str>)> = vec![
        (vec!["gen", "sphere", "--m", "3", "-o", "o.json"], "--d", vec!["0", "-1", "1.5", "abc", "99999999999999999999999"]),
        (vec!["gen", "sphere", "--d", "3", "-o", "o.json"], "--m", vec!["0", "-1", "x"]),
        (vec!["gen", "gaussian", "--d", "3", "--m", "3", "-o", "o.json"], "--variance", vec!["0", "-1"]),
        (vec!["gen", "clusters", "--d", "3", "--m", "3", "-o", "o.json"], "--clusters", vec!["0", "-2", "1e12"]),
        (vec!["gen", "clusters", "--d", "3", "--m", "3", "-o", "o.json"], "--noise", vec!["-0.5"]),
        (vec!["construct", "robust", "--data", "d.json", "-o", "o.json"], "--c", vec!["1", "-0.1", "2"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--lr-start", vec!["0", "-1"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--lr-factor", vec!["0", "-1"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--lr-period", vec!["0", "-1", "x"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--grow", vec!["0"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--shrink", vec!["0"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--max-step", vec!["0"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--target-loss", vec!["0", "-1", "abc", "1e", "nan"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--batch", vec!["0", "-1"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--init-scale", vec!["0", "-1"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--checkpoint-every", vec!["0"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--width", vec!["0", "-3"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--loss", vec!["square"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--dtype", vec!["f16"]),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--kernel", vec!["fast"]),
        (vec!["kkt", "--net", "n.json", "--data", "d.json", "-o", "o.json"], "--tau", vec!["-1"]),
        (vec!["kkt", "--net", "n.json", "--data", "d.json", "-o", "o.json"], "--slack", vec!["-0.1"]),
        (vec!["kkt", "--net", "n.json", "--data", "d.json", "-o", "o.json"], "--tau-ladder", vec!["1e-9,abc", "-1", "1e-3,nan", "inf"]),
        (vec!["kkt", "--net", "n.json", "--data", "d.json", "-o", "o.json"], "--norm", vec!["l3"]),
        (vec!["radius", "--net", "n.json", "--data", "d.json", "-o", "o.json"], "--slack", vec!["-1"]),
        (vec!["radius", "--net", "n.json", "--data", "d.json", "-o", "o.json"], "--samples", vec!["-1", "x"]),
        (vec!["radius", "--net", "n.json", "--data", "d.json", "-o", "o.json"], "--method", vec!["brute"]),
        (vec!["theorem41", "--net", "n.json", "--data", "d.json", "-o", "o.json"], "--slack", vec!["-1"]),
        (vec!["demo", "--quick"], "--d", vec!["0"]),
        (vec!["demo", "--quick"], "--m", vec!["0"]),
        (vec!["demo", "--quick"], "--width", vec!["0"]),
        (vec!["reproduce", "fig1a", "--quick", "--out", "runs"], "--shard", vec!["3/2", "1/0", "a/b", "1", "-1/2"]),
        (vec!["reproduce", "fig1a", "--quick", "--out", "runs"], "--jobs", vec!["0", "-1"]),
        (vec!["reproduce", "fig1a", "--quick", "--out", "runs"], "--schedule", vec!["slow"]),
    ];
    // Every float flag refuses the non-finite spellings too.
    for (prefix, flag) in [
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--lr-start"),
        (vec!["train", "--data", "d.json", "--width", "3", "-o", "o.json"], "--grow"),
        (vec!["kkt", "--net", "n.json", "--data", "d.json", "-o", "o.json"], "--tau"),
        (vec!["gen", "gaussian", "--d", "3", "--m", "3", "-o", "o.json"], "--variance"),
        (vec!["radius", "--net", "n.json", "--data", "d.json", "-o", "o.json"], "--slack"),
    ] {
        cases.push((prefix, flag, nonfinite.to_vec()));
    }
    let mut n = 0;
    for (prefix, flag, bads) in &cases {
        for bad in bads {
            let arg = format!("{flag}={bad}");
            let mut args = prefix.clone();
            args.push(&arg);
            refused(d, &args, 2, flag);
            n += 1;
        }
    }
    assert!(n >= 90, "{n} cases");
    for made in ["o.json", "runs"] {
        assert!(!d.join(made).exists(), "{made} was written");
    }
}

/// `--max-memory` (every command) bounds what input sizes may allocate: sizes past it
/// are refused with the bytes they need, before any allocation, instead of aborting.
/// Without the flag the budget is the machine's available memory (here under
/// `ulimit -v`, which it also respects).
#[test]
fn max_memory_bounds_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    refused(d, &["gen", "sphere", "--d", "1000000000", "--m", "1000000000", "-o", "g.json"], 1, "bytes");
    refused(d, &["gen", "sphere", "--d", "4294967296", "--m", "4294967297", "-o", "g.json"], 1, "");
    refused(d, &["gen", "sphere", "--d", "1000", "--m", "1000", "-o", "g.json", "--max-memory", "1M"], 1, "1000000 bytes");
    refused(d, &["demo", "--d", "100000", "--m", "100000", "--width", "1000000000"], 1, "bytes");
    refused(d, &["train", "--data", "d.json", "--width", "1000000000", "-o", "t.json"], 1, "bytes");
    refused(d, &["train", "--data", "d.json", "--width", "100000", "--max-memory", "1MiB", "-o", "t.json"], 1, "1048576 bytes");
    refused(d, &["eval", "--net", "n.json", "--data", "d.json", "--max-memory", "100"], 1, "100 bytes");
    // The files fit in 4000 bytes; the KKT solve's estimate (5760 bytes here) does not.
    refused(d, &["kkt", "--net", "n.json", "--data", "d.json", "--max-memory", "4000"], 1, "budget of 4000 bytes");
    for bad in ["0", "-1", "1X", "abc", "99999999999999999999"] {
        let arg = format!("--max-memory={bad}");
        refused(d, &["eval", "--net", "n.json", "--data", "d.json", &arg], 2, "--max-memory");
    }
    for made in ["g.json", "t.json"] {
        assert!(!d.join(made).exists(), "{made} was written");
    }
    // A generous budget changes nothing.
    ok(d, &["eval", "--net", "n.json", "--data", "d.json", "--max-memory", "2GiB"]);
}
