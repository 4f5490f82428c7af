//! Every trained model describes itself as a ModelSpec that predicts the same,
//! and saves to a file that loads back to identical predictions; damaged files
//! are refused with typed errors.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::ndarray::{Array2, ArrayView2};
use ml_core::{Dataset, Error as CoreError, Frame, LoadOptions, Model, Predictions, UnknownCategory};
use ml_learn::{Pipeline, SavedModel};

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// An algorithm name, its parameters, and data it suits.
type Case = (&'static str, Vec<(String, String)>, Dataset);

/// Every algorithm on data it suits, with and without scaling.
fn cases() -> Vec<Case> {
    let bc = ml_datasets::breast_cancer().unwrap();
    let iris = ml_datasets::iris().unwrap();
    let diabetes = ml_datasets::diabetes().unwrap();
    let german = ml_datasets::german_credit().unwrap();
    vec![
        ("logistic", params(&[]), bc.clone()),
        ("logistic", params(&[("scale", "minmax")]), iris.clone()),
        ("logistic", params(&[]), german.clone()),
        ("linear", params(&[]), diabetes.clone()),
        ("ridge", params(&[("alpha", "3")]), diabetes.clone()),
        ("tree", params(&[("max_depth", "5")]), iris.clone()),
        ("tree", params(&[]), diabetes.clone()),
        (
            "forest",
            params(&[("n_trees", "20"), ("max_depth", "6")]),
            german.clone(),
        ),
        (
            "forest",
            params(&[("n_trees", "10"), ("scale", "standard")]),
            diabetes.clone(),
        ),
        ("kmeans", params(&[("k", "3")]), iris),
    ]
}

fn assert_same(a: &Predictions, b: &Predictions, tol: f64, what: &str) {
    match (a, b) {
        (
            Predictions::Classification {
                labels: la,
                probabilities: Some(pa),
                ..
            },
            Predictions::Classification {
                labels: lb,
                probabilities: Some(pb),
                ..
            },
        ) => {
            let diff = (pa - pb).mapv(f64::abs).fold(0.0, |m: f64, &v| m.max(v));
            assert!(diff <= tol, "{what}: probabilities differ by {diff}");
            // Labels may only differ where two classes tie within the tolerance.
            for (i, (x, y)) in la.iter().zip(lb).enumerate() {
                assert!(
                    x == y || (pa[[i, *x]] - pa[[i, *y]]).abs() <= tol,
                    "{what}: label of row {i}"
                );
            }
        }
        (Predictions::Regression { values: va }, Predictions::Regression { values: vb }) => {
            let diff = (va - vb).mapv(f64::abs).fold(0.0, |m: f64, &v| m.max(v));
            assert!(
                diff <= tol * va.mapv(f64::abs).fold(1.0, |m: f64, &v| m.max(v)),
                "{what}: values differ by {diff}"
            );
        }
        (Predictions::Clustering { clusters: a }, Predictions::Clustering { clusters: b }) => {
            assert_eq!(a, b, "{what}")
        }
        _ => panic!("{what}: prediction kinds differ"),
    }
}

#[test]
fn every_model_equals_its_spec_and_its_saved_copy() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, ps, data)) in cases().into_iter().enumerate() {
        let what = format!("{name} {ps:?}");
        let trainer = Pipeline::from_params(name, &ps, Some(7)).unwrap();
        let model = trainer.fit_pipeline(&data).unwrap();
        let spec = model.describe().unwrap();
        spec.validate().unwrap();
        let x = data.features();
        let own = model.predict(x).unwrap();
        let via_spec = spec.predict(x).unwrap();
        assert_same(&own, &via_spec, 1e-12, &what);

        let saved = SavedModel::from_model(&model, model.trainer(), model.params().to_vec()).unwrap();
        let path = saved.save(&dir.path().join(format!("m{i}"))).unwrap();
        let loaded = SavedModel::load(&path).unwrap();
        assert_eq!(loaded, saved, "{what}: file round trip");
        assert_eq!(
            loaded.predict(x).unwrap(),
            via_spec,
            "{what}: loaded predictions identical"
        );
    }
}

