//! Measurements of the KKT certificate at the LP scale (BENCHMARKS.md, "KKT at
//! scale"): one mode per run, so that each stays short on a shared machine.
//!
//! ```text
//! cargo run --release --example kkt_scale -- peer 100 200 100      # L2, L∞, L1 on the peer instance
//! cargo run --release --example kkt_scale -- trained 100 200 100   # trained: τ = 1e-2, default, L∞ (L1 with KKT_SCALE_L1=1)
//! cargo run --release --example kkt_scale -- tau 100 200 100       # trained: τ = 1e-2 cold and the ladder, best of 5
//! cargo run --release --example kkt_scale -- linf 1000 1000 1000   # L∞ alone, support = all
//! cargo run --release --example kkt_scale -- default 1000 1000 1000
//! ```
//!
//! `peer` writes target/kkt_peer/{net,data,rust}.json for benches/peers/kkt_scipy.py.
//! `trained` trains (the toolkit's fast schedule, log10 loss −30) once and caches the
//! net in target/kkt_scale/.

#[path = "../benches/kkt_support/instance.rs"]
mod instance;

use std::path::PathBuf;
use std::time::Instant;

use relucert::data::Generator;
use relucert::kkt::{self, KktReport, KktSettings, Norm, Support};
use relucert::{Dataset, Net};

/// CPU seconds of this process (user + system), from getrusage.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn timed(net: &Net, data: &Dataset, s: &KktSettings) -> (KktReport, f64) {
    let (rep, wall, _) = timed_cpu(net, data, s);
    (rep, wall)
}

/// The report, wall seconds and CPU seconds of one certify call.
fn timed_cpu(net: &Net, data: &Dataset, s: &KktSettings) -> (KktReport, f64, f64) {
    let (t0, c0) = (Instant::now(), cpu_seconds());
    let rep = kkt::certify(net, data, s).expect("certify");
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
    println!("  (wall {wall:.3} s, cpu {cpu:.3} s)");
    (rep, wall, cpu)
}

fn show(name: &str, rep: &KktReport, secs: f64) {
    println!(
        "{name:<28} {secs:>9.3} s  eps = {:.12e}  eps_rel = {:.4e}  amb = {}  {} ({})  iterations {} rounds {:?} ws {:?} gap {:?}",
        rep.eps,
        rep.eps_rel,
        rep.ambiguous_pairs,
        rep.solver.method.label(),
        rep.solver.status.describe(),
        rep.solver.iterations,
        rep.rounds,
        rep.working_set,
        rep.final_gap
    );
    for t in &rep.tau_profile {
        println!("    tau {:e}: eps_rel {:?}, pairs {} {}", t.tau, t.eps_rel, t.ambiguous_pairs, t.note.clone().unwrap_or_default());
    }
}

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn trained(m: usize, k: usize, d: usize) -> (Net, Dataset) {
    use relucert::train::{self, TrainSettings};
    let data = Generator::Sphere.generate(d, m, 2022).expect("data");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/kkt_scale");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(format!("trained_{m}_{k}_{d}.json"));
    if let Ok(net) = relucert::io::read_net(&path) {
        return (net, data);
    }
    let t0 = Instant::now();
    let net = train::init_net(d, k, true, 7, 1.0).expect("init");
    let s = TrainSettings { target_log10_loss: -30.0, ..TrainSettings::default() };
    let out = train::train(&data, net, &s, &mut |_| {}).expect("train");
    println!("trained in {:.1} s, {} iterations", t0.elapsed().as_secs_f64(), out.report.iterations);
    std::fs::write(&path, instance::net_json(&out.net).to_string()).expect("write net");
    (out.net, data)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("peer", String::as_str).to_string();
    let num = |i: usize, def: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(def);
    let (m, k, d) = (num(1, 100), num(2, 200), num(3, 100));
    let all = |norm| KktSettings { norm, support: Support::All, tau_ladder: vec![], ..KktSettings::default() };
    match mode.as_str() {
        "peer" => {
            let (net, data) = instance::instance(m, k, d, 2022);
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/kkt_peer");
            std::fs::create_dir_all(&dir).expect("dir");
            std::fs::write(dir.join("net.json"), instance::net_json(&net).to_string()).expect("net");
            std::fs::write(dir.join("data.json"), instance::data_json(&data).to_string()).expect("data");
            let mut out = serde_json::Map::new();
            for (name, norm) in [("l2", Norm::L2), ("linf", Norm::Linf), ("l1", Norm::L1)] {
                let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
                let mut last = None;
                for _ in 0..3 {
                    let (rep, t, c) = timed_cpu(&net, &data, &all(norm));
                    best = best.min(t);
                    best_cpu = best_cpu.min(c);
                    last = Some(rep);
                }
                let rep = last.expect("ran");
                show(name, &rep, best);
                out.insert(format!("{name}_seconds"), best.into());
                out.insert(format!("{name}_cpu_seconds"), best_cpu.into());
                out.insert(format!("{name}_eps"), rep.eps.into());
                out.insert(format!("{name}_lambda"), rep.lambda.clone().into());
            }
            std::fs::write(dir.join("rust.json"), serde_json::Value::Object(out).to_string()).expect("rust.json");
        }
        "trained" => {
            let (net, data) = trained(m, k, d);
            let s = KktSettings { tau: 1e-2, tau_ladder: vec![], ..KktSettings::default() };
            let (rep, t) = timed(&net, &data, &s);
            show("l2 tau=1e-2", &rep, t);
            let (rep, t) = timed(&net, &data, &KktSettings::default());
            show("l2 default (ladder)", &rep, t);
            let norms: &[Norm] = if std::env::var("KKT_SCALE_L1").is_ok() { &[Norm::Linf, Norm::L1] } else { &[Norm::Linf] };
            for &norm in norms {
                let s = KktSettings { norm, tau_ladder: vec![], ..KktSettings::default() };
                let (rep, t) = timed(&net, &data, &s);
                show(norm.name(), &rep, t);
            }
        }
        "tau" => {
            let (net, data) = trained(m, k, d);
            let reps = num(4, 5);
            let cold = KktSettings { tau: 1e-2, tau_ladder: vec![], ..KktSettings::default() };
            for (name, s) in [("l2 tau=1e-2 cold", &cold), ("l2 default (ladder)", &KktSettings::default())] {
                let (mut wall, mut cpu, mut last) = (f64::INFINITY, f64::INFINITY, None);
                for _ in 0..reps {
                    let c0 = cpu_seconds();
                    let (rep, t) = timed(&net, &data, s);
                    cpu = cpu.min(cpu_seconds() - c0);
                    wall = wall.min(t);
                    last = Some(rep);
                }
                let rep = last.expect("reps >= 1");
                println!("{name}: best of {reps}: wall {wall:.4} s, cpu {cpu:.4} s; {} iterations at tau", rep.solver.iterations);
                show(name, &rep, wall);
            }
        }
        "linf" => {
            let (net, data) = instance::instance(m, k, d, 2022);
            // A longer limit than the default 120 s: on a shared machine wall time runs
            // ahead of CPU time.
            let s = KktSettings { time_limit: 600.0, ..all(Norm::Linf) };
            let (rep, t) = timed(&net, &data, &s);
            show("linf all", &rep, t);
        }
        "default" => {
            let (net, data) = instance::instance(m, k, d, 2022);
            let (rep, t) = timed(&net, &data, &KktSettings::default());
            show("default", &rep, t);
        }
        other => panic!("unknown mode {other}"),
    }
    println!("peak RSS {:.1} MB", peak_rss_mb());
}
