//! ml-neural's checkpoint decoder on arbitrary bytes, twice: as a whole
//! file (the sealed container), and as a payload sealed here, so that
//! mutations reach the JSON header, the architecture's validation and the
//! weight vectors. Whatever decodes becomes a model that predicts and
//! encodes again. Seeds are real checkpoints; their payloads start after
//! the first newline. Any panic is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ml_core::Model;
use ml_neural::checkpoint;

fuzz_target!(|data: &[u8]| {
    let _ = checkpoint::from_bytes(data);
    let payload = data.iter().position(|&b| b == b'\n').map_or(data, |nl| &data[nl + 1..]);
    let sealed = ml_core::io::seal("neural-checkpoint", checkpoint::CHECKPOINT_VERSION, payload);
    let Ok(state) = checkpoint::from_bytes(&sealed) else {
        return;
    };
    let _ = checkpoint::to_bytes(&state);
    let width = state.network.input_width.min(64);
    let Ok(net) = ml_neural::NeuralNetwork::from_state(state, None) else {
        return;
    };
    let x = ml_core::ndarray::Array2::from_shape_fn((2, width), |(i, j)| (i * 3 + j) as f64 * 0.25 - 1.0);
    let _ = net.predict(x.view());
});