#[test]
fn damaged_model_files_are_typed_errors() {
    let data = ml_datasets::iris().unwrap();
    let model = Pipeline::from_params("tree", &[], None)
        .unwrap()
        .fit_pipeline(&data)
        .unwrap();
    let saved = SavedModel::from_model(&model, "tree", vec![]).unwrap();
    let bytes = saved.to_bytes().unwrap();

    let truncated = SavedModel::from_bytes(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(matches!(truncated, CoreError::Corrupt { .. }), "{truncated}");

    let mut flipped = bytes.clone();
    let at = bytes.len() - 10;
    flipped[at] ^= 0x01;
    assert!(matches!(
        SavedModel::from_bytes(&flipped),
        Err(CoreError::Corrupt { .. })
    ));

    let text = String::from_utf8(bytes.clone()).unwrap();
    let future = text.replacen("MLSDK model 1 ", "MLSDK model 99 ", 1);
    assert!(matches!(
        SavedModel::from_bytes(future.as_bytes()),
        Err(CoreError::UnsupportedVersion { found: 99, .. })
    ));

    assert!(SavedModel::from_bytes(b"").is_err());
    assert!(SavedModel::from_bytes(b"not a model at all\n{}").is_err());
    let missing = SavedModel::load(std::path::Path::new("/nonexistent/model/dir")).unwrap_err();
    assert!(matches!(missing, CoreError::Io { .. }), "{missing}");

    // A well-formed, correctly sealed file whose spec is inconsistent is refused too.
    let mut bad = saved.clone();
    if let ml_core::Estimator::TreeEnsemble { trees, .. } = &mut bad.spec.estimator
        && let Some(split) = trees[0].nodes[0].split.as_mut()
    {
        split.left = 0; // a cycle
    }
    let sealed = bad.to_bytes().unwrap();
    assert!(matches!(
        SavedModel::from_bytes(&sealed),
        Err(CoreError::Corrupt { .. })
    ));
}

#[test]
fn bad_prediction_input_is_rejected() {
    let data = ml_datasets::iris().unwrap();
    let model = Pipeline::from_params("logistic", &[], None)
        .unwrap()
        .fit_pipeline(&data)
        .unwrap();
    let narrow = Array2::<f64>::zeros((2, 3));
    assert!(matches!(model.predict(narrow.view()), Err(CoreError::Shape { .. })));
    let mut nan = Array2::<f64>::zeros((2, 4));
    nan[[1, 2]] = f64::NAN;
    let err = model.predict(nan.view()).unwrap_err();
    assert!(matches!(err, CoreError::MissingValues { count: 1, .. }), "{err}");
    nan[[1, 2]] = f64::INFINITY;
    let err = model.predict(nan.view()).unwrap_err();
    assert!(matches!(err, CoreError::NonFinite { row: 1, .. }), "{err}");
    let empty = Array2::<f64>::zeros((0, 4));
    assert!(model.predict(empty.view()).is_err());
}

#[test]
fn categorical_columns_are_one_hot_encoded_and_unknowns_follow_the_policy() {
    let csv = "size,color,y\n1,red,a\n2,blue,b\n3,red,a\n4,green,b\n5,blue,b\n6,red,a\n";
    let data = Frame::from_csv_reader(csv.as_bytes())
        .unwrap()
        .to_dataset(&LoadOptions::with_target("y"))
        .unwrap();
    for (policy, name) in [(UnknownCategory::Error, "error"), (UnknownCategory::Ignore, "ignore")] {
        let model = Pipeline::from_params("logistic", &params(&[("unknown", name)]), None)
            .unwrap()
            .fit_pipeline(&data)
            .unwrap();
        let spec = model.describe().unwrap();
        assert_eq!(
            spec.transformed_feature_names(),
            ["size", "color=blue", "color=green", "color=red"]
        );
        let new = Frame::from_csv_reader("color,size\npurple,2\nred,1\n".as_bytes()).unwrap();
        let encoded = new.encode(&model.signature().inputs, model.signature().unknown_category);
        match policy {
            UnknownCategory::Error => assert!(matches!(encoded, Err(CoreError::UnseenCategory { .. }))),
            UnknownCategory::Ignore => {
                let x = encoded.unwrap();
                let pred = model.predict(x.view()).unwrap();
                assert_eq!(pred.len(), 2);
                // The ignored row's one-hot block is all zeros.
                let design = spec.transform(x.view()).unwrap();
                assert_eq!(design.row(0).iter().skip(1).filter(|&&v| v != 0.0).count(), 0);
            }
        }
    }
}

#[test]
fn trainers_reject_unsuitable_targets_and_parameters() {
    let iris = ml_datasets::iris().unwrap();
    let diabetes = ml_datasets::diabetes().unwrap();
    assert!(
        Pipeline::from_params("linear", &[], None)
            .unwrap()
            .fit_pipeline(&iris)
            .is_err()
    );
    assert!(
        Pipeline::from_params("logistic", &[], None)
            .unwrap()
            .fit_pipeline(&diabetes)
            .is_err()
    );
    assert!(Pipeline::from_params("nope", &[], None).is_err());
    assert!(Pipeline::from_params("logistic", &params(&[("c", "-1")]), None).is_err());
    assert!(Pipeline::from_params("logistic", &params(&[("alpha", "1")]), None).is_err());
    assert!(Pipeline::from_params("forest", &params(&[("max_features", "2.5")]), None).is_err());
    assert!(Pipeline::from_params("kmeans", &params(&[("k", "0")]), None).is_err());
    let few = iris.select_rows(&[0, 1]).unwrap();
    assert!(
        Pipeline::from_params("kmeans", &params(&[("k", "3")]), None)
            .unwrap()
            .fit_pipeline(&few)
            .is_err()
    );
}

#[test]
fn forests_are_reproducible_per_seed_and_record_covers() {
    let data = ml_datasets::iris().unwrap();
    let fit = |seed| {
        Pipeline::from_params("forest", &params(&[("n_trees", "5")]), Some(seed))
            .unwrap()
            .fit_pipeline(&data)
            .unwrap()
            .spec()
    };
    assert_eq!(fit(3), fit(3));
    assert_ne!(fit(3), fit(4));
    let ml_core::Estimator::TreeEnsemble { trees, .. } = fit(3).estimator else {
        panic!()
    };
    for t in &trees {
        // Bootstrap counts sum to the number of rows at the root; children's covers add up.
        assert_eq!(t.nodes[0].cover, 150.0);
        for n in &t.nodes {
            if let Some(s) = n.split {
                assert_eq!(t.nodes[s.left].cover + t.nodes[s.right].cover, n.cover);
            }
        }
    }
}

#[test]
fn weighted_tree_follows_the_weights() {
    // Two identical inputs with different labels: the heavier label wins the leaf.
    let x = Array2::from_shape_vec((4, 1), vec![0.0, 0.0, 1.0, 1.0]).unwrap();
    let data = Dataset::new(x, vec!["x".into()])
        .unwrap()
        .with_classes(vec![0, 1, 0, 1], vec!["a".into(), "b".into()])
        .unwrap()
        .with_weights(vec![1.0, 3.0, 3.0, 1.0])
        .unwrap();
    let model = Pipeline::from_params("tree", &[], None)
        .unwrap()
        .fit_pipeline(&data)
        .unwrap();
    let probe = Array2::from_shape_vec((2, 1), vec![0.0, 1.0]).unwrap();
    let Predictions::Classification {
        labels, probabilities, ..
    } = model.predict(ArrayView2::from(&probe)).unwrap()
    else {
        panic!()
    };
    assert_eq!(labels.to_vec(), vec![1, 0]);
    assert_eq!(probabilities.unwrap()[[0, 1]], 0.75);
}
