#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
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
    assert_spec_matches_burn(&net, &test);
    assert!(net.history().epochs[19].loss < net.history().epochs[0].loss);
}

/// The spec's f64 inference (no burn) gives the outputs burn computes for
/// the trained network.
fn assert_spec_matches_burn(net: &ml_neural::NeuralNetwork, data: &Dataset) {
    let spec = net.describe().unwrap();
    let ours = spec
        .estimator
        .raw_output(spec.transform(data.features()).unwrap().view());
    let burn = net
        .raw_outputs_on(data.features(), ml_neural::BackendKind::Cpu)
        .unwrap();
    let worst = ours.iter().zip(&burn).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-4, "spec and burn differ by {worst}");
}

fn weights(net: &ml_neural::NeuralNetwork) -> Vec<Vec<f32>> {
    net.network().params.iter().map(|p| p.value.clone()).collect()
}

/// German credit's categorical columns embedded (Keras' `Embedding` per
/// column) instead of one-hot fed: the tables train, the spec computes what
/// burn does, and an unknown category embeds as zeros.
#[test]
fn embeddings_learn_german_credit_categories() {
    let data = ml_datasets::german_credit().unwrap();
    let (train, test) = split(&data, 0);
    let trainer = NetTrainer {
        architecture: Sequential::new().embedding(3).dense(16).relu(),
        epochs: 15,
        seed: 4,
        ..NetTrainer::default()
    };
    let net = trainer.fit_network(&train, &mut |_| {}).unwrap();
    let acc = test_accuracy(&net, &test);
    assert!(acc >= 0.70, "accuracy {acc}");
    assert_spec_matches_burn(&net, &test);
    let ml_neural::LayerConfig::Embedding { dim, blocks } = &net.network().layers[0] else {
        panic!("{:?}", net.network().layers[0])
    };
    let categorical = data
        .columns()
        .iter()
        .filter(|c| matches!(c.kind, ml_core::FeatureKind::Categorical { .. }))
        .count();
    assert_eq!((*dim, blocks.len()), (3, categorical));
    // The tables moved from their ±0.05 start.
    let table = net.network().params_of(0).next().unwrap();
    assert!(net.network().params[table].value.iter().any(|v| v.abs() > 0.05));
    // No categorical columns: a clear error.
    let digits = ml_datasets::digits().unwrap();
    let err = trainer.fit_network(&digits, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("no categorical columns"), "{err}");
    let late = NetTrainer {
        architecture: Sequential::new().dense(8).embedding(2),
        ..trainer
    };
    let err = late.fit_network(&train, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("first layer"), "{err}");
}

