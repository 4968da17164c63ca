//! Helpers shared by the end-to-end tests of the `relucert` binary: run it in a
//! directory, and assert success, a one-line error (exit 1) or a usage error (exit 2).

use std::path::Path;
use std::process::{Command, Output};

/// Runs `relucert ARGS` in `dir`.
pub fn relucert(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relucert")).current_dir(dir).args(args).output().expect("binary runs")
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = relucert(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8 stdout")
}

/// Runs a command with `--json` in its arguments that must succeed; returns the report.
pub fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(dir, args)).expect("a JSON report on stdout")
}

/// Runs a command that must fail with exit 1 and exactly one line on stderr that
/// mentions `needle` (and no panic); returns that line.
pub fn fails(dir: &Path, args: &[&str], needle: &str) -> String {
    let out = relucert(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?} should exit 1: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} does not mention {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Runs a command that must be refused as a usage error: exit 2, clap's message whose
/// first line starts with `error:` and mentions `needle`, nothing on stdout.
pub fn usage(dir: &Path, args: &[&str], needle: &str) -> String {
    let out = relucert(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?} should exit 2: {err}");
    let first = err.lines().next().unwrap_or("");
    assert!(first.starts_with("error:"), "{args:?}: {err}");
    assert!(first.contains(needle), "{args:?}: {first:?} does not mention {needle:?}");
    assert!(out.stdout.is_empty(), "{args:?} printed a report");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Runs `relucert ARGS` in `dir` under 1 GiB of address space (`ulimit -v`) and a 10 s
/// wall-clock limit (`timeout`, exit 124 when it runs out): the limits within which
/// every refusal of hostile input must happen.
pub fn limited(dir: &Path, args: &[&str]) -> Output {
    Command::new("sh")
        .current_dir(dir)
        .arg("-c")
        .arg("ulimit -v 1048576 && exec timeout 10 \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_relucert"))
        .args(args)
        .output()
        .expect("sh runs")
}

/// Like [`fails`] or [`usage`] (by `code`: 1 or 2) but under [`limited`]'s limits;
/// returns the first line of stderr.
pub fn refused(dir: &Path, args: &[&str], code: i32, needle: &str) -> String {
    let out = limited(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?} should exit {code}: {err}");
    let first = err.lines().next().unwrap_or("").to_string();
    assert!(first.starts_with("error:") && first.contains(needle), "{args:?}: {first:?} does not mention {needle:?}");
    if code == 1 {
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
    }
    assert!(out.stdout.is_empty(), "{args:?} printed a report");
    assert!(!err.contains("panicked"), "{err}");
    first
}
