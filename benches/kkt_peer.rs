//! Rust side of the scipy comparison (`benches/peers/kkt_scipy.py`): writes the
//! (m, k, d) = (100, 200, 100) instance as JSON into `target/kkt_peer/`, then times the
//! L2 certificate (NNLS) and the L∞ certificate (LP) with support = all samples and no
//! τ-profile, and writes the timings and ε into `target/kkt_peer/rust.json`.
//!
//! Run: `cargo bench --bench kkt_peer [-- M K D REPS]`.

#[path = "kkt_support/instance.rs"]
mod instance;

use std::time::Instant;

use relucert::kkt::{self, KktSettings, Norm, Support};

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (m, k, d) = if args.len() >= 3 { (args[0], args[1], args[2]) } else { (100, 200, 100) };
    let reps = args.get(3).copied().unwrap_or(21);
    let (net, data) = instance::instance(m, k, d, 2022);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kkt_peer");
    std::fs::create_dir_all(&dir).expect("create target/kkt_peer");
    std::fs::write(dir.join("net.json"), instance::net_json(&net).to_string()).expect("write net");
    std::fs::write(dir.join("data.json"), instance::data_json(&data).to_string()).expect("write data");
    let mut out = serde_json::Map::new();
    out.insert("m".into(), m.into());
    out.insert("k".into(), k.into());
    out.insert("d".into(), d.into());
    let norms: &[(&str, Norm)] = if std::env::var("KKT_PEER_SKIP_LP").is_ok() {
        &[("l2", Norm::L2)]
    } else {
        &[("l2", Norm::L2), ("linf", Norm::Linf), ("l1", Norm::L1)]
    };
    for &(name, norm) in norms {
        let s = KktSettings { norm, support: Support::All, tau_ladder: vec![], ..KktSettings::default() };
        let reps = if norm == Norm::L2 { reps } else { 3 };
        let mut times = Vec::new();
        let mut rep = None;
        for _ in 0..reps {
            let t0 = Instant::now();
            let r = kkt::certify(&net, &data, &s).expect("certify");
            times.push(t0.elapsed().as_secs_f64());
            rep = Some(r);
        }
        let rep = rep.expect("at least one run");
        let t = median(times);
        println!(
            "rust {name}: median {:.3} ms over {reps} runs, eps = {:.12e}, eps_rel = {:.6e}, status {:?}",
            t * 1e3,
            rep.eps,
            rep.eps_rel,
            rep.solver.status
        );
        out.insert(format!("{name}_seconds"), t.into());
        out.insert(format!("{name}_eps"), rep.eps.into());
        out.insert(format!("{name}_eps_rel"), rep.eps_rel.into());
        out.insert(format!("{name}_lambda"), rep.lambda.clone().into());
        if let Some(r) = rep.rounds {
            out.insert(format!("{name}_rounds"), r.into());
            out.insert(format!("{name}_working_set"), rep.working_set.unwrap_or(0).into());
        }
    }
    std::fs::write(dir.join("rust.json"), serde_json::Value::Object(out).to_string()).expect("write rust.json");
}
