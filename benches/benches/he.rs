//! Encrypted inference: one breast_cancer sample encrypted, scored (the
//! server's whole work: masks regenerated from the seed, 30 clear
//! multiply-adds of 2049-word ciphertexts) and decrypted, and a batch of 64
//! scored. The side-by-side with TenSEAL (and Concrete ML where it installs)
//! is `benches/compare_he.py`.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use criterion::{Criterion, criterion_group, criterion_main};
use ml_sdk::core::Model;
use ml_sdk::core::ndarray::s;
use ml_sdk::he::{Calibration, ClientKey, HeModel, QuantConfig, ServerContext};
use ml_sdk_benches::logistic;

fn he(c: &mut Criterion) {
    let data = ml_sdk::datasets::breast_cancer().unwrap();
    let spec = logistic().unwrap().fit_pipeline(&data).unwrap().describe().unwrap();
    let model = HeModel::compile(&spec, Calibration::Data(data.features()), QuantConfig::default()).unwrap();
    let key = ClientKey::generate();
    let server = ServerContext::new(model.clone()).unwrap();
    let one = data.features().slice(s![..1, ..]).to_owned();
    let batch = data.features().slice(s![..64, ..]).to_owned();
    let request = key.encrypt(&model, one.view()).unwrap();
    let batch_request = key.encrypt(&model, batch.view()).unwrap();
    let scores = server.score(&request).unwrap();
    let mut g = c.benchmark_group("he");
    g.bench_function("encrypt_1_sample_30_features", |b| {
        b.iter(|| key.encrypt(&model, one.view()).unwrap())
    });
    g.bench_function("score_1_sample", |b| b.iter(|| server.score(&request).unwrap()));
    g.bench_function("score_64_samples", |b| b.iter(|| server.score(&batch_request).unwrap()));
    g.bench_function("decrypt_1_sample", |b| {
        b.iter(|| key.decrypt_predictions(&model, &scores).unwrap())
    });
    g.finish();
}

criterion_group!(benches, he);
criterion_main!(benches);
