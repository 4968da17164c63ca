//! Measurements behind BENCHMARKS.md's exact-radius section, run by hand (they print
//! numbers and take minutes; they assert nothing, so they are not tests):
//!
//! ```text
//! cargo run --release --example radius_sweeps -- trained    # sweep_trained_nets
//! cargo run --release --example radius_sweeps -- backends   # sweep_backends
//! ```
//!
//! * `trained`: nets trained to loss 1e-30 on sphere data (d = 10, m = 20) for widths
//!   8 … 256; the exact radius of every sample with a 10 s limit each.
//! * `backends`: the same branch-and-bound searches with the dual active-set QP and
//!   with Clarabel, on random nets of width 8, 16 and 32.

use std::process::ExitCode;

use relucert::radius::{exact_radius, QpBackend, RadiusSettings};
use relucert::{Generator, Net};

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("trained") => sweep_trained_nets(),
        Some("backends") => sweep_backends(),
        _ => {
            eprintln!("usage: radius_sweeps trained|backends");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

fn sweep_trained_nets() {
    for k in [8usize, 16, 32, 64, 128, 256] {
        let data = Generator::Sphere.generate(10, 20, 5).expect("sphere data");
        let init = relucert::train::init_net(10, k, true, 6, 1.0).expect("init");
        let ts = relucert::train::TrainSettings { time_limit: Some(20.0), ..Default::default() };
        let out = relucert::train::train(&data, init, &ts, &mut |_| {}).expect("training");
        let s = RadiusSettings { time_limit: Some(std::time::Duration::from_secs(10)), ..RadiusSettings::default() };
        let (mut worst, mut exact, mut regions) = (0.0f64, 0usize, 0usize);
        for i in 0..data.m() {
            let r = exact_radius(&out.net, &data.row(i), data.y()[i], &s).expect("radius");
            worst = worst.max(r.seconds);
            exact += r.is_exact() as usize;
            regions = regions.max(r.regions);
        }
        println!(
            "k = {k}: log10 loss {:.1}, {exact}/{} exact, slowest {worst:.3} s, most regions {regions}",
            out.report.log10_loss,
            data.m()
        );
    }
}

fn sweep_backends() {
    for k in [8usize, 16, 32] {
        let mut rng = relucert::data::Rng::seed_from_u64(k as u64);
        let d = 10;
        let w: Vec<f64> = (0..k * d).map(|_| rng.normal() / (d as f64).sqrt()).collect();
        let b: Vec<f64> = (0..k).map(|_| 0.1 * rng.normal()).collect();
        let v: Vec<f64> = (0..k).map(|_| rng.normal() / (k as f64).sqrt()).collect();
        let net = Net::from_rows(d, &w, Some(&b), &v).expect("net");
        let data = Generator::Sphere.generate(d, 10, 1).expect("sphere data");
        for backend in [QpBackend::DualActiveSet, QpBackend::Clarabel] {
            let s = RadiusSettings { backend, ..RadiusSettings::default() };
            let t = std::time::Instant::now();
            let mut regions = 0;
            for i in 0..data.m() {
                let x = data.row(i);
                let y = net.forward_one(&x).signum();
                regions += exact_radius(&net, &x, y, &s).expect("radius").regions;
            }
            println!("k = {k} {backend:?}: {:.4} s for {} samples, {regions} node QPs", t.elapsed().as_secs_f64(), data.m());
        }
    }
}
