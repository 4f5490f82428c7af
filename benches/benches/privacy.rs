//! Differential privacy: the workloads of `benches/compare_privacy.py` at a
//! smaller size (clamped sum with Laplace noise, the two exact samplers, the
//! RDP accountant). The side-by-side with OpenDP and dp-accounting is
//! `benches/compare_privacy.py`.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use criterion::{Criterion, criterion_group, criterion_main};
use ml_sdk::privacy::aggregates::{self, Bounds, Neighbouring, NoiseSpec};
use ml_sdk::privacy::{DpRng, Gaussian, Laplace, RdpAccountant};

fn privacy(c: &mut Criterion) {
    let mut rng = DpRng::secure().unwrap();
    let data: Vec<f64> = (0..100_000).map(|i| (i % 1200) as f64 / 100.0 - 1.0).collect();
    let bounds = Bounds::new(0.0, 10.0).unwrap();
    let lap = Laplace::integer(1, 1.0 / 3.0).unwrap();
    let gauss = Gaussian::integer(1, 1.0 / 18.0).unwrap();
    let mut g = c.benchmark_group("privacy");
    g.bench_function("clamped_sum_laplace_100k", |b| {
        b.iter(|| {
            aggregates::sum(
                &mut rng,
                &data,
                bounds,
                NoiseSpec::Laplace { epsilon: 1.0 },
                Neighbouring::AddRemove,
            )
            .unwrap()
        })
    });
    g.bench_function("discrete_laplace_10k", |b| {
        b.iter(|| lap.sample_noise(&mut rng, 10_000))
    });
    g.bench_function("discrete_gaussian_10k", |b| {
        b.iter(|| gauss.sample_noise(&mut rng, 10_000))
    });
    g.bench_function("rdp_epsilon_1000_steps", |b| {
        b.iter(|| {
            let mut acc = RdpAccountant::new();
            acc.compose_poisson_subsampled_gaussian(1.1, 0.01, 1000).unwrap();
            acc.epsilon(1e-5).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, privacy);
criterion_main!(benches);
