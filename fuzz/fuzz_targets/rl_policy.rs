//! ml-rl's policy-file decoder on arbitrary bytes, twice: as a whole file
//! (the sealed container), and as a payload sealed here, so that mutations
//! reach the JSON document, the networks' validation, the observation
//! statistics and the training state. Whatever decodes acts on an
//! observation, becomes a model that predicts, and encodes again. Seeds
//! are real policy files; their payloads start after the first newline.
//! Any panic is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ml_core::Model;
use ml_rl::ppo::{POLICY_VERSION, SavedPolicy};

fuzz_target!(|data: &[u8]| {
    let _ = SavedPolicy::from_bytes(data);
    let payload = data.iter().position(|&b| b == b'\n').map_or(data, |nl| &data[nl + 1..]);
    let sealed = ml_core::io::seal("rl-policy", POLICY_VERSION, payload);
    let Ok(saved) = SavedPolicy::from_bytes(&sealed) else {
        return;
    };
    let _ = saved.to_bytes();
    let width = saved.policy.actor.input_width.min(64);
    let obs: Vec<f32> = (0..width).map(|j| j as f32 * 0.25 - 1.0).collect();
    let _ = saved.policy.act(&obs, true, &mut ml_rl::NumpyRng::new(1));
    let _ = saved.policy.act(&obs, false, &mut ml_rl::NumpyRng::new(2));
    if let Ok(model) = saved.to_saved_model() {
        let x = ml_core::ndarray::Array2::from_shape_fn((2, width), |(i, j)| (i * 3 + j) as f64 * 0.25 - 1.0);
        let _ = model.predict(x.view());
    }
});
