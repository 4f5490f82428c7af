//! Training workloads of the scikit-learn comparison (see BENCHMARKS.md).
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use criterion::{Criterion, criterion_group, criterion_main};
use ml_sdk_benches::{digits_split, forest, kmeans, logistic};

fn training(c: &mut Criterion) {
    let bc = ml_sdk::datasets::breast_cancer().unwrap();
    let digits = ml_sdk::datasets::digits().unwrap();
    let (digits_train, _) = digits_split().unwrap();
    let lr = logistic().unwrap();
    let rf = forest(0).unwrap();
    let km = kmeans(0);
    let mut g = c.benchmark_group("training");
    g.sample_size(10);
    g.bench_function("logistic_breast_cancer", |b| b.iter(|| lr.fit_pipeline(&bc).unwrap()));
    g.bench_function("forest100_depth8_digits", |b| {
        b.iter(|| rf.fit_pipeline(&digits_train).unwrap())
    });
    g.bench_function("kmeans10_ninit10_digits", |b| {
        b.iter(|| km.fit_pipeline(&digits).unwrap())
    });
    g.finish();
}

criterion_group!(benches, training);
criterion_main!(benches);
