//! Training networks on the bundled data sets: quality, reproducibility,
//! early stopping, regression, convolutional nets, transfer learning.

use ml_core::metrics::accuracy;
use ml_core::{Dataset, Model, Predictions, train_test_split};
use ml_neural::{EarlyStopping, NetTrainer, Optimizer, Schedule, Sequential};

fn split(data: &Dataset, seed: u64) -> (Dataset, Dataset) {
    train_test_split(data, 0.25, seed, true).expect("split")
}

fn labels(p: &Predictions) -> Vec<usize> {
    match p {
        Predictions::Classification { labels, .. } => labels.to_vec(),
        _ => panic!("not a classification"),
    }
}

fn test_accuracy(model: &dyn Model, test: &Dataset) -> f64 {
    let p = model.predict(test.features()).expect("predict");
    let (y, _) = test.classes().expect("classes");
    accuracy(y.as_slice().expect("contiguous"), &labels(&p)).expect("accuracy")
}

#[test]
fn mlp_learns_digits_and_its_spec_predicts_like_the_network() {
    let data = ml_datasets::digits().unwrap();
    let (train, test) = split(&data, 0);
    let trainer = NetTrainer {
        architecture: Sequential::new().dense(64).relu().dense(64).relu(),
        epochs: 20,
        seed: 1,
        ..NetTrainer::default()
    };
    let mut seconds = Vec::new();
    let net = trainer.fit_network(&train, &mut |e| seconds.push(e.seconds)).unwrap();
    let acc = test_accuracy(&net, &test);
    eprintln!(
        "digits MLP 64-64: test accuracy {acc:.4}, {:.2} ms an epoch",
        1e3 * seconds.iter().sum::<f64>() / seconds.len() as f64
    );
    assert!(acc >= 0.95, "accuracy {acc}");
    assert_eq!(net.history().epochs.len(), 20);
    assert!(net.history().epochs[19].loss < net.history().epochs[0].loss);
}
