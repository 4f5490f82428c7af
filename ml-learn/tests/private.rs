//! The private logistic regression as a pipeline algorithm: the same release
//! as ml-privacy's trainer, behind one-hot encoding, saved and reloaded.

use ml_core::{Estimator, Model, Preprocess};
use ml_learn::{Pipeline, SavedModel};
use ml_privacy::DpLogisticRegression;

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn pipeline_release_is_the_private_trainers_release() {
    let data = ml_datasets::load("breast_cancer").unwrap();
    // Bounds from the data stand in for public bounds here (the test checks
    // plumbing, not the guarantee).
    let bounds: Vec<(f64, f64)> = data
        .features()
        .columns()
        .into_iter()
        .map(|c| {
            (
                c.fold(f64::INFINITY, |a, &b| a.min(b)),
                c.fold(f64::NEG_INFINITY, |a, &b| a.max(b)),
            )
        })
        .collect();
    let mut p = params(&[
        ("epsilon", "2"),
        ("delta", "1e-6"),
        ("lambda", "0.01"),
        ("insecure_seed", "11"),
    ]);
    for (name, (lo, hi)) in data.feature_names().iter().zip(&bounds) {
        p.push((format!("bounds.{name}"), format!("{lo}:{hi}")));
    }
    let pipeline = Pipeline::from_params("dp_logistic", &p, None).unwrap();
    let model = pipeline.fit_pipeline(&data).unwrap();
    let direct = DpLogisticRegression {
        lambda: 0.01,
        feature_bounds: bounds,
        epsilon: 2.0,
        delta: 1e-6,
        row_scale: None,
        insecure_seed: Some(11),
    }
    .fit_private(&data)
    .unwrap();
    let (a, b) = (model.describe().unwrap(), direct.describe().unwrap());
    assert_eq!(a.preprocessing, b.preprocessing);
    assert_eq!(a.estimator, b.estimator);
    let (eps, delta) = model.privacy_spent().unwrap();
    assert!(eps <= 2.0 && delta == 1e-6, "spent ({eps}, {delta})");
    assert_eq!(direct.loss().to_approximate(None).unwrap(), (eps, delta));

    let dir = tempfile::tempdir().unwrap();
    SavedModel::from_model(&model, pipeline.algorithm.name(), pipeline.param_list())
        .unwrap()
        .save(dir.path())
        .unwrap();
    let loaded = SavedModel::load(dir.path()).unwrap();
    assert_eq!(
        loaded.predict(data.features()).unwrap(),
        model.predict(data.features()).unwrap()
    );
}

#[test]
fn categorical_columns_are_one_hot_encoded_with_unit_bounds() {
    let data = ml_datasets::load("german_credit").unwrap();
    let p = params(&[
        ("epsilon", "1"),
        ("bounds", "0:100"),
        ("bounds.credit_amount", "0:20000"),
        ("insecure_seed", "3"),
    ]);
    let model = Pipeline::from_params("dp_logistic", &p, None)
        .unwrap()
        .fit_pipeline(&data)
        .unwrap();
    let spec = model.describe().unwrap();
    let width = spec.transformed_feature_names().len();
    let [Preprocess::OneHot { .. }, Preprocess::StandardScale { mean, scale }] = &spec.preprocessing[..] else {
        panic!("one-hot then public scaling expected: {:?}", spec.preprocessing)
    };
    assert_eq!((mean.len(), scale.len()), (width, width));
    let Estimator::Linear { coefficients, .. } = &spec.estimator else {
        panic!("linear estimator expected")
    };
    assert_eq!(coefficients.ncols(), width);
    // An indicator column is centred at 0.5 and scaled by its half-range
    // times the row scale: the [0, 1] bound, not one seen in the data.
    let r = ((width + 1) as f64).sqrt();
    let indicator = spec
        .transformed_feature_names()
        .iter()
        .position(|n| n.starts_with("housing"))
        .unwrap();
    assert_eq!(mean[indicator], 0.5);
    assert!((scale[indicator] - 0.5 * r).abs() < 1e-12);
    assert_eq!(model.predict(data.features()).unwrap().len(), 1000);
}

#[test]
fn private_pipelines_refuse_what_would_leak_or_cannot_work() {
    let data = ml_datasets::load("iris").unwrap();
    let err = |p: &[(&str, &str)]| {
        Pipeline::from_params("dp_logistic", &params(p), None)
            .and_then(|pl| pl.fit_pipeline(&data).map(|_| ()))
            .unwrap_err()
            .to_string()
    };
    assert!(err(&[("bounds", "0:10")]).contains("binary"));
    assert!(err(&[]).contains("no public bounds"));
    assert!(err(&[("bounds", "0:10"), ("scale", "standard")]).contains("not be private"));
    assert!(err(&[("bounds", "0:10"), ("bounds.nope", "0:1")]).contains("nope"));
    assert!(err(&[("bounds", "1:0")]).contains("LO <= HI"));
    assert!(err(&[("bounds", "0:10"), ("delta", "1")]).contains("delta"));
}
