//! The ONNX loader on arbitrary bytes: decoding, the graph rewrites, tract's
//! model building and a prediction on the result, and the import to
//! ModelSpec. Any panic that escapes is a finding; panics inside tract are
//! caught by ml-onnx and must come back as errors, so the hook that would
//! abort on them is silenced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ml_core::Model;
use ml_onnx::{OnnxModel, Runtime};

fuzz_target!(|data: &[u8]| {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let _ = ml_onnx::OnnxGraph::parse(data).map(|g| g.to_bytes());
    if let Ok(model) = OnnxModel::from_bytes(data, Runtime::Tract) {
        let width = model.signature().n_inputs().min(64);
        let x = ml_core::ndarray::Array2::from_shape_fn((3, width), |(i, j)| (i * 7 + j) as f64 * 0.25 - 1.0);
        let _ = model.predict(x.view());
        let _ = model.describe();
    }
});
