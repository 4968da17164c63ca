//! Every field a report carries is documented in docs/reports.md.
//!
//! Each command runs once (twice where a flag adds fields) on small inputs with
//! `--json`, and every key of its report, at any depth, must appear in backticks in the
//! command's section of docs/reports.md, in the conventions before the first section,
//! or — for a report nested in another (polish's `certificate` is a `kkt` report) — in
//! the nested report's section. A new field that is not documented fails here.
#![cfg(feature = "cli")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::json;
use serde_json::Value;

/// Keys whose values are reports documented in another section: (section, key, section
/// of the nested report).
const NESTED: &[(&str, &str, &str)] = &[("polish", "certificate", "kkt"), ("demo", "train", "train"), ("demo", "kkt_tau_profile", "kkt")];

/// docs/reports.md as a map from a section's title (`## eval` → `eval`) to the names in
/// backticks there; the text before the first section is under "".
fn documented_names() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reports.md")).expect("docs/reports.md");
    let mut sections: BTreeMap<String, String> = BTreeMap::new();
    let mut title = String::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("## ") {
            title = t.trim().to_string();
        }
        let body = sections.entry(title.clone()).or_default();
        body.push_str(line);
        body.push('\n');
    }
    sections
        .into_iter()
        .map(|(title, body)| {
            // Spans between backticks: the odd pieces of a split on '`'.
            let names = body
                .split('`')
                .skip(1)
                .step_by(2)
                .flat_map(|span| span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
                .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_'))
                .map(str::to_string)
                .collect();
            (title, names)
        })
        .collect()
}

/// The keys of `v` at any depth that `section` (with the conventions and [`NESTED`]
/// sections) does not name, as JSON paths.
fn undocumented(docs: &BTreeMap<String, BTreeSet<String>>, section: &str, v: &Value, path: &str, out: &mut Vec<String>) {
    let names = |s: &str| docs.get(s).into_iter().chain(docs.get("")).flatten().cloned().collect::<BTreeSet<String>>();
    let known = names(section);
    match v {
        Value::Object(map) => {
            for (key, child) in map {
                let p = format!("{path}.{key}");
                if !known.contains(key) {
                    out.push(format!("{section}: {p}"));
                }
                let inner = NESTED.iter().find(|(s, k, _)| *s == section && k == key).map_or(section, |n| n.2);
                undocumented(docs, inner, child, &p, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| undocumented(docs, section, x, &format!("{path}[]"), out)),
        _ => {}
    }
}

#[test]
fn every_report_field_is_documented() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("gen", vec!["gen", "orthogonal", "--d", "8", "--m", "8", "-o", "o.json"]),
        ("gen", vec!["gen", "sphere", "--d", "30", "--m", "10", "--seed", "2", "-o", "s.json"]),
        ("construct", vec!["construct", "orthogonal-kkt", "--data", "o.json", "-o", "k.json"]),
        ("construct", vec!["construct", "robust", "--data", "s.json", "-o", "r.json"]),
        ("eval", vec!["eval", "--net", "k.json", "--data", "o.json"]),
        ("kkt", vec!["kkt", "--net", "k.json", "--data", "o.json", "-o", "cert.json"]),
        ("kkt", vec!["kkt", "--net", "r.json", "--data", "s.json", "--norm", "linf"]),
        ("verify-kkt", vec!["verify-kkt", "--net", "k.json", "--data", "o.json", "--cert", "cert.json"]),
        ("train", vec!["train", "--data", "s.json", "--width", "16", "-o", "t.json"]),
        ("train", vec!["train", "--data", "s.json", "--width", "16", "--target-eps-rel", "0.5", "--kkt-every", "50"]),
        ("polish", vec!["polish", "--net", "t.json", "--data", "s.json", "-o", "p.json"]),
        ("radius", vec!["radius", "--net", "k.json", "--data", "o.json", "--samples", "0,7", "-o", "rr.json", "--proof", "proof.json"]),
        ("radius", vec!["radius", "--net", "k.json", "--data", "o.json", "--samples", "0", "--gap", "0.5"]),
        ("radius", vec!["radius", "--net", "k.json", "--data", "o.json", "--method", "fig1"]),
        ("radius", vec!["radius", "--net", "k.json", "--data", "o.json", "--method", "ray", "--direction", "u.json", "--samples", "0"]),
        ("verify-radius", vec!["verify-radius", "--net", "k.json", "--data", "o.json", "--report", "rr.json", "--proof", "proof.json"]),
        ("theorem41", vec!["theorem41", "--net", "k.json", "--data", "o.json"]),
        ("check", vec!["check"]),
        ("demo", vec!["demo", "--quick"]),
        ("reproduce", vec!["reproduce", "fig2", "--quick", "--schedule", "fast", "--shard", "0/27", "--at", "both", "--out", "rep"]),
        ("reproduce", vec!["reproduce", "merge", "rep", "--figure", "fig2"]),
    ];
    std::fs::write(d.join("u.json"), "[-1,0,0,0,0,0,0,0]").unwrap();
    let docs = documented_names();
    let mut missing = vec![];
    let mut seen = BTreeSet::new();
    for (section, args) in &runs {
        assert!(docs.contains_key(*section), "docs/reports.md has no section `## {section}`");
        seen.insert(section.to_string());
        let report = json(d, &[args.as_slice(), &["--json"]].concat());
        undocumented(&docs, section, &report, "", &mut missing);
    }
    // The report beside a trained network is the one `--json` prints.
    let file: Value = serde_json::from_slice(&std::fs::read(d.join("t.json.report.json")).unwrap()).unwrap();
    undocumented(&docs, "train", &file, "", &mut missing);
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "report fields missing from docs/reports.md:\n{}", missing.join("\n"));
    // Every command section was exercised (the exit-code table is not a report).
    let untested: Vec<&String> = docs.keys().filter(|s| !s.is_empty() && *s != "Exit codes" && !seen.contains(*s)).collect();
    assert!(untested.is_empty(), "no report of {untested:?} was checked here");
    // Sanity: the check itself sees a field that is not documented.
    let mut fake = vec![];
    undocumented(&docs, "eval", &serde_json::json!({"q_min": 1.0, "no_such_field_anywhere": 2}), "", &mut fake);
    assert_eq!(fake, ["eval: .no_such_field_anywhere"]);
}
