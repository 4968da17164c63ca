//! Exact radius on random nets (k = 8 … 64, d = 10) and on a small trained net, the
//! brute force over all 2^12 patterns as a baseline, and Figure 1 / Theorem 4.1 on a
//! paper-sized network (k = 1000, d = 100, m = 100).
//!
//! The trained nets come from the crate's trainer (`relucert::train`, exponential loss,
//! trained to loss 1e-30) on sphere data d = 10, m = 20.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use relucert::radius::reference::{brute_force, gaussian_net};
use relucert::radius::{exact_radius, fig1, theorem41, RadiusSettings, Theorem41Settings};
use relucert::{Generator, Net};

/// A net trained with the crate's trainer (exponential loss, fast schedule) to loss
/// 1e-30 (or 20 s) on sphere data.
pub fn trained_net(k: usize, d: usize, m: usize, seed: u64) -> (Net, relucert::Dataset) {
    let data = Generator::Sphere.generate(d, m, seed).unwrap();
    let init = relucert::train::init_net(d, k, true, seed + 1, 1.0).unwrap();
    let settings = relucert::train::TrainSettings { time_limit: Some(20.0), ..Default::default() };
    let out = relucert::train::train(&data, init, &settings, &mut |_| {}).unwrap();
    (out.net, data)
}

fn sample(net: &Net, d: usize, seed: u64) -> (Vec<f64>, f64) {
    let data = Generator::Sphere.generate(d, 1, seed).unwrap();
    let x = data.row(0);
    let y = if net.forward_one(&x) >= 0.0 { 1.0 } else { -1.0 };
    (x, y)
}

fn bench_exact(c: &mut Criterion) {
    let d = 10;
    let mut g = c.benchmark_group("exact_radius_random_d10");
    g.sample_size(10);
    for k in [8usize, 12, 16, 32, 64] {
        let net = gaussian_net(k, d, 100 + k as u64);
        let (x, y) = sample(&net, d, 7);
        let r = exact_radius(&net, &x, y, &RadiusSettings::default()).unwrap();
        eprintln!("k = {k}: radius {:.6} outcome {:?} regions {} closed {}", r.radius, r.outcome, r.regions, r.closed);
        g.bench_with_input(BenchmarkId::from_parameter(k), &k, |bch, _| {
            bch.iter(|| exact_radius(black_box(&net), black_box(&x), y, &RadiusSettings::default()).unwrap())
        });
    }
    g.finish();
    let mut g = c.benchmark_group("brute_force_k12_d10");
    g.sample_size(10);
    let net = gaussian_net(12, d, 112);
    let (x, y) = sample(&net, d, 7);
    eprintln!("brute force k = 12: radius {:.6}", brute_force(&net, &x, y));
    g.bench_function("clarabel_4096_pieces", |bch| bch.iter(|| brute_force(black_box(&net), black_box(&x), y)));
    g.finish();
}

fn bench_trained(c: &mut Criterion) {
    let mut g = c.benchmark_group("exact_radius_trained");
    g.sample_size(10);
    for k in [16usize, 32] {
        let (net, data) = trained_net(k, 10, 20, 5);
        let acc = net.accuracy(&data).unwrap();
        let i = 0;
        let x = data.row(i);
        let y = data.y()[i];
        let r = exact_radius(&net, &x, y, &RadiusSettings::default()).unwrap();
        eprintln!("trained k = {k} (accuracy {acc}): sample 0 radius {:.6} {:?} regions {}", r.radius, r.outcome, r.regions);
        g.bench_with_input(BenchmarkId::new("exp_loss_1e-30_d10_m20", k), &k, |bch, _| {
            bch.iter(|| exact_radius(black_box(&net), black_box(&x), y, &RadiusSettings::default()).unwrap())
        });
    }
    g.finish();
}

fn bench_fig1(c: &mut Criterion) {
    let (k, d, m) = (1000, 100, 100);
    let data = Generator::Sphere.generate(d, m, 3).unwrap();
    let net = gaussian_net(k, d, 4);
    // Make it separate the data: flip output weights' contribution per sample is not
    // possible in general, so use labels = sign(N(x)) for the benchmark.
    let out = net.forward(data.x());
    let y: Vec<f64> = out.iter().map(|o| if *o >= 0.0 { 1.0 } else { -1.0 }).collect();
    let data = relucert::Dataset::new(data.x().clone(), nalgebra::DVector::from_vec(y)).unwrap();
    let mut g = c.benchmark_group("paper_size_k1000_d100_m100");
    g.sample_size(10);
    g.bench_function("fig1_slack_inf", |bch| bch.iter(|| fig1(black_box(&net), black_box(&data), 1e9).unwrap()));
    let s = Theorem41Settings { slack: 1e9, ..Theorem41Settings::default() };
    g.bench_function("theorem41_slack_inf", |bch| bch.iter(|| theorem41(black_box(&net), black_box(&data), &s).unwrap()));
    g.finish();
}

criterion_group!(benches, bench_exact, bench_trained, bench_fig1);
criterion_main!(benches);
