#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
//! Small CNNs exported by PyTorch (`scripts/gen_torch_onnx.py`, torch's
//! version recorded in `testdata/onnx/torch_cnn*.json`): tract runs them,
//! and they import as `NeuralNet` specs that predict PyTorch's
//! probabilities.

use ml_core::ndarray::Array2;
use ml_core::{Estimator, Layer, Model, Predictions};
use ml_onnx::{OnnxModel, Runtime};
use serde_json::Value;

fn fixture(name: &str) -> (std::path::PathBuf, Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/onnx");
    let doc = serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    (dir.join(format!("{name}.onnx")), doc)
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    Array2::from_shape_vec((rows.len(), rows[0].len()), rows.concat()).unwrap()
}

fn assert_close(p: &Predictions, want: &Array2<f64>, what: &str) {
    let Predictions::Classification {
        probabilities: Some(got),
        ..
    } = p
    else {
        panic!("{what}: {p:?}")
    };
    let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-5, "{what}: differs from PyTorch by {worst}");
}

#[test]
fn a_pytorch_cnn_runs_and_imports_as_a_network_spec() {
    let (path, doc) = fixture("torch_cnn");
    let x = matrix(&doc["input"]);
    let want = matrix(&doc["probabilities"]);
    let model = OnnxModel::load_with(&path, Runtime::Tract).unwrap();
    assert_close(&model.predict(x.view()).unwrap(), &want, "tract");
    let spec = model.describe().unwrap();
    let Estimator::NeuralNet { layers, .. } = &spec.estimator else {
        panic!("{:?}", spec.estimator)
    };
    let names: Vec<&str> = layers.iter().map(Layer::name).collect();
    assert_eq!(
        names,
        [
            "reshape",
            "conv2d",
            "activation",
            "max_pool2d",
            "conv2d",
            "activation",
            "avg_pool2d",
            "flatten",
            "dense",
            "activation",
            "dense"
        ]
    );
    assert_close(&spec.predict(x.view()).unwrap(), &want, "imported spec");
    // Exported again by ml-onnx, it imports back to the same spec.
    let again = ml_onnx::export(&spec).unwrap();
    let reloaded = OnnxModel::from_bytes(&again, Runtime::Tract).unwrap();
    assert_eq!(reloaded.describe().unwrap(), spec);

    // Transfer learning from the imported network: its weights become a
    // trainable network (first convolution frozen) fine-tuned on digits.
    let trainer = ml_neural::NetTrainer {
        epochs: 8,
        learning_rate: 3e-3,
        seed: 0,
        ..Default::default()
    };
    let start = ml_neural::NeuralNetwork::from_spec(&spec, trainer.clone()).unwrap();
    assert_close(&start.predict(x.view()).unwrap(), &want, "trainable copy");
    let digits = ml_datasets::digits().unwrap();
    let (labels, _) = digits.classes().unwrap();
    let data = ml_core::Dataset::with_columns(digits.features().mapv(|v| v / 16.0), spec.signature.inputs.clone())
        .unwrap()
        .with_classes(labels.to_vec(), (0..10).map(|c| c.to_string()).collect())
        .unwrap();
    let mut network = start.network().clone();
    network.freeze_below(2, true);
    let frozen = network.params_of(1).next().unwrap();
    let tuned = trainer.fine_tune(start.state(), network, &data, &mut |_| {}).unwrap();
    assert_eq!(
        tuned.network().params[frozen].value,
        start.network().params[frozen].value,
        "frozen weights moved"
    );
    let accuracy = |m: &dyn Model| {
        let Predictions::Classification { labels: got, .. } = m.predict(data.features()).unwrap() else {
            panic!()
        };
        got.iter().zip(&labels).filter(|(a, b)| a == b).count() as f64 / labels.len() as f64
    };
    // The exported network is untrained (random weights): training it here
    // takes it from chance to most digits right.
    let (before, after) = (accuracy(&start), accuracy(&tuned));
    assert!(
        before < 0.3 && after > 0.7,
        "accuracy {before} before fine-tuning, {after} after"
    );
}

/// `Conv1d`, `MaxPool1d` and `AvgPool1d` on `N × C × L` tensors import as
/// their 2-D forms on images of height 1, the way `Sequential::sequence`
/// and `conv1d` build them, and train from there.
#[test]
fn a_pytorch_1d_cnn_imports_as_height_one_convolutions() {
    let (path, doc) = fixture("torch_cnn1d");
    let x = matrix(&doc["input"]);
    let want = matrix(&doc["probabilities"]);
    let model = OnnxModel::load_with(&path, Runtime::Tract).unwrap();
    assert_close(&model.predict(x.view()).unwrap(), &want, "tract");
    let spec = model.describe().unwrap();
    let Estimator::NeuralNet { layers, .. } = &spec.estimator else {
        panic!("{:?}", spec.estimator)
    };
    assert_eq!(
        layers[0],
        Layer::Reshape {
            channels: 8,
            height: 1,
            width: 8
        }
    );
    let Layer::Conv2d { weights, padding, .. } = &layers[1] else {
        panic!("{:?}", layers[1])
    };
    assert_eq!((weights.dim(), *padding), ((6, 8, 1, 3), [0, 1]));
    assert_close(&spec.predict(x.view()).unwrap(), &want, "imported spec");
    let again = ml_onnx::export(&spec).unwrap();
    let reloaded = OnnxModel::from_bytes(&again, Runtime::Tract).unwrap();
    assert_close(&reloaded.predict(x.view()).unwrap(), &want, "re-exported");
    let trainable = ml_neural::NeuralNetwork::from_spec(&spec, ml_neural::NetTrainer::default()).unwrap();
    assert_close(&trainable.predict(x.view()).unwrap(), &want, "trainable copy");
}
