//! The model-file decoder on arbitrary bytes, twice: as a whole file (the
//! sealed header, length and checksum), and as a payload sealed here, so
//! that mutations reach the JSON decoding, the spec's validation and a
//! prediction from whatever decodes. Seeds are real model files; their
//! payloads start after the first newline. Any panic is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ml_core::{Model, SavedModel};

fuzz_target!(|data: &[u8]| {
    let _ = SavedModel::from_bytes(data);
    let payload = data.iter().position(|&b| b == b'\n').map_or(data, |nl| &data[nl + 1..]);
    let sealed = ml_core::io::seal("model", ml_core::FORMAT_VERSION, payload);
    let Ok(saved) = SavedModel::from_bytes(&sealed) else {
        return;
    };
    let width = saved.spec.signature.inputs.len().min(64);
    let x = ml_core::ndarray::Array2::from_shape_fn((3, width), |(i, j)| (i * 5 + j) as f64 * 0.5 - 1.0);
    let _ = saved.spec.predict(x.view());
    let _ = saved.to_bytes();
});
