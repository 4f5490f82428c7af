//! The model-file decoder on arbitrary bytes: the sealed header, the
//! payload, the spec's validation, and a prediction from whatever decodes.
//! Any panic is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ml_core::{Model, SavedModel};

fuzz_target!(|data: &[u8]| {
    let Ok(saved) = SavedModel::from_bytes(data) else {
        return;
    };
    let width = saved.spec.signature.inputs.len().min(64);
    let x = ml_core::ndarray::Array2::from_shape_fn((3, width), |(i, j)| (i * 5 + j) as f64 * 0.5 - 1.0);
    let _ = saved.spec.predict(x.view());
    let _ = saved.to_bytes();
});
