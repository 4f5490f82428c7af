//! Every kind of model we train (EBMs from ml-interpret included), exported and run by the real onnx checker and
//! onnxruntime on the bundled data sets, compared with our own predictions.
//!
//! Needs the Python reference tools: `scripts/test.sh` runs this with
//! `MLSDK_PYTHON=.venv/bin/python -- --include-ignored`.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use std::process::Command;

use ml_core::{Dataset, Model, Predictions};
use ml_learn::Pipeline;
use serde_json::json;

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// File name, algorithm, parameters, data.
type Case<'a> = (&'a str, &'a str, Vec<(String, String)>, &'a Dataset);

fn write_case(dir: &std::path::Path, store: &ml_track::MlflowStore, name: &str, model: &dyn Model, data: &Dataset) {
    let predictions = model.predict(data.features()).unwrap();
    write_rows(
        dir,
        store,
        name,
        &model.describe().unwrap(),
        data.features(),
        predictions,
    );
}

/// [`write_case`] on a matrix (which may hold NaN: JSON null, read back as
/// NaN) with our predictions for it.
fn write_rows(
    dir: &std::path::Path,
    store: &ml_track::MlflowStore,
    name: &str,
    spec: &ml_core::ModelSpec,
    x: ml_core::ndarray::ArrayView2<'_, f64>,
    predictions: Predictions,
) {
    let bytes = ml_onnx::export(spec).unwrap();
    std::fs::write(dir.join(format!("{name}.onnx")), &bytes).unwrap();
    // The same model logged with MLflow's onnx flavor, for mlflow.pyfunc.
    let run = ml_core::Tracker::start_run(store, "onnx flavor", Some(name)).unwrap();
    ml_track::log_onnx_model(store, &run, "model", &bytes, &spec.signature).unwrap();
    let rows: Vec<Vec<f64>> = x.outer_iter().map(|r| r.to_vec()).collect();
    let mut expected = json!({"input": rows, "mlflow_run": run.0});
    match predictions {
        Predictions::Classification {
            labels,
            probabilities: Some(p),
            ..
        } => {
            expected["probabilities"] = json!(p.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>());
            expected["labels"] = json!(labels.to_vec());
        }
        // Decision values (linear SVMs): the labels and the margins.
        Predictions::Classification { labels, .. } => {
            let margins = spec.estimator.raw_output(spec.transform(x).unwrap().view());
            expected["margins"] = json!(margins.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>());
            expected["labels"] = json!(labels.to_vec());
        }
        Predictions::Regression { values } => expected["values"] = json!(values.to_vec()),
        Predictions::Clustering { clusters } => expected["clusters"] = json!(clusters.to_vec()),
        other => panic!("no reference check for {other:?}"),
    }
    std::fs::write(dir.join(format!("{name}.json")), serde_json::to_vec(&expected).unwrap()).unwrap();
}

