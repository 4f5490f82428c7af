//! ONNX inference on tract (the workloads of `compare_onnx.py`, on models we
//! train and export ourselves): one-row latency of a standardized logistic
//! regression and a 1000-row batch through a 100-tree forest. The
//! side-by-side with Python onnxruntime is `benches/compare_onnx.py`.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use criterion::{Criterion, criterion_group, criterion_main};
use ml_sdk::core::Model;
use ml_sdk::onnx::{OnnxModel, Runtime};
use ml_sdk_benches::{digits_split, forest, logistic};

fn onnx(c: &mut Criterion) {
    let bc = ml_sdk::datasets::breast_cancer().unwrap();
    let lr = logistic().unwrap().fit_pipeline(&bc).unwrap();
    let lr_onnx = ml_sdk::onnx::export(&lr.describe().unwrap()).unwrap();
    let lr_model = OnnxModel::from_bytes(&lr_onnx, Runtime::Tract).unwrap();
    let one_row = bc.features().slice_move(ml_sdk::ndarray::s![0..1, ..]).to_owned();

    let (train, _) = digits_split().unwrap();
    let rf = forest(0).unwrap().fit_pipeline(&train).unwrap();
    let rf_onnx = ml_sdk::onnx::export(&rf.describe().unwrap()).unwrap();
    let rf_model = OnnxModel::from_bytes(&rf_onnx, Runtime::Tract).unwrap();
    let digits = ml_sdk::datasets::digits().unwrap();
    let batch = digits
        .features()
        .slice_move(ml_sdk::ndarray::s![0..1000, ..])
        .to_owned();

    let mut g = c.benchmark_group("onnx_tract");
    g.bench_function("logistic_1_row", |b| {
        b.iter(|| lr_model.predict(one_row.view()).unwrap())
    });
    g.sample_size(20);
    g.bench_function("forest100_1000_rows", |b| {
        b.iter(|| rf_model.predict(batch.view()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, onnx);
criterion_main!(benches);
