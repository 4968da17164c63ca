//! One full-batch training step (exp loss, with bias, lr 1e-5) at (m, d, k) =
//! (1000, 1000, 1000) and the paper's small size (100, 100, 1000), f64 and f32, for
//! both kernels; plus the raw 1000³ matrix product (faer, 2 threads, and nalgebra) as
//! the machine's peak reference. Peer: benches/peers/train_step.py (PyTorch).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use nalgebra::DMatrix;
use relucert::train::{init_net, Precision, Kernel, Stepper, TrainSettings};
use relucert::Generator;

fn bench_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10);
    for &(m, d, k) in &[(1000usize, 1000usize, 1000usize), (100, 100, 1000)] {
        let data = Generator::Sphere.generate(d, m, 0).expect("data");
        let net = init_net(d, k, true, 0, 1.0).expect("net");
        for &dtype in &[Precision::F64, Precision::F32] {
            for &kernel in &[Kernel::Direct, Kernel::Gram] {
                let settings = TrainSettings { dtype, kernel, ..TrainSettings::default() };
                let mut stepper = Stepper::new(&data, &net, &settings).expect("stepper");
                let id = BenchmarkId::new(format!("{dtype:?}/{kernel:?}").to_lowercase(), format!("m{m}_d{d}_k{k}"));
                group.bench_function(id, |b| b.iter(|| black_box(stepper.step(black_box(1e-5)))));
            }
        }
    }
    group.finish();
}

fn bench_matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_1000");
    group.sample_size(10);
    let n = 1000;
    let a64 = Mat::<f64>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 13) as f64 / 13.0);
    let b64 = a64.transpose().to_owned();
    let mut c64 = Mat::<f64>::zeros(n, n);
    group.bench_function("faer_f64_2threads", |b| {
        b.iter(|| matmul(c64.as_mut(), Accum::Replace, a64.as_ref(), b64.as_ref(), 1.0, Par::rayon(2)))
    });
    let a32 = Mat::<f32>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 13) as f32 / 13.0);
    let b32 = a32.transpose().to_owned();
    let mut c32 = Mat::<f32>::zeros(n, n);
    group.bench_function("faer_f32_2threads", |b| {
        b.iter(|| matmul(c32.as_mut(), Accum::Replace, a32.as_ref(), b32.as_ref(), 1.0, Par::rayon(2)))
    });
    let na = DMatrix::<f64>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 13) as f64 / 13.0);
    let nb = na.transpose();
    group.bench_function("nalgebra_f64", |b| b.iter(|| black_box(&na * &nb)));
    group.finish();
}

criterion_group!(benches, bench_step, bench_matmul);
criterion_main!(benches);
