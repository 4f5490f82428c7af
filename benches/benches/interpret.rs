//! Explanations and fairness on models trained here: path-dependent and
//! interventional TreeSHAP of a 100-tree digits forest, KernelSHAP of a
//! breast_cancer logistic regression, and a MetricFrame over 1,000,000 rows.
//! The side-by-side with shap and Fairlearn is `benches/compare_interpret.py`.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use criterion::{Criterion, criterion_group, criterion_main};
use ml_sdk::core::ndarray::s;
use ml_sdk::core::{Dataset, Explainer, Trainer};
use ml_sdk::interpret::{GroupMetric, KernelShap, MetricFrame, TreeShap};
use ml_sdk_benches::{digits_split, forest, logistic};

fn interpret(c: &mut Criterion) {
    let (train, test) = digits_split().unwrap();
    let model = forest(0).unwrap().fit(&train).unwrap();
    let rows = test.select_rows(&(0..200).collect::<Vec<_>>()).unwrap();
    let bg = train.features().slice(s![..100, ..]).to_owned();
    let bc = ml_sdk::datasets::breast_cancer().unwrap();
    let lr = logistic().unwrap().fit(&bc).unwrap();
    let bc_rows = Dataset::new(bc.features().slice(s![..20, ..]).to_owned(), bc.feature_names()).unwrap();
    let kernel = KernelShap {
        n_samples: Some(2048),
        ..KernelShap::new(bc.features().slice(s![..;11, ..]).to_owned())
    };
    let n = 1_000_000;
    let y: Vec<usize> = (0..n).map(|i| (i * 7 % 11) % 2).collect();
    let p: Vec<usize> = (0..n).map(|i| (i * 5 % 13) % 2).collect();
    let g: Vec<String> = (0..n).map(|i| ["a", "b", "c", "d"][i * 3 % 4].to_string()).collect();
    let metrics = [
        GroupMetric::Accuracy,
        GroupMetric::SelectionRate,
        GroupMetric::TruePositiveRate,
        GroupMetric::FalsePositiveRate,
    ];

    let mut group = c.benchmark_group("interpret");
    group.sample_size(10);
    group.bench_function("tree_shap_path_200rows_forest100_digits", |b| {
        b.iter(|| TreeShap::path_dependent().explain(model.as_ref(), &rows).unwrap())
    });
    let few = test.select_rows(&(0..20).collect::<Vec<_>>()).unwrap();
    group.bench_function("tree_shap_interventional_20rows_bg100_forest100_digits", |b| {
        b.iter(|| {
            TreeShap::interventional(bg.clone())
                .explain(model.as_ref(), &few)
                .unwrap()
        })
    });
    group.bench_function("kernel_shap_20rows_2048_breast_cancer", |b| {
        b.iter(|| kernel.explain(lr.as_ref(), &bc_rows).unwrap())
    });
    group.bench_function("metric_frame_1m_rows_4_groups", |b| {
        b.iter(|| MetricFrame::new(&metrics, &y, &p, &[("g", &g)], 1).unwrap())
    });
    group.finish();
}

criterion_group!(benches, interpret);
criterion_main!(benches);
