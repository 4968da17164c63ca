//! Criterion benchmarks of the KKT certificate: the L2 certificate (Gram NNLS) at
//! m = k = d = 1000 and at the scipy-comparison size, and the L∞ LP at a small size.
//! Support = all samples, no τ-profile (one solve per iteration).

#[path = "kkt_support/instance.rs"]
mod instance;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use relucert::kkt::{self, KktSettings, L2Solver, Norm, Support};

fn settings(norm: Norm) -> KktSettings {
    KktSettings { norm, support: Support::All, tau_ladder: vec![], ..KktSettings::default() }
}

fn bench_l2(c: &mut Criterion) {
    let mut g = c.benchmark_group("kkt_l2");
    g.sample_size(10);
    for (m, k, d) in [(100usize, 200usize, 100usize), (1000, 1000, 1000)] {
        let (net, data) = instance::instance(m, k, d, 2022);
        let id = format!("m{m}_k{k}_d{d}");
        g.bench_with_input(BenchmarkId::new("active_set", &id), &(), |b, _| {
            b.iter(|| kkt::certify(black_box(&net), black_box(&data), &settings(Norm::L2)).expect("certify"))
        });
        if m <= 100 {
            let s = KktSettings { l2_solver: L2Solver::Clarabel, ..settings(Norm::L2) };
            g.bench_with_input(BenchmarkId::new("clarabel", &id), &(), |b, _| {
                b.iter(|| kkt::certify(black_box(&net), black_box(&data), &s).expect("certify"))
            });
        }
    }
    g.finish();
}

fn bench_lp(c: &mut Criterion) {
    let mut g = c.benchmark_group("kkt_lp");
    g.sample_size(10);
    let (m, k, d) = (20usize, 20usize, 10usize);
    let (net, data) = instance::instance(m, k, d, 2022);
    let id = format!("m{m}_k{k}_d{d}");
    for norm in [Norm::Linf, Norm::L1] {
        g.bench_with_input(BenchmarkId::new(norm.name(), &id), &(), |b, _| {
            b.iter(|| kkt::certify(black_box(&net), black_box(&data), &settings(norm)).expect("certify"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_l2, bench_lp);
criterion_main!(benches);
