//! Permutation-based feature selection against scikit-learn's
//! `permutation_importance` on the same cross-validation folds (fixtures
//! from scripts/gen_sklearn.py): linear regression on diabetes, scaled
//! logistic regression on iris. The shuffles are random on each
//! side, so importances are compared within a tolerance of their spread;
//! the columns chosen and the refitted model's test predictions exactly.
#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use common::{fixture, indices};
use ml_core::{Model, Predictions, Trainer};
use ml_learn::{PermutationSelection, Pipeline, select_features};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn params(ps: &[(&str, &str)]) -> Vec<(String, String)> {
    ps.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn check(case: &str, data: &str, model: &str) {
    let f = fixture("sklearn_models.json")["permutation_selection"][case].clone();
    let d = ml_datasets::load(data).unwrap();
    let train = d.select_rows(&indices(&f["train"])).unwrap();
    let test = d.select_rows(&indices(&f["test"])).unwrap();
    let k = f["k"].as_u64().unwrap() as usize;
    let repeats = f["n_repeats"].as_u64().unwrap() as usize;
    let pipeline = Pipeline::from_params(model, &[], None).unwrap();
    let selection = PermutationSelection {
        n_repeats: repeats,
        ..PermutationSelection::new(k)
    };
    let report = select_features(&pipeline, &train, selection).unwrap();

    // Importances: each within four standard errors of scikit-learn's (the
    // two sides' shuffles differ), or 0.01 where the spread is tiny.
    let (want, spread) = (floats(&f["importances_mean"]), floats(&f["importances_std"]));
    let draws = (repeats * 5) as f64;
    for (j, name) in report.columns.iter().enumerate() {
        let tolerance = (4.0 * spread[j].max(report.std[j]) / draws.sqrt()).max(0.01);
        let diff = (report.mean[j] - want[j]).abs();
        assert!(
            diff <= tolerance,
            "{case} {name}: importance {} vs scikit-learn's {} (tolerance {tolerance:.4})",
            report.mean[j],
            want[j]
        );
    }
    let names = d.feature_names();
    let theirs: Vec<String> = indices(&f["selected"]).iter().map(|&j| names[j].clone()).collect();
    assert_eq!(report.selected, theirs, "{case}: chosen columns");
    println!("{case}: kept {:?}", report.selected);

    // The pipeline parameter does the same and refits on those columns:
    // the model asks for them alone and predicts what scikit-learn's does.
    let ps = params(&[
        ("select_features", &k.to_string()),
        ("select_repeats", &repeats.to_string()),
    ]);
    let fitted = Pipeline::from_params(model, &ps, None).unwrap().fit(&train).unwrap();
    let inputs: Vec<String> = fitted.signature().inputs.iter().map(|c| c.name.clone()).collect();
    assert_eq!(inputs, theirs);
    let test = test.aligned_to(&fitted.signature().inputs).unwrap();
    let pred = fitted.predict(test.features()).unwrap();
    let want = floats(&f["predictions"]);
    match pred {
        Predictions::Regression { values } => {
            let worst = values.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(worst <= 1e-6, "{case}: predictions differ by {worst}");
        }
        Predictions::Classification { labels, .. } => {
            let same = labels.iter().zip(&want).filter(|(a, b)| **a as f64 == **b).count();
            assert_eq!(same, want.len(), "{case}: labels");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn selection_equals_scikit_learns_on_diabetes() {
    check("linear_diabetes", "diabetes", "linear");
}

#[test]
fn selection_equals_scikit_learns_on_iris() {
    check("logistic_iris", "iris", "logistic");
}

#[test]
fn bad_settings_are_named() {
    let iris = ml_datasets::iris().unwrap();
    let fit = |model: &str, ps: &[(&str, &str)]| {
        Pipeline::from_params(model, &params(ps), None).and_then(|p| p.fit_pipeline(&iris))
    };
    let e = fit("logistic", &[("select_features", "9")]).unwrap_err().to_string();
    assert!(e.contains("9 columns to keep, 4 to choose from"), "{e}");
    let e = fit("logistic", &[("select_features", "0")]).unwrap_err().to_string();
    assert!(e.contains("select_features"), "{e}");
    let e = fit("logistic", &[("select_repeats", "3")]).unwrap_err().to_string();
    assert!(e.contains("give select_features=K too"), "{e}");
    let e = fit("kmeans", &[("select_features", "2")]).unwrap_err().to_string();
    assert!(e.contains("k-means has none"), "{e}");
    // Among a column selector's columns only.
    let model = fit(
        "logistic",
        &[
            ("columns", "petal length (cm),sepal width (cm),petal width (cm)"),
            ("select_features", "2"),
        ],
    )
    .unwrap();
    assert_eq!(model.signature().inputs.len(), 2);
    assert!(model.signature().inputs.iter().all(|c| c.name != "sepal length (cm)"));
    assert!(model.params().iter().any(|(k, v)| k == "select_features" && v == "2"));
}
