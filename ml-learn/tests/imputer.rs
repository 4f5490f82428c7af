//! SimpleImputer and imputing pipelines against scikit-learn's on
//! breast_cancer with a fifth of its cells blanked (the same cells on both
//! sides; fixtures from scripts/gen_sklearn.py), and the refusal of missing
//! values by models that cannot take them.
#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use common::{fixture, indices};
use ml_core::ndarray::{Array2, Axis};
use ml_core::{Dataset, Model, Predictions, Preprocess, Trainer};
use ml_learn::{ImputeStrategy, Pipeline, SimpleImputer};
use serde_json::Value;

fn cases() -> Value {
    fixture("sklearn_models.json")["simple_imputer"].clone()
}

/// breast_cancer with the fixture's holes, its train and test rows.
fn with_holes(f: &Value) -> (Dataset, Dataset) {
    let data = ml_datasets::breast_cancer().unwrap();
    let x = common::breast_cancer_with_holes(f);
    let (labels, names) = data.classes().unwrap();
    let ds = Dataset::with_missing(x, data.columns().to_vec())
        .unwrap()
        .with_classes(labels.to_vec(), names.to_vec())
        .unwrap();
    let (train, test) = (indices(&f["train"]), indices(&f["test"]));
    (ds.select_rows(&train).unwrap(), ds.select_rows(&test).unwrap())
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn strategy(name: &str) -> ImputeStrategy {
    ImputeStrategy::parse(name, (name == "constant").then_some(-1.0)).unwrap()
}

#[test]
fn statistics_and_indicators_equal_scikit_learns() {
    let f = cases();
    let (train, test) = with_holes(&f);
    for name in ["mean", "median", "most_frequent", "constant"] {
        let imputer = SimpleImputer {
            strategy: strategy(name),
            add_indicator: true,
        };
        let step = imputer.fit(train.features(), train.columns()).unwrap();
        let Preprocess::Impute { values, indicators } = &step else {
            panic!("an imputer step")
        };
        let expected = floats(&f[name]["statistics"]);
        for (j, (a, b)) in values.iter().zip(&expected).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "{name} column {j}: {a} vs {b}"
            );
        }
        let want: Vec<usize> = indices(&f[name]["indicator_features"]);
        assert_eq!(indicators, &want, "{name}");
        let head = test.features().slice_axis(Axis(0), (0..20).into()).to_owned();
        let got = step.apply(head.view()).unwrap();
        for (i, row) in f[name]["transformed_test_head"].as_array().unwrap().iter().enumerate() {
            for (j, b) in floats(row).iter().enumerate() {
                let a = got[[i, j]];
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "{name} [{i}, {j}]: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn imputing_pipelines_score_as_scikit_learns() {
    let f = cases();
    let (train, test) = with_holes(&f);
    let (labels, _) = test.classes().unwrap();
    for name in ["mean", "median", "most_frequent", "constant"] {
        let mut params = vec![
            ("impute".to_string(), name.to_string()),
            ("max_iter".into(), "1000".into()),
        ];
        if name == "constant" {
            params.push(("fill_value".into(), "-1".into()));
        }
        let model = Pipeline::from_params("logistic", &params, None)
            .unwrap()
            .fit(&train)
            .unwrap();
        assert!(model.signature().accepts_missing);
        let Predictions::Classification { labels: ours, .. } = model.predict(test.features()).unwrap() else {
            panic!("classification")
        };
        let accuracy = ours.iter().zip(labels).filter(|(a, b)| a == b).count() as f64 / ours.len() as f64;
        let theirs = f[name]["logistic_accuracy"].as_f64().unwrap();
        let same = ours
            .iter()
            .zip(indices(&f[name]["logistic_predictions"]))
            .filter(|(a, b)| **a == *b)
            .count() as f64
            / ours.len() as f64;
        println!("impute={name}: accuracy {accuracy:.4} (scikit-learn {theirs:.4}), same labels {same:.3}");
        assert!(
            (accuracy - theirs).abs() <= 0.005 + 1e-12,
            "{name}: {accuracy} vs {theirs}"
        );
        assert!(same >= 0.98, "{name}: {same}");
    }
}

#[test]
fn models_that_cannot_take_missing_values_name_the_column_and_suggest_impute() {
    let f = cases();
    let (train, test) = with_holes(&f);
    for model in ["logistic", "tree", "forest", "kmeans", "linear"] {
        let mut data = train.clone();
        if model == "linear" {
            let n = data.n_samples();
            data = Dataset::with_missing(data.features().to_owned(), data.columns().to_vec())
                .unwrap()
                .with_values((0..n).map(|i| i as f64).collect())
                .unwrap();
        }
        let err = Pipeline::from_params(model, &[], None).unwrap().fit(&data).unwrap_err();
        match &err {
            ml_core::Error::MissingValues {
                op,
                column,
                count,
                hint,
            } => {
                assert_eq!(op, model);
                assert_eq!(column, "mean radius");
                assert!(*count > 0);
                assert!(hint.contains("impute="), "{hint}");
            }
            e => panic!("{model}: unexpected {e}"),
        }
    }
    // A model fitted on complete data refuses missing values at prediction, by name.
    let complete = ml_datasets::breast_cancer().unwrap();
    let model = Pipeline::from_params("logistic", &[], None)
        .unwrap()
        .fit(&complete)
        .unwrap();
    assert!(!model.signature().accepts_missing);
    let err = model.predict(test.features()).unwrap_err();
    assert!(matches!(err, ml_core::Error::MissingValues { .. }), "{err}");
    // Gradient boosting takes them as they are.
    let hgb = Pipeline::from_params("hgb", &[("max_iter".into(), "10".into())], None)
        .unwrap()
        .fit(&train)
        .unwrap();
    assert!(hgb.signature().accepts_missing);
    assert_eq!(hgb.predict(test.features()).unwrap().len(), test.n_samples());
}

#[test]
fn imputer_parameters_are_checked() {
    let p = |pairs: &[(&str, &str)]| {
        let v: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Pipeline::from_params("logistic", &v, None)
    };
    assert!(
        p(&[("impute", "mode")])
            .unwrap_err()
            .to_string()
            .contains("most_frequent")
    );
    assert!(p(&[("fill_value", "1")]).unwrap_err().to_string().contains("impute="));
    assert!(p(&[("impute", "constant"), ("fill_value", "nan")]).is_err());
    let ok = p(&[("impute", "median"), ("add_indicator", "true")]).unwrap();
    assert_eq!(
        ok.impute,
        Some(SimpleImputer {
            strategy: ImputeStrategy::Median,
            add_indicator: true
        })
    );
    let params = ok.param_list();
    assert!(params.contains(&("impute".into(), "median".into())), "{params:?}");
    // The imputer survives the spec: its step comes first.
    let data = ml_datasets::breast_cancer().unwrap();
    let spec = ok.fit_pipeline(&data).unwrap().spec();
    assert_eq!(spec.preprocessing[0].name(), "impute");
    assert!(spec.signature.accepts_missing);
    // A column with nothing to impute from is named.
    let x = Array2::from_shape_vec((2, 2), vec![1.0, f64::NAN, 2.0, f64::NAN]).unwrap();
    let cols = [
        ml_core::InputColumn::numeric("a"),
        ml_core::InputColumn::numeric("empty"),
    ];
    let err = SimpleImputer::new(ImputeStrategy::Mean)
        .fit(x.view(), &cols)
        .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}
