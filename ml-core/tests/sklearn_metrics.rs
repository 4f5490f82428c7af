//! Metrics against scikit-learn's values (testdata/sklearn_metrics.json, made by
//! scripts/gen_sklearn.py; `MLSDK_FIXTURES` points at a freshly generated copy).
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::metrics::{self, Average};
use ml_core::ndarray::{Array1, Array2};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let dir =
        std::env::var("MLSDK_FIXTURES").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata").into());
    let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("fixture present");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        "{what}: ours {a}, scikit-learn {b}"
    );
}

#[test]
fn classification_metrics_equal_sklearn() {
    let f = fixture("sklearn_metrics.json");
    for case in f["classification"].as_array().unwrap() {
        let k = case["n_classes"].as_u64().unwrap() as usize;
        let t = usizes(&case["y_true"]);
        let p = usizes(&case["y_pred"]);
        let rows: Vec<Vec<f64>> = case["proba"].as_array().unwrap().iter().map(floats).collect();
        let proba = Array2::from_shape_fn((rows.len(), k), |(i, j)| rows[i][j]);
        close(
            metrics::accuracy(&t, &p).unwrap(),
            case["accuracy"].as_f64().unwrap(),
            "accuracy",
        );
        let cm = metrics::confusion_matrix(&t, &p, k).unwrap();
        let expected: Vec<Vec<usize>> = case["confusion_matrix"]
            .as_array()
            .unwrap()
            .iter()
            .map(usizes)
            .collect();
        for (i, row) in expected.iter().enumerate() {
            assert_eq!(&cm.row(i).to_vec(), row, "confusion matrix row {i}");
        }
        close(
            metrics::log_loss(&t, proba.view()).unwrap(),
            case["log_loss"].as_f64().unwrap(),
            "log_loss",
        );
        for (name, avg) in [
            ("macro", Average::Macro),
            ("micro", Average::Micro),
            ("weighted", Average::Weighted),
        ] {
            let r = metrics::precision_recall_f1(&t, &p, k, avg).unwrap();
            close(
                r.precision,
                case[format!("precision_{name}")].as_f64().unwrap(),
                "precision",
            );
            close(r.recall, case[format!("recall_{name}")].as_f64().unwrap(), "recall");
            close(r.f1, case[format!("f1_{name}")].as_f64().unwrap(), "f1");
        }
        if k == 2 {
            let r = metrics::precision_recall_f1(&t, &p, k, Average::Binary { positive: 1 }).unwrap();
            close(
                r.precision,
                case["precision_binary"].as_f64().unwrap(),
                "precision binary",
            );
            close(r.recall, case["recall_binary"].as_f64().unwrap(), "recall binary");
            close(r.f1, case["f1_binary"].as_f64().unwrap(), "f1 binary");
            let yb: Vec<bool> = t.iter().map(|&l| l == 1).collect();
            let scores = Array1::from(floats(&case["roc_auc_scores"]));
            close(
                metrics::roc_auc(&yb, scores.view()).unwrap(),
                case["roc_auc"].as_f64().unwrap(),
                "roc_auc",
            );
        } else {
            close(
                metrics::roc_auc_ovr(&t, proba.view()).unwrap(),
                case["roc_auc_ovr"].as_f64().unwrap(),
                "roc_auc ovr",
            );
        }
    }
}

#[test]
fn regression_metrics_equal_sklearn() {
    let f = fixture("sklearn_metrics.json");
    let r = &f["regression"];
    let y = Array1::from(floats(&r["y_true"]));
    let p = Array1::from(floats(&r["y_pred"]));
    close(
        metrics::mean_squared_error(y.view(), p.view()).unwrap(),
        r["mse"].as_f64().unwrap(),
        "mse",
    );
    close(
        metrics::mean_absolute_error(y.view(), p.view()).unwrap(),
        r["mae"].as_f64().unwrap(),
        "mae",
    );
    close(
        metrics::r2_score(y.view(), p.view()).unwrap(),
        r["r2"].as_f64().unwrap(),
        "r2",
    );
}
