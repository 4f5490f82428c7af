#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
//! Checkpoints: a reloaded network predicts identically, a resumed run ends
//! where an uninterrupted one does, and damaged files are refused.

use ml_core::Model;
use ml_neural::{NetTrainer, Sequential, checkpoint};

fn trainer(epochs: usize) -> NetTrainer {
    NetTrainer {
        architecture: Sequential::new().dense(32).relu().dropout(0.1).dense(16).relu(),
        epochs,
        seed: 11,
        ..NetTrainer::default()
    }
}

#[test]
fn reload_predicts_identically_and_resume_matches_an_uninterrupted_run() {
    let data = ml_datasets::iris().unwrap();
    let full = trainer(6).fit_network(&data, &mut |_| {}).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let half = trainer(3).fit_network(&data, &mut |_| {}).unwrap();
    let path = checkpoint::save(half.state(), dir.path()).unwrap();
    let reloaded = checkpoint::load_model(&path).unwrap();
    assert_eq!(
        reloaded.predict(data.features()).unwrap(),
        half.predict(data.features()).unwrap()
    );
    assert_eq!(reloaded.state(), half.state());

    let mut state = checkpoint::load(dir.path()).unwrap();
    state.trainer.epochs = 6;
    state.finished = false;
    let resumed = NetTrainer::resume(state, &data, &mut |_| {}).unwrap();
    assert_eq!(resumed.history().epochs.len(), 6);
    assert_eq!(resumed.network(), full.network(), "weights after resuming");
    assert_eq!(resumed.state().optimizer, full.state().optimizer);
    assert_eq!(
        resumed.predict(data.features()).unwrap(),
        full.predict(data.features()).unwrap()
    );
}

#[test]
fn damaged_truncated_foreign_and_future_files_are_refused() {
    let data = ml_datasets::iris().unwrap();
    let net = trainer(1).fit_network(&data, &mut |_| {}).unwrap();
    let bytes = checkpoint::to_bytes(net.state()).unwrap();
    assert_eq!(checkpoint::from_bytes(&bytes).unwrap(), *net.state());
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        let err = checkpoint::from_bytes(&bytes[..cut]).unwrap_err().to_string();
        assert!(err.contains("checkpoint"), "{cut}: {err}");
    }
    let mut flipped = bytes.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x40;
    assert!(
        checkpoint::from_bytes(&flipped)
            .unwrap_err()
            .to_string()
            .contains("checksum")
    );
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let header =
        String::from_utf8(bytes[..nl].to_vec())
            .unwrap()
            .replacen("neural-checkpoint 1 ", "neural-checkpoint 99 ", 1);
    let future = [header.as_bytes(), &bytes[nl..]].concat();
    let err = checkpoint::from_bytes(&future).unwrap_err().to_string();
    assert!(err.contains("99"), "{err}");
    let model = ml_core::SavedModel::from_model(&net, "mlp", vec![])
        .unwrap()
        .to_bytes()
        .unwrap();
    assert!(
        checkpoint::from_bytes(&model)
            .unwrap_err()
            .to_string()
            .contains("expected a 'neural-checkpoint'")
    );
    // A header whose architecture disagrees with the stored weights.
    let mut state = net.state().clone();
    state.network.params[0].value.pop();
    let err = checkpoint::from_bytes(&checkpoint::to_bytes(&state).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("wrong length"), "{err}");
}