#[test]
fn conv1d_learns_digits_as_sequences() {
    let data = ml_datasets::digits().unwrap();
    let (train, test) = split(&data, 0);
    // Each image's 8 rows as 8 channels of 8 steps.
    let trainer = NetTrainer {
        architecture: Sequential::new()
            .sequence(8, 8)
            .conv1d_with(16, 3, 1, 1)
            .relu()
            .max_pool1d(2)
            .flatten()
            .dense(32)
            .relu(),
        epochs: 20,
        seed: 2,
        ..NetTrainer::default()
    };
    let net = trainer.fit_network(&train, &mut |_| {}).unwrap();
    let acc = test_accuracy(&net, &test);
    assert!(acc >= 0.93, "accuracy {acc}");
    assert_spec_matches_burn(&net, &test);
    // The CLI's spelling builds the same layers.
    let params: Vec<(String, String)> = [
        ("sequence", "8x8"),
        ("filters", "16"),
        ("kernel", "3"),
        ("padding", "1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).into(), (*v).into()))
    .collect();
    let from_params = NetTrainer::from_params("cnn", &params, None).unwrap();
    let layers = from_params.architecture.layers();
    assert_eq!(layers[..4], trainer.architecture.layers()[..4]);
}

#[test]
fn cnn_on_8x8_digit_images() {
    let data = ml_datasets::digits().unwrap();
    let (train, test) = split(&data, 0);
    let trainer = NetTrainer {
        architecture: Sequential::new()
            .reshape(1, 8, 8)
            .conv2d(8, 3)
            .relu()
            .max_pool2d(2)
            .flatten()
            .dense(32)
            .relu(),
        epochs: 15,
        seed: 3,
        ..NetTrainer::default()
    };
    let net = trainer.fit_network(&train, &mut |_| {}).unwrap();
    let acc = test_accuracy(&net, &test);
    eprintln!("digits CNN: test accuracy {acc:.4}");
    assert_spec_matches_burn(&net, &test);
    assert!(acc >= 0.93, "accuracy {acc}");
}

#[test]
fn same_seed_same_weights_and_other_seed_other_weights() {
    let data = ml_datasets::breast_cancer().unwrap();
    let trainer = NetTrainer {
        architecture: Sequential::new().dense(16).relu().dropout(0.2).dense(8).tanh(),
        epochs: 3,
        seed: 7,
        ..NetTrainer::default()
    };
    let a = trainer.fit_network(&data, &mut |_| {}).unwrap();
    let b = trainer.fit_network(&data, &mut |_| {}).unwrap();
    assert_eq!(weights(&a), weights(&b));
    let c = NetTrainer { seed: 8, ..trainer }
        .fit_network(&data, &mut |_| {})
        .unwrap();
    assert_ne!(weights(&a), weights(&c));
}

#[test]
fn binary_and_regression_heads_and_every_optimizer() {
    let cancer = ml_datasets::breast_cancer().unwrap();
    let (train, test) = split(&cancer, 1);
    for optimizer in [
        Optimizer::parse("sgd").unwrap(),
        Optimizer::adam(),
        Optimizer::parse("adamw").unwrap(),
    ] {
        let trainer = NetTrainer {
            architecture: Sequential::new().dense(32).relu().layer_norm().dense(16).gelu(),
            epochs: 30,
            optimizer,
            learning_rate: if matches!(optimizer, Optimizer::Sgd { .. }) {
                0.01
            } else {
                1e-3
            },
            weight_decay: 1e-4,
            clip_norm: Some(5.0),
            schedule: Schedule::Cosine { min_lr: 1e-5 },
            seed: 2,
            ..NetTrainer::default()
        };
        let net = trainer.fit_network(&train, &mut |_| {}).unwrap();
        let acc = test_accuracy(&net, &test);
        assert!(acc >= 0.94, "{optimizer:?}: accuracy {acc}");
        assert_eq!(
            net.describe().unwrap().estimator.n_outputs(),
            1,
            "one logit for two classes"
        );
    }
    let diabetes = ml_datasets::diabetes().unwrap();
    let (train, test) = train_test_split(&diabetes, 0.25, 0, false).unwrap();
    let trainer = NetTrainer {
        architecture: Sequential::new().dense(32).relu().batch_norm(),
        epochs: 60,
        learning_rate: 3e-3,
        seed: 0,
        ..NetTrainer::default()
    };
    let net = trainer.fit_network(&train, &mut |_| {}).unwrap();
    let Predictions::Regression { values } = net.predict(test.features()).unwrap() else {
        panic!()
    };
    let r2 = ml_core::metrics::r2_score(test.values().unwrap(), values.view()).unwrap();
    eprintln!("diabetes MLP with batch norm: R² {r2:.3}");
    assert!(r2 > 0.35, "R² {r2}");
}

#[test]
fn early_stopping_stops_and_restores_the_best_epoch() {
    let data = ml_datasets::breast_cancer().unwrap();
    let trainer = NetTrainer {
        architecture: Sequential::new().dense(128).relu().dense(128).relu(),
        epochs: 300,
        learning_rate: 1e-2,
        validation_split: 0.3,
        early_stopping: Some(EarlyStopping {
            patience: 5,
            min_delta: 0.0,
            restore_best: true,
        }),
        seed: 4,
        ..NetTrainer::default()
    };
    let net = trainer.fit_network(&data, &mut |_| {}).unwrap();
    let h = net.history();
    assert!(h.epochs.len() < 300, "ran all {} epochs", h.epochs.len());
    assert!(h.stopped_early.is_some());
    let best = h
        .epochs
        .iter()
        .map(|e| e.val_loss.unwrap())
        .fold(f64::INFINITY, f64::min);
    let (_, epoch) = net.state().best.unwrap();
    assert_eq!(h.epochs[epoch].val_loss.unwrap(), best);
    assert_eq!(h.epochs.len(), epoch + 6);
}

#[test]
fn bad_settings_are_errors() {
    let data = ml_datasets::iris().unwrap();
    let base = NetTrainer::default();
    for (t, word) in [
        (
            NetTrainer {
                epochs: 0,
                ..base.clone()
            },
            "epochs",
        ),
        (
            NetTrainer {
                batch_size: 0,
                ..base.clone()
            },
            "batch_size",
        ),
        (
            NetTrainer {
                learning_rate: f64::NAN,
                ..base.clone()
            },
            "lr",
        ),
        (
            NetTrainer {
                validation_split: 0.95,
                ..base.clone()
            },
            "validation_split",
        ),
        (
            NetTrainer {
                architecture: Sequential::new().conv2d(4, 3),
                ..base.clone()
            },
            "reshape",
        ),
        (
            NetTrainer {
                architecture: Sequential::new().reshape(1, 3, 3),
                ..base.clone()
            },
            "3×3",
        ),
    ] {
        let err = t.fit_network(&data, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains(word), "{err}");
    }
    let unlabeled = ml_core::Dataset::new(data.features().to_owned(), data.feature_names()).unwrap();
    assert!(
        base.fit_network(&unlabeled, &mut |_| {})
            .unwrap_err()
            .to_string()
            .contains("target")
    );
}
