//! The cost of proof-carrying radii (numbers in BENCHMARKS.md): for random nets of
//! width k = 12, 32, 64 (d = 10, w ~ N(0, 1/d), b ~ N(0, 0.1²), v ~ N(0, 1/k)) and 4
//! sphere samples labelled by the net, the exact radius with `record_proof`, the size
//! of the proof file (JSON) and the time `verify_radius` takes to re-check it.
//!
//! Run: `cargo run --release --example radius_proof_cost`.

use std::time::Instant;

use relucert::radius::reference::gaussian_net;
use relucert::radius::{radius_report, verify_radius, RadiusMethod, RadiusSettings, ReportedSample};
use relucert::{Dataset, Generator};

fn main() {
    let d = 10;
    println!("| k | samples exact | leaves | proof size (JSON) | search time | verify time |");
    println!("|---|---|---|---|---|---|");
    for k in [12usize, 32, 64] {
        let net = gaussian_net(k, d, 100 + k as u64);
        let x = Generator::Sphere.generate(d, 4, 7).expect("data");
        let y: Vec<f64> = (0..4).map(|i| if net.forward_one(&x.row(i)) >= 0.0 { 1.0 } else { -1.0 }).collect();
        let data = Dataset::new(x.x().clone(), nalgebra::DVector::from_vec(y)).expect("data");
        let settings = RadiusSettings { record_proof: true, ..RadiusSettings::default() };
        let t = Instant::now();
        let rep = radius_report(&net, &data, &RadiusMethod::Exact(settings), &[]).expect("report");
        let search = t.elapsed().as_secs_f64();
        let proof = rep.proof.clone().expect("proof");
        let bytes = serde_json::to_vec(&proof).expect("json").len();
        let leaves: usize = proof.samples.iter().map(|p| p.leaves.len()).sum();
        let samples: Vec<ReportedSample> = rep.samples.iter().map(ReportedSample::from).collect();
        let t = Instant::now();
        let ok = verify_radius(&net, &data, &samples, &proof);
        let verify = t.elapsed().as_secs_f64();
        let exact = rep.samples.iter().filter(|s| s.exact).count();
        println!("| {k} | {exact}/4 | {leaves} | {:.1} KiB | {search:.3} s | {:.2} ms ({}) |", bytes as f64 / 1024.0, verify * 1e3, if ok.is_ok() { "valid" } else { "INVALID" });
        if let Err(e) = ok {
            eprintln!("k = {k}: {e}");
        }
    }
}
