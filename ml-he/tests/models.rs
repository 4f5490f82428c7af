//! Linear models trained by ml-learn, scored under encryption: the decrypted
//! accumulators equal the quantized model computed in clear on every row, and
//! accuracy stays within a point of the float model.
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use ml_core::ndarray::s;
use ml_core::{Dataset, Model, ModelSpec, Predictions, train_test_split};
use ml_he::{Calibration, ClientKey, HeModel, QuantConfig, ServerContext};
use ml_learn::Pipeline;

fn labels(p: &Predictions) -> Vec<usize> {
    match p {
        Predictions::Classification { labels, .. } => labels.to_vec(),
        _ => panic!("not a classification"),
    }
}

fn fit(algorithm: &str, data: &Dataset) -> ModelSpec {
    Pipeline::from_params(algorithm, &[], Some(3))
        .unwrap()
        .fit_pipeline(data)
        .unwrap()
        .describe()
        .unwrap()
}

/// Encrypt, score and decrypt `test` in chunks; check exactness on every row
/// and return (float accuracy, encrypted accuracy, agreement).
fn check_classifier(name: &str, algorithm: &str, data: &Dataset, config: QuantConfig) -> (f64, f64, f64) {
    let (train, test) = train_test_split(data, 0.25, 7, true).unwrap();
    let spec = fit(algorithm, &train);
    let model = HeModel::compile(&spec, Calibration::Data(train.features()), config).unwrap();
    let key = ClientKey::generate();
    let server = ServerContext::new(model.clone()).unwrap();
    let x = test.features();
    let mut he_labels = Vec::new();
    for start in (0..x.nrows()).step_by(128) {
        let chunk = x.slice(s![start..(start + 128).min(x.nrows()), ..]);
        let scores = server.score(&key.encrypt(&model, chunk).unwrap()).unwrap();
        let acc = key.decrypt(&model, &scores).unwrap();
        let clear = model.accumulate_clear(model.quantize(chunk).unwrap().view());
        assert_eq!(
            acc, clear,
            "{name}: decrypted accumulators differ from the clear quantized model"
        );
        he_labels.extend(labels(&model.predictions(acc.view()).unwrap()));
    }
    let truth = match test.target().unwrap() {
        ml_core::Target::Classes { labels, .. } => labels.to_vec(),
        _ => unreachable!(),
    };
    let float = labels(&spec.predict(x).unwrap());
    let n = truth.len() as f64;
    let acc = |p: &[usize]| p.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / n;
    let agree = float.iter().zip(&he_labels).filter(|(a, b)| a == b).count() as f64 / n;
    eprintln!(
        "{name}: float {:.4}, encrypted {:.4}, agreement {:.4}, {} features × {}-bit, weights {}-bit, accumulator {} bits, Δ/2 = {:.1}σ",
        acc(&float),
        acc(&he_labels),
        agree,
        model.n_features(),
        config.feature_bits,
        config.weight_bits,
        model.budget.plaintext_bits,
        model.budget.margin_sigmas
    );
    (acc(&float), acc(&he_labels), agree)
}

#[test]
fn breast_cancer_logistic_is_exact_and_keeps_accuracy() {
    let data = ml_datasets::breast_cancer().unwrap();
    let (float, he, _) = check_classifier("breast_cancer", "logistic", &data, QuantConfig::default());
    assert!(he >= float - 0.01, "encrypted {he} vs float {float}");
}

#[test]
fn german_credit_one_hot_logistic_is_exact_and_keeps_accuracy() {
    let data = ml_datasets::german_credit().unwrap();
    let (float, he, _) = check_classifier("german_credit", "logistic", &data, QuantConfig::default());
    assert!(he >= float - 0.01, "encrypted {he} vs float {float}");
}

#[test]
fn digits_softmax_is_exact_and_keeps_accuracy() {
    let data = ml_datasets::digits().unwrap();
    let (float, he, _) = check_classifier("digits", "logistic", &data, QuantConfig::default());
    assert!(he >= float - 0.01, "encrypted {he} vs float {float}");
}

#[test]
fn diabetes_regression_is_exact_and_close() {
    let data = ml_datasets::diabetes().unwrap();
    let spec = fit("linear", &data);
    let model = HeModel::compile(&spec, Calibration::Data(data.features()), QuantConfig::default()).unwrap();
    let key = ClientKey::generate();
    let server = ServerContext::new(model.clone()).unwrap();
    let x = data.features();
    let acc = key
        .decrypt(&model, &server.score(&key.encrypt(&model, x).unwrap()).unwrap())
        .unwrap();
    assert_eq!(acc, model.accumulate_clear(model.quantize(x).unwrap().view()));
    let (Predictions::Regression { values: he }, Predictions::Regression { values: float }) =
        (model.predictions(acc.view()).unwrap(), spec.predict(x).unwrap())
    else {
        panic!("not a regression")
    };
    // 8-bit quantization: predictions within 5% of their spread.
    let spread = float.std(0.0);
    let worst = he.iter().zip(&float).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 0.05 * spread, "worst difference {worst}, spread {spread}");
}

#[test]
fn data_free_calibration_works_for_scaled_models_and_refuses_raw_columns() {
    let data = ml_datasets::breast_cancer().unwrap();
    let spec = fit("logistic", &data);
    let model = HeModel::compile(&spec, Calibration::default(), QuantConfig::default()).unwrap();
    let float = labels(&spec.predict(data.features()).unwrap());
    let quantized = labels(&model.predict_clear(data.features()).unwrap());
    let agree = float.iter().zip(&quantized).filter(|(a, b)| a == b).count() as f64 / float.len() as f64;
    assert!(agree > 0.97, "agreement {agree}");
    // No scaling step: the ranges must come from data.
    let raw = Pipeline::from_params("logistic", &[("scale".into(), "none".into())], Some(3))
        .unwrap()
        .fit_pipeline(&data)
        .unwrap()
        .describe()
        .unwrap();
    let err = HeModel::compile(&raw, Calibration::default(), QuantConfig::default()).unwrap_err();
    assert!(err.to_string().contains("calibrated from data"), "{err}");
    // Trees are not linear.
    let tree = fit("tree", &data);
    assert!(HeModel::compile(&tree, Calibration::default(), QuantConfig::default()).is_err());
}