#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn exports_pass_the_checker_and_match_onnxruntime() {
    let python = std::env::var("MLSDK_PYTHON").expect("set MLSDK_PYTHON to the .venv python (scripts/test.sh does)");
    // MLSDK_ONNX_OUT keeps the exported models for inspection.
    let tmp = tempfile::tempdir().unwrap();
    let dir_path = std::env::var("MLSDK_ONNX_OUT").map_or_else(|_| tmp.path().to_path_buf(), std::path::PathBuf::from);
    std::fs::create_dir_all(&dir_path).unwrap();
    let store = ml_track::MlflowStore::open(dir_path.join("mlruns")).unwrap();
    let bc = ml_datasets::breast_cancer().unwrap();
    let iris = ml_datasets::iris().unwrap();
    let digits = ml_datasets::digits().unwrap();
    let diabetes = ml_datasets::diabetes().unwrap();
    let german = ml_datasets::german_credit().unwrap();
    // A column selector in front of polynomial features: the model's
    // inputs are the four selected columns.
    let bc4_names = bc.feature_names()[..4].join(",");
    let bc4 = bc.select_columns(&bc.feature_names()[..4]).unwrap();
    let cases: Vec<Case<'_>> = vec![
        ("logistic_breast_cancer", "logistic", params(&[]), &bc),
        ("softmax_iris_minmax", "logistic", params(&[("scale", "minmax")]), &iris),
        ("logistic_german_onehot", "logistic", params(&[]), &german),
        ("linear_diabetes", "linear", params(&[]), &diabetes),
        ("ridge_diabetes", "ridge", params(&[("alpha", "2")]), &diabetes),
        ("tree_iris", "tree", params(&[]), &iris),
        (
            "tree_regression_diabetes",
            "tree",
            params(&[("max_depth", "6")]),
            &diabetes,
        ),
        (
            "forest_digits",
            "forest",
            params(&[("n_trees", "100"), ("max_depth", "8")]),
            &digits,
        ),
        ("forest_german_onehot", "forest", params(&[("n_trees", "50")]), &german),
        (
            "forest_regression_diabetes",
            "forest",
            params(&[("n_trees", "30"), ("scale", "standard")]),
            &diabetes,
        ),
        ("kmeans_iris", "kmeans", params(&[("k", "3")]), &iris),
        ("hgb_breast_cancer", "hgb", params(&[]), &bc),
        ("hgb_softmax_digits", "hgb", params(&[("max_iter", "20")]), &digits),
        ("hgb_regression_diabetes", "hgb", params(&[]), &diabetes),
        (
            "hgb_german_onehot",
            "hgb",
            params(&[("max_leaf_nodes", "8"), ("categorical_features", "onehot")]),
            &german,
        ),
        // Native categorical splits: ai.onnx.ml's TreeEnsemble (opset 5)
        // with BRANCH_MEMBER nodes.
        ("hgb_german_native", "hgb", params(&[]), &german),
        ("gaussian_nb_digits", "naive_bayes", params(&[]), &digits),
        ("gaussian_nb_german_onehot", "naive_bayes", params(&[]), &german),
        (
            "multinomial_nb_digits",
            "naive_bayes",
            params(&[("distribution", "multinomial")]),
            &digits,
        ),
        ("linear_svm_breast_cancer", "linear_svm", params(&[]), &bc),
        ("pca_logistic_digits", "logistic", params(&[("pca", "12")]), &digits),
        (
            "polynomial_selected_logistic_breast_cancer",
            "logistic",
            params(&[("polynomial", "2"), ("columns", &bc4_names)]),
            &bc4,
        ),
        (
            "linear_svm_hinge_digits",
            "linear_svm",
            params(&[("loss", "hinge")]),
            &digits,
        ),
        // Calibrated classifiers: sigmoid and isotonic calibrators on the
        // base's decision values (linear, boosted trees, linear SVM) or
        // probabilities (naive Bayes, forests), for two classes and more,
        // one model or the averaged ensemble of one per fold, each member
        // with its own scaler.
        (
            "calibrated_sigmoid_logistic_breast_cancer",
            "logistic",
            params(&[("calibration", "sigmoid")]),
            &bc,
        ),
        (
            "calibrated_isotonic_logistic_breast_cancer",
            "logistic",
            params(&[("calibration", "isotonic")]),
            &bc,
        ),
        (
            "calibrated_sigmoid_hgb_digits",
            "hgb",
            params(&[("max_iter", "10"), ("calibration", "sigmoid")]),
            &digits,
        ),
        (
            "calibrated_sigmoid_linear_svm_breast_cancer",
            "linear_svm",
            params(&[("calibration", "sigmoid")]),
            &bc,
        ),
        (
            "calibrated_sigmoid_gaussian_nb_digits",
            "naive_bayes",
            params(&[("calibration", "sigmoid")]),
            &digits,
        ),
        (
            "calibrated_isotonic_forest_iris",
            "forest",
            params(&[("n_trees", "20"), ("calibration", "isotonic")]),
            &iris,
        ),
        (
            "calibrated_ensemble_sigmoid_logistic_breast_cancer",
            "logistic",
            params(&[("calibration", "sigmoid"), ("calibration_ensemble", "true")]),
            &bc,
        ),
        // (Isotonic calibrators of naive Bayes' near-0-or-1 probabilities
        // are too steep for the 1e-5 comparison: onnxruntime's exp and
        // sums differ from ours in the last bits, and the slopes magnify
        // that; the margins of linear models reach them exactly.)
        (
            "calibrated_ensemble_isotonic_softmax_iris",
            "logistic",
            params(&[("calibration", "isotonic"), ("calibration_ensemble", "true")]),
            &iris,
        ),
    ];
    for (name, algorithm, ps, data) in cases {
        let model = Pipeline::from_params(algorithm, &ps, Some(3))
            .unwrap()
            .fit_pipeline(data)
            .unwrap();
        write_case(&dir_path, &store, name, &model, data);
    }
    // Data with holes (numeric and categorical): gradient boosting's learned
    // missing-value directions travel as nodes_missing_value_tracks_true;
    // imputers (with and without indicator columns) as IsNaN/Where. NaN
    // inputs reach onnxruntime as NaN.
    let holes = |data: &Dataset| {
        let mut x = data.features().to_owned();
        for (i, mut row) in x.outer_iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                if (i * 7 + j * 3) % 5 == 0 {
                    *v = f64::NAN;
                }
            }
        }
        let mut ds = Dataset::with_missing(x, data.columns().to_vec()).unwrap();
        if let Some(ml_core::Target::Classes { labels, names }) = data.target() {
            ds = ds.with_classes(labels.to_vec(), names.clone()).unwrap();
        }
        if let Some(ml_core::Target::Values { values }) = data.target() {
            ds = ds.with_values(values.to_vec()).unwrap();
        }
        ds
    };
    let (bc_holes, german_holes, diabetes_holes) = (holes(&bc), holes(&german), holes(&diabetes));
    let missing_cases: Vec<Case<'_>> = vec![
        ("hgb_missing_breast_cancer", "hgb", params(&[]), &bc_holes),
        (
            "hgb_missing_german",
            "hgb",
            params(&[("max_leaf_nodes", "8")]),
            &german_holes,
        ),
        (
            "impute_mean_indicator_logistic_breast_cancer",
            "logistic",
            params(&[("impute", "mean"), ("add_indicator", "true")]),
            &bc_holes,
        ),
        (
            "impute_median_forest_german",
            "forest",
            params(&[("impute", "median"), ("n_trees", "20")]),
            &german_holes,
        ),
        (
            "impute_constant_ridge_diabetes",
            "ridge",
            params(&[("impute", "constant"), ("fill_value", "-1"), ("add_indicator", "true")]),
            &diabetes_holes,
        ),
    ];
    for (name, algorithm, ps, data) in missing_cases {
        let model = Pipeline::from_params(algorithm, &ps, Some(3))
            .unwrap()
            .fit_pipeline(data)
            .unwrap();
        assert!(model.signature().accepts_missing, "{name}");
        write_case(&dir_path, &store, name, &model, data);
    }
    // Explainable boosting machines: a sum of one tree per feature, with the
    // logistic link for two classes and softmax for more.
    let ebm = ml_interpret::Ebm {
        outer_bags: 2,
        ..Default::default()
    };
    for (name, data) in [
        ("ebm_breast_cancer", &bc),
        ("ebm_softmax_iris", &iris),
        ("ebm_regression_diabetes", &diabetes),
    ] {
        let model = ebm.fit_ebm(data).unwrap();
        write_case(&dir_path, &store, name, &model, data);
    }
    // Interaction terms: two-feature trees, with a value per class.
    let with_pairs = ml_interpret::Ebm {
        interactions: 2,
        ..ebm.clone()
    };
    write_case(
        &dir_path,
        &store,
        "ebm_softmax_pairs_iris",
        &with_pairs.fit_ebm(&iris).unwrap(),
        &iris,
    );
    // Neural networks (ml-neural): dense and convolutional layers, every
    // activation, layer normalization, batch normalization folded into an
    // affine step, both poolings in 2-D and 1-D, softmax, logistic and
    // identity heads.
    let nets: Vec<(&str, ml_neural::Sequential, &Dataset)> = vec![
        (
            "mlp_gelu_layernorm_digits",
            ml_neural::Sequential::new()
                .dense(32)
                .gelu()
                .layer_norm()
                .dropout(0.1)
                .dense(16)
                .relu(),
            &digits,
        ),
        (
            "cnn_batchnorm_digits",
            ml_neural::Sequential::new()
                .reshape(1, 8, 8)
                .add(ml_neural::LayerConfig::Conv2d {
                    filters: 6,
                    kernel: [3, 3],
                    stride: [1, 1],
                    padding: [1, 1],
                })
                .batch_norm()
                .relu()
                .max_pool2d(2)
                .conv2d(8, 2)
                .tanh()
                .avg_pool2d(1)
                .flatten()
                .dense(16)
                .sigmoid(),
            &digits,
        ),
        (
            "cnn1d_digits",
            ml_neural::Sequential::new()
                .sequence(8, 8)
                .conv1d_with(6, 3, 1, 1)
                .relu()
                .max_pool1d(2)
                .conv1d(4, 2)
                .avg_pool1d(3)
                .flatten(),
            &digits,
        ),
        (
            "mlp_binary_breast_cancer",
            ml_neural::Sequential::new().dense(16).tanh(),
            &bc,
        ),
        (
            "mlp_regression_diabetes",
            ml_neural::Sequential::new().dense(16).relu().softmax(),
            &diabetes,
        ),
        (
            "mlp_german_embedding",
            ml_neural::Sequential::new().embedding(2).dense(8).relu(),
            &german,
        ),
        (
            "mlp_german_onehot",
            ml_neural::Sequential::new().dense(8).relu(),
            &german,
        ),
    ];
    for (name, architecture, data) in nets {
        let trainer = ml_neural::NetTrainer {
            architecture,
            epochs: 3,
            seed: 1,
            ..Default::default()
        };
        let model = trainer.fit_network(data, &mut |_| {}).unwrap();
        write_case(&dir_path, &store, name, &model, data);
    }
    // Reinforcement-learning policies as models, on the states they visit.
    for (name, env) in [
        ("ppo_policy_cartpole", "CartPole-v1"),
        ("ppo_policy_pendulum", "Pendulum-v1"),
    ] {
        let (saved, _) = ml_rl::train_agent(env, "ppo", 2048, 0, &mut |_| {}).unwrap();
        let states = ml_rl::model::visited_dataset(&saved, env, 2, 0).unwrap();
        write_case(&dir_path, &store, name, &saved.to_saved_model().unwrap(), &states);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/check_onnx.py");
    let out = Command::new(python)
        .args([script, dir_path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    println!("{text}");
}
