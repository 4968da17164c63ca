//! Radius sweeps run by hand (numbers in BENCHMARKS.md):
//!
//! * `trained`: nets trained to loss 1e-30 on sphere data (d = 10, m = 20), the exact
//!   radius of every sample with a 10 s limit each;
//! * `backends`: the same searches with the dual active-set QP and with Clarabel (the
//!   measurement behind the default backend).
//!
//! Run: `cargo run --release --example radius_sweeps -- [trained|backends]`.

use relucert::radius::{exact_radius, QpBackend, RadiusSettings};
use relucert::{Generator, Net};

/// Sweep (run by hand, numbers in BENCHMARKS.md): nets trained to loss 1e-30 on sphere
/// data (d = 10, m = 20), exact radius of every sample with a 10 s limit each.
fn sweep_trained_nets() {
    for k in [8usize, 16, 32, 64, 128, 256] {
        let data = Generator::Sphere.generate(10, 20, 5).unwrap();
        let init = relucert::train::init_net(10, k, true, 6, 1.0).unwrap();
        let ts = relucert::train::TrainSettings { time_limit: Some(20.0), ..Default::default() };
        let out = relucert::train::train(&data, init, &ts, &mut |_| {}).unwrap();
        let s = RadiusSettings { time_limit: Some(std::time::Duration::from_secs(10)), ..RadiusSettings::default() };
        let (mut worst, mut exact, mut regions) = (0.0f64, 0usize, 0usize);
        for i in 0..data.m() {
            let r = exact_radius(&out.net, &data.row(i), data.y()[i], &s).unwrap();
            worst = worst.max(r.seconds);
            exact += r.is_exact() as usize;
            regions = regions.max(r.regions);
        }
        eprintln!(
            "k = {k}: log10 loss {:.1}, {exact}/20 exact, slowest {worst:.3} s, most regions {regions}",
            out.report.log10_loss
        );
    }
}

/// Measurement behind the default QP backend (run by hand): the same searches with the
/// dual active-set method and with Clarabel.
fn sweep_backends() {
    for k in [8usize, 16, 32] {
        let mut rng = relucert::data::Rng::seed_from_u64(k as u64);
        let d = 10;
        let w: Vec<f64> = (0..k * d).map(|_| rng.normal() / (d as f64).sqrt()).collect();
        let b: Vec<f64> = (0..k).map(|_| 0.1 * rng.normal()).collect();
        let v: Vec<f64> = (0..k).map(|_| rng.normal() / (k as f64).sqrt()).collect();
        let net = Net::from_rows(d, &w, Some(&b), &v).unwrap();
        let data = Generator::Sphere.generate(d, 10, 1).unwrap();
        for backend in [QpBackend::DualActiveSet, QpBackend::Clarabel] {
            let s = RadiusSettings { backend, ..RadiusSettings::default() };
            let t = std::time::Instant::now();
            let mut regions = 0;
            for i in 0..data.m() {
                let x = data.row(i);
                let y = net.forward_one(&x).signum();
                regions += exact_radius(&net, &x, y, &s).unwrap().regions;
            }
            eprintln!("k = {k} {backend:?}: {:.4} s for 10 samples, {regions} node QPs", t.elapsed().as_secs_f64());
        }
    }
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "backends".into());
    match which.as_str() {
        "trained" => sweep_trained_nets(),
        "backends" => sweep_backends(),
        other => eprintln!("unknown sweep {other}: use trained or backends"),
    }
}
