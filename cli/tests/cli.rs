//! Black-box tests of the `mlsdk` binary: JSON shapes, files written, and a
//! one-line error with a non-zero exit on bad input.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{command, mlsdk, ok_json, succeeded};

fn fails(args: &[&str], needle: &str) {
    let out = mlsdk(args);
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error expected, got: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: error '{err}' should mention '{needle}'"
    );
}

/// The first file named `name` under `dir`, depth first.
fn find_file(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if let Some(found) = find_file(&p, name) {
                return Some(found);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

fn export(dir: &Path, name: &str) -> String {
    let path = dir.join(format!("{name}.csv"));
    ok_json(&["--json", "datasets", "export", name, "--out", path.to_str().unwrap()]);
    path.to_str().unwrap().to_string()
}

#[test]
fn train_evaluate_predict_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "breast_cancer");
    let model = dir.path().join("lr");
    let m = model.to_str().unwrap();
    let trained = ok_json(&[
        "--json", "train", "--data", &data, "--target", "target", "--model", "logistic", "--cv", "5", "--out", m,
    ]);
    assert!(trained["metrics"]["accuracy"].as_f64().unwrap() > 0.95);
    assert_eq!(trained["cv"]["scores"].as_array().unwrap().len(), 5);
    assert!(model.join("model.mlsdk").exists());

    let eval = ok_json(&[
        "--json", "evaluate", "--model", m, "--data", &data, "--target", "target",
    ]);
    for key in ["accuracy", "f1", "log_loss", "roc_auc"] {
        assert!(eval["metrics"][key].is_f64(), "evaluate lacks {key}: {eval}");
    }
    assert_eq!(eval["metrics"]["accuracy"], trained["metrics"]["accuracy"]);

    let preds = dir.path().join("p.csv");
    ok_json(&[
        "--json",
        "predict",
        "--model",
        m,
        "--data",
        &data,
        "--out",
        preds.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&preds).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "prediction,proba_benign,proba_malignant");
    assert_eq!(lines.count(), 569);
}

#[test]
fn regression_and_clustering_models() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "diabetes");
    for model in ["linear", "ridge", "tree", "forest", "hgb"] {
        let out = dir.path().join(model);
        let o = out.to_str().unwrap();
        let mut args = vec![
            "--json", "train", "--data", &data, "--target", "target", "--model", model, "--out", o,
        ];
        if matches!(model, "tree" | "forest") {
            args.extend(["--param", "max_depth=4"]);
        }
        let t = ok_json(&args);
        assert_eq!(t["task"]["kind"], "regression", "{model}");
        let e = ok_json(&[
            "--json", "evaluate", "--model", o, "--data", &data, "--target", "target",
        ]);
        for key in ["r2", "mse", "mae"] {
            assert!(e["metrics"][key].is_f64(), "{model} lacks {key}");
        }
    }
    let iris = export(dir.path(), "iris");
    let km = dir.path().join("km");
    let t = ok_json(&[
        "--json",
        "train",
        "--data",
        &iris,
        "--model",
        "kmeans",
        "--param",
        "k=3",
        "--drop",
        "target",
        "--seed",
        "1",
        "--out",
        km.to_str().unwrap(),
    ]);
    assert!(t["metrics"]["inertia"].as_f64().unwrap() > 0.0);
    let out = mlsdk(&["predict", "--model", km.to_str().unwrap(), "--data", &iris]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 151);
}

#[test]
fn gradient_boosting_trains_under_sklearn_names_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "digits");
    let out = dir.path().join("hgb");
    let o = out.to_str().unwrap();
    let t = ok_json(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "target",
        "--model",
        "hgb",
        "--param",
        "max_iter=15",
        "--param",
        "learning_rate=0.2",
        "--param",
        "max_leaf_nodes=15",
        "--param",
        "l2_regularization=1",
        "--param",
        "early_stopping=false",
        "--out",
        o,
    ]);
    assert!(t["metrics"]["accuracy"].as_f64().unwrap() > 0.95, "{t}");
    let onnx = dir.path().join("hgb.onnx");
    ok_json(&["--json", "export-onnx", "--model", o, "--out", onnx.to_str().unwrap()]);
    assert!(std::fs::metadata(&onnx).unwrap().len() > 10_000);
    for (param, name) in [("max_bins=300", "max_bins"), ("early_stopping=maybe", "early_stopping")] {
        let args = [
            "train", "--data", &data, "--target", "target", "--model", "hgb", "--param", param, "--out", o,
        ];
        fails(&args, name);
    }
}

#[test]
fn everyday_estimators_train_evaluate_and_export_or_refuse_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "iris");
    for (model, params, exports) in [
        ("knn", vec!["n_neighbors=7", "weights=distance"], false),
        ("naive_bayes", vec!["distribution=gaussian"], true),
        ("naive_bayes", vec!["distribution=multinomial", "alpha=0.5"], true),
        ("linear_svm", vec!["c=0.5", "loss=hinge"], true),
    ] {
        let out = dir.path().join(model);
        let o = out.to_str().unwrap();
        let mut args = vec![
            "--json", "train", "--data", &data, "--target", "target", "--model", model, "--out", o,
        ];
        for p in &params {
            args.extend(["--param", p]);
        }
        let t = ok_json(&args);
        assert!(t["metrics"]["accuracy"].as_f64().unwrap() > 0.9, "{model}: {t}");
        let e = ok_json(&[
            "--json", "evaluate", "--model", o, "--data", &data, "--target", "target",
        ]);
        assert_eq!(e["metrics"]["accuracy"], t["metrics"]["accuracy"], "{model}");
        let onnx = dir.path().join(format!("{model}.onnx"));
        let args = ["export-onnx", "--model", o, "--out", onnx.to_str().unwrap()];
        if exports {
            ok_json(&[&["--json"], &args[..]].concat());
        } else {
            fails(&args, "k-nearest neighbours");
        }
    }
}

#[test]
fn a_column_selector_and_polynomial_features_train_predict_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "iris");
    let m = dir.path().join("m");
    let m = m.to_str().unwrap();
    let t = ok_json(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "target",
        "--model",
        "logistic",
        "--param",
        "columns=petal length (cm),petal width (cm)",
        "--param",
        "polynomial=3",
        "--out",
        m,
    ]);
    assert!(t["metrics"]["accuracy"].as_f64().unwrap() > 0.9, "{t}");
    assert_eq!(
        t["features"],
        serde_json::json!(["petal length (cm)", "petal width (cm)"]),
        "{t}"
    );
    // The model takes the two selected columns; the file's others are
    // ignored at prediction.
    let preds = dir.path().join("p.csv");
    ok_json(&[
        "--json",
        "predict",
        "--model",
        m,
        "--data",
        &data,
        "--out",
        preds.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&preds).unwrap().lines().count(), 151);
    let onnx = dir.path().join("m.onnx");
    ok_json(&["--json", "export-onnx", "--model", m, "--out", onnx.to_str().unwrap()]);
    fails(
        &[
            "train",
            "--data",
            &data,
            "--target",
            "target",
            "--model",
            "logistic",
            "--param",
            "columns=petal,sepal",
            "--out",
            m,
        ],
        "unknown column 'petal'",
    );
}

#[test]
fn calibrated_classifiers_train_evaluate_predict_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "breast_cancer");
    let m = dir.path().join("m");
    let m = m.to_str().unwrap();
    let t = ok_json(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "target",
        "--model",
        "forest",
        "--param",
        "n_trees=20",
        "--param",
        "calibration=isotonic",
        "--param",
        "calibration_cv=3",
        "--out",
        m,
    ]);
    assert!(t["metrics"]["accuracy"].as_f64().unwrap() > 0.9, "{t}");
    let e = ok_json(&[
        "--json", "evaluate", "--model", m, "--data", &data, "--target", "target",
    ]);
    assert_eq!(e["metrics"]["log_loss"], t["metrics"]["log_loss"]);
    // Exported to ONNX and predicted from the export (on tract), it gives
    // the model's labels, but where the two classes tie (tract sums the
    // forest's votes in single precision, so 0.5 may come out a hair off).
    let onnx = dir.path().join("m.onnx");
    ok_json(&["--json", "export-onnx", "--model", m, "--out", onnx.to_str().unwrap()]);
    let rows = |model: &str, name: &str| -> Vec<(String, f64, f64)> {
        let out = dir.path().join(name);
        ok_json(&[
            "--json",
            "predict",
            "--model",
            model,
            "--data",
            &data,
            "--out",
            out.to_str().unwrap(),
        ]);
        let text = std::fs::read_to_string(out).unwrap();
        text.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].to_string(), f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect()
    };
    let (native, exported) = (rows(m, "native.csv"), rows(onnx.to_str().unwrap(), "onnx.csv"));
    assert_eq!(native.len(), 569);
    for (i, ((label, p0, p1), (onnx_label, q0, q1))) in native.iter().zip(&exported).enumerate() {
        assert!((p0 - q0).abs() < 1e-5 && (p1 - q1).abs() < 1e-5, "row {i}");
        assert!(
            label == onnx_label || (p0 - p1).abs() < 1e-5,
            "row {i}: {label} vs {onnx_label}"
        );
    }
}

/// scikit-learn's GridSearchCV results (scripts/gen_sklearn.py).
fn grid_fixture(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/sklearn_models.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all["grid_search"][name].clone()
}

#[test]
fn tune_searches_like_grid_search_cv_and_logs_child_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mlruns");
    let uri = format!("file://{}", store.display());
    for (fixture, data, target, model, key) in [
        ("logistic_breast_cancer", "breast_cancer", "target", "logistic", "c"),
        ("ridge_diabetes", "diabetes", "target", "ridge", "alpha"),
    ] {
        let f = grid_fixture(fixture);
        let values: Vec<String> = f["values"].as_array().unwrap().iter().map(|v| v.to_string()).collect();
        let grid = format!("{key}={}", values.join(","));
        let csv = export(dir.path(), data);
        let out = dir.path().join(model);
        let t = ok_json(&[
            "--json",
            "tune",
            "--data",
            &csv,
            "--target",
            target,
            "--model",
            model,
            "--grid",
            &grid,
            "--tracking-uri",
            &uri,
            "--out",
            out.to_str().unwrap(),
        ]);
        let search = &t["search"];
        assert_eq!(search["folds"], 5, "{t}");
        let candidates = search["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), values.len());
        for (i, c) in candidates.iter().enumerate() {
            for (ours, theirs) in [("mean", "mean_test_score"), ("std", "std_test_score")] {
                let (a, b) = (c[ours].as_f64().unwrap(), f[theirs][i].as_f64().unwrap());
                assert!((a - b).abs() <= 1e-6, "{fixture} candidate {i} {ours}: {a} vs {b}");
            }
            assert_eq!(c["rank"], f["rank_test_score"][i], "{fixture} candidate {i}");
        }
        let best: f64 = search["best"][key].as_str().unwrap().parse().unwrap();
        assert_eq!(best, f["best_value"].as_f64().unwrap(), "{fixture}");
        assert_eq!(
            t["params"][key].as_str().unwrap().parse::<f64>().unwrap(),
            best,
            "refitted with the best"
        );
        assert!(out.join("model.mlsdk").exists());
        // One finished child run per candidate under the refit's run.
        let parent = t["run"]["run_id"].as_str().unwrap().to_string();
        let children: Vec<_> = std::fs::read_dir(store.join("0"))
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path().join("tags/mlflow.parentRunId")).is_ok_and(|p| p.trim() == parent)
            })
            .collect();
        assert_eq!(children.len(), values.len(), "{fixture}");
        for c in &children {
            assert!(c.path().join("metrics/mean_test_score").exists());
            assert!(c.path().join(format!("params/{key}")).exists());
        }
        assert!(store.join("0").join(&parent).join("metrics/best_cv_score").exists());
    }
    // Randomized search: N distinct candidates, seeded.
    let csv = export(dir.path(), "iris");
    let out = dir.path().join("random");
    let args = [
        "--json",
        "tune",
        "--data",
        &csv,
        "--target",
        "target",
        "--model",
        "tree",
        "--grid",
        "max_depth=1,2,3,4,5",
        "--grid",
        "min_samples_leaf=1,5",
        "--random",
        "3",
        "--seed",
        "4",
        "--cv",
        "3",
        "--out",
        out.to_str().unwrap(),
    ];
    let a = ok_json(&args);
    assert_eq!(a["search"]["candidates"].as_array().unwrap().len(), 3);
    assert_eq!(ok_json(&args)["search"], a["search"], "seeded");
    // A key both fixed and searched, a bad grid, an unsupervised model.
    let o = out.to_str().unwrap();
    let base = ["tune", "--data", &csv, "--target", "target", "--out", o];
    fails(
        &[
            &base[..],
            &["--model", "tree", "--grid", "max_depth=1,2", "--param", "max_depth=3"],
        ]
        .concat(),
        "both fixed",
    );
    fails(
        &[&base[..], &["--model", "tree", "--grid", "max_depth"]].concat(),
        "key=v1,v2",
    );
    fails(
        &[&base[..], &["--model", "tree", "--grid", "max_depth=deep,2"]].concat(),
        "max_depth=deep",
    );
    fails(
        &[&base[..], &["--model", "kmeans", "--grid", "k=2,3"]].concat(),
        "supervised",
    );
}

/// A CSV with holes: German credit with every seventh cell of a numeric
/// and of a text column emptied or marked `NA`.
fn german_with_holes(dir: &Path) -> String {
    let full = export(dir, "german_credit");
    let text = std::fs::read_to_string(&full).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let num = header.iter().position(|h| *h == "duration").unwrap();
    let cat = header.iter().position(|h| *h == "purpose").unwrap();
    let mut out = vec![header.join(",")];
    for (i, line) in lines.enumerate() {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        if i % 7 == 0 {
            cells[num] = String::new();
        }
        if i % 7 == 3 {
            cells[cat] = "NA".into();
        }
        out.push(cells.join(","));
    }
    let path = dir.join("german_holes.csv");
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn empty_cells_train_with_hgb_as_they_are_and_with_any_model_once_imputed() {
    let dir = tempfile::tempdir().unwrap();
    let data = german_with_holes(dir.path());
    let m = dir.path().join("m");
    let m = m.to_str().unwrap();
    let base = [
        "train",
        "--data",
        &data,
        "--target",
        "risk",
        "--sensitive",
        "sex",
        "--out",
        m,
    ];
    // Without an imputer the error names the column and suggests `impute`.
    let mut args = base.to_vec();
    args.extend(["--model", "logistic"]);
    fails(&args, "column 'duration' has 143");
    fails(&args, "impute=");
    // hgb takes them; the report lists them per column.
    let mut args = vec!["--json"];
    args.extend(base);
    args.extend(["--model", "hgb", "--param", "max_iter=20"]);
    let t = ok_json(&args);
    assert_eq!(t["missing"]["duration"], 143, "{t}");
    assert_eq!(t["missing"]["purpose"], 143, "{t}");
    // Prediction on the same file keeps them missing.
    let preds = dir.path().join("p.csv");
    let pred = ok_json(&[
        "--json",
        "predict",
        "--model",
        m,
        "--data",
        &data,
        "--out",
        preds.to_str().unwrap(),
    ]);
    assert_eq!(pred["rows"], 1000, "{pred}");
    // Any model once `impute` is given; the saved model imputes at prediction too.
    for (model, strategy) in [("logistic", "mean"), ("forest", "most_frequent"), ("tree", "constant")] {
        let mut args = vec!["--json"];
        args.extend(base);
        let imp = format!("impute={strategy}");
        args.extend(["--model", model, "--param", &imp, "--param", "add_indicator=true"]);
        let t = ok_json(&args);
        assert_eq!(t["params"]["impute"], strategy, "{t}");
        assert!(t["metrics"]["accuracy"].as_f64().unwrap() > 0.7, "{t}");
        let e = ok_json(&["--json", "evaluate", "--model", m, "--data", &data, "--target", "risk"]);
        assert!(e["metrics"]["accuracy"].as_f64().unwrap() > 0.7, "{e}");
        let onnx = dir.path().join(format!("{model}.onnx"));
        ok_json(&["--json", "export-onnx", "--model", m, "--out", onnx.to_str().unwrap()]);
    }
    // A model trained on complete data names the column at prediction.
    let complete = export(dir.path(), "german_credit");
    let c = dir.path().join("complete");
    let c = c.to_str().unwrap();
    ok_json(&[
        "--json", "train", "--data", &complete, "--target", "risk", "--model", "logistic", "--out", c,
    ]);
    fails(&["predict", "--model", c, "--data", &data], "column 'duration'");
    // A target with a hole is refused with its line.
    let text = std::fs::read_to_string(&complete).unwrap();
    let mut rows: Vec<String> = text.lines().map(String::from).collect();
    rows[5] = rows[5].rsplit_once(',').unwrap().0.to_string() + ",";
    let holed = dir.path().join("target_hole.csv");
    std::fs::write(&holed, rows.join("\n")).unwrap();
    let args = [
        "train",
        "--data",
        holed.to_str().unwrap(),
        "--target",
        "risk",
        "--model",
        "hgb",
        "--out",
        c,
    ];
    fails(&args, "line 6");
}

#[test]
fn categorical_data_and_column_matching() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "german_credit");
    let model = dir.path().join("m");
    let m = model.to_str().unwrap();
    ok_json(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "risk",
        "--sensitive",
        "sex",
        "--model",
        "logistic",
        "--param",
        "unknown=ignore",
        "--out",
        m,
    ]);
    let inspect = ok_json(&["--json", "inspect", "--model", m]);
    assert!(
        inspect["features_after_preprocessing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "housing=own")
    );

    // Columns in another order, without the target, with an unseen category: still predicts.
    let shuffled = dir.path().join("new.csv");
    std::fs::write(
        &shuffled,
        "age,purpose,duration,credit_amount,checking_account,saving_accounts,housing,job\n30,spaceship,12,1000,little,little,own,2\n",
    )
    .unwrap();
    let out = mlsdk(&["predict", "--model", m, "--data", shuffled.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("prediction,proba_0,proba_1"));
}

#[test]
fn damaged_model_files_and_unknown_classes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "iris");
    let out = dir.path().join("m");
    let o = out.to_str().unwrap();
    // A truncated model file.
    ok_json(&[
        "--json", "train", "--data", &data, "--target", "target", "--model", "tree", "--out", o,
    ]);
    let file = out.join("model.mlsdk");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 7]).unwrap();
    fails(
        &["evaluate", "--model", o, "--data", &data, "--target", "target"],
        "truncated",
    );
    // An unknown class in the evaluation data names its line.
    std::fs::write(&file, &bytes).unwrap();
    let odd = dir.path().join("odd.csv");
    let text = std::fs::read_to_string(&data).unwrap().replacen("setosa", "unicorn", 1);
    std::fs::write(&odd, text).unwrap();
    fails(
        &[
            "evaluate",
            "--model",
            o,
            "--data",
            odd.to_str().unwrap(),
            "--target",
            "target",
        ],
        "unicorn",
    );
}

#[test]
fn training_logs_a_run_that_runs_list_and_show_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "breast_cancer");
    let store = dir.path().join("mlruns");
    let s = store.to_str().unwrap();
    let m = dir.path().join("m");
    let trained = ok_json(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "target",
        "--model",
        "logistic",
        "--cv",
        "3",
        "--tracking-uri",
        s,
        "--experiment",
        "cli",
        "--run-name",
        "lr",
        "--out",
        m.to_str().unwrap(),
    ]);
    let run_id = trained["run"]["run_id"].as_str().unwrap().to_string();

    let list = ok_json(&["--json", "runs", "list", "--tracking-uri", s, "--experiment", "cli"]);
    let runs = list["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["run_id"], run_id.as_str());
    assert_eq!(runs[0]["status"], "FINISHED");
    assert_eq!(runs[0]["metrics"]["train_accuracy"], trained["metrics"]["accuracy"]);

    let show = ok_json(&["--json", "runs", "show", &run_id, "--tracking-uri", s]);
    assert_eq!(show["params"]["model"], "logistic");
    assert_eq!(show["metrics"]["cv_accuracy"].as_array().unwrap().len(), 3);
    assert!(show["tags"]["mlsdk.data.sha256"].as_str().unwrap().len() == 64);
    let exp = show["info"]["experiment_id"].as_str().unwrap();
    assert!(
        store
            .join(exp)
            .join(&run_id)
            .join("artifacts/model/model.mlsdk")
            .exists()
    );

    // A failing training run is recorded as FAILED, and the error is still one line.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,target\n1,x\n2,y\n").unwrap();
    fails(
        &[
            "train",
            "--data",
            bad.to_str().unwrap(),
            "--target",
            "target",
            "--model",
            "linear",
            "--tracking-uri",
            s,
            "--experiment",
            "cli",
            "--out",
            m.to_str().unwrap(),
        ],
        "target",
    );
    let list = ok_json(&["--json", "runs", "list", "--tracking-uri", s, "--experiment", "cli"]);
    assert!(list["runs"].as_array().unwrap().iter().any(|r| r["status"] == "FAILED"));
}

#[test]
fn registered_models_resolve_by_alias_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "iris");
    let store = dir.path().join("mlruns");
    let run = |args: &[&str]| -> Value {
        let out = succeeded(args, command(args).env("MLFLOW_TRACKING_URI", &store).output().unwrap());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let m1 = dir.path().join("m1");
    let m2 = dir.path().join("m2");
    let t1 = run(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "target",
        "--model",
        "logistic",
        "--register",
        "iris",
        "--out",
        m1.to_str().unwrap(),
    ]);
    let t2 = run(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "target",
        "--model",
        "tree",
        "--param",
        "max_depth=1",
        "--register",
        "iris",
        "--out",
        m2.to_str().unwrap(),
    ]);
    assert_eq!(t1["registered"]["version"], 1);
    assert_eq!(t2["registered"]["version"], 2);
    run(&["--json", "models", "alias", "iris", "champion", "1"]);
    assert_eq!(run(&["--json", "models", "resolve", "iris", "champion"])["version"], 1);
    assert_eq!(run(&["--json", "models", "resolve", "iris", "latest"])["version"], 2);
    let versions = run(&["--json", "models", "versions", "iris"]);
    assert_eq!(versions["versions"][0]["aliases"][0], "champion");

    // Evaluating through the registry gives each version's own figures.
    let by_alias = run(&[
        "--json",
        "evaluate",
        "--model",
        "models:/iris@champion",
        "--data",
        &data,
        "--target",
        "target",
    ]);
    assert_eq!(by_alias["metrics"]["accuracy"], t1["metrics"]["accuracy"]);
    let by_version = run(&[
        "--json",
        "evaluate",
        "--model",
        "models:/iris/2",
        "--data",
        &data,
        "--target",
        "target",
    ]);
    assert_eq!(by_version["metrics"]["accuracy"], t2["metrics"]["accuracy"]);
    let run_id = t1["run"]["run_id"].as_str().unwrap();
    let by_run = run(&[
        "--json",
        "evaluate",
        "--model",
        &format!("runs:/{run_id}/model"),
        "--data",
        &data,
        "--target",
        "target",
    ]);
    assert_eq!(by_run["metrics"]["accuracy"], t1["metrics"]["accuracy"]);
}

#[test]
fn export_onnx_writes_a_model_and_training_can_log_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "iris");
    let m = dir.path().join("m");
    let store = dir.path().join("mlruns");
    let t = ok_json(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "target",
        "--model",
        "forest",
        "--param",
        "n_trees=5",
        "--tracking-uri",
        store.to_str().unwrap(),
        "--log-onnx",
        "--out",
        m.to_str().unwrap(),
    ]);
    let onnx = dir.path().join("m.onnx");
    let e = ok_json(&[
        "--json",
        "export-onnx",
        "--model",
        m.to_str().unwrap(),
        "--out",
        onnx.to_str().unwrap(),
    ]);
    assert_eq!(e["input"]["columns"].as_array().unwrap().len(), 4);
    let bytes = std::fs::read(&onnx).unwrap();
    assert_eq!(bytes.len() as u64, e["bytes"].as_u64().unwrap());
    // The logged ONNX model is the same export.
    let run_id = t["run"]["run_id"].as_str().unwrap();
    let show = ok_json(&[
        "--json",
        "runs",
        "show",
        run_id,
        "--tracking-uri",
        store.to_str().unwrap(),
    ]);
    let exp = show["info"]["experiment_id"].as_str().unwrap();
    let logged = std::fs::read(store.join(exp).join(run_id).join("artifacts/onnx-model/model.onnx")).unwrap();
    assert_eq!(logged, bytes);
}

fn stdout_of(args: &[&str]) -> String {
    let out = mlsdk(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn predict_and_evaluate_run_onnx_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "iris");
    let m = dir.path().join("forest");
    let m = m.to_str().unwrap();
    ok_json(&[
        "--json", "train", "--data", &data, "--target", "target", "--model", "forest", "--out", m,
    ]);
    let onnx = dir.path().join("forest.onnx");
    let onnx = onnx.to_str().unwrap();
    ok_json(&["--json", "export-onnx", "--model", m, "--out", onnx]);

    // Our own export names its columns: the same predictions and metrics as the model itself.
    let native = stdout_of(&["predict", "--model", m, "--data", &data]);
    let via_onnx = stdout_of(&["predict", "--model", onnx, "--data", &data]);
    let labels = |s: &str| {
        s.lines()
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(labels(&native), labels(&via_onnx));
    assert!(via_onnx.starts_with("prediction,proba_setosa,proba_versicolor,proba_virginica\n"));
    let a = ok_json(&[
        "--json", "evaluate", "--model", m, "--data", &data, "--target", "target",
    ]);
    let b = ok_json(&[
        "--json", "evaluate", "--model", onnx, "--data", &data, "--target", "target",
    ]);
    assert_eq!(a["metrics"]["accuracy"], b["metrics"]["accuracy"]);

    // A skl2onnx model names no columns: it takes the CSV's columns in order.
    let sk = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/onnx/logreg_multi.onnx");
    let numeric = dir.path().join("numeric.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    let stripped: String = text
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    std::fs::write(&numeric, stripped).unwrap();
    let out = stdout_of(&["predict", "--model", sk, "--data", numeric.to_str().unwrap()]);
    assert!(out.starts_with("prediction,proba_0,proba_1,proba_2\n"), "{out}");
    assert_eq!(out.lines().count(), 151);
    // With the target column too, only evaluate (which sets the target aside) accepts it.
    fails(
        &["predict", "--model", sk, "--data", &data],
        "reads the CSV's columns in order",
    );

    let truncated = dir.path().join("truncated.onnx");
    std::fs::write(&truncated, &std::fs::read(onnx).unwrap()[..200]).unwrap();
    fails(
        &["predict", "--model", truncated.to_str().unwrap(), "--data", &data],
        "invalid ONNX model",
    );
}

#[test]
fn privacy_stats_release_values_with_their_cost() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "diabetes");
    let base = ["--json", "privacy", "stats", "--data", data.as_str(), "--column", "age"];
    let run = |extra: &[&str]| ok_json(&[&base[..], extra].concat());
    let mean = run(&["--stat", "mean", "--bounds", "0,100", "--epsilon", "5"]);
    assert_eq!(mean["stat"], "mean");
    assert!((mean["value"].as_f64().unwrap() - 48.5).abs() < 3.0, "{mean}");
    assert!(mean["epsilon"].as_f64().unwrap() <= 5.0);
    assert!(mean.get("delta").is_none(), "pure releases have no delta: {mean}");
    let sum = run(&[
        "--stat",
        "sum",
        "--bounds",
        "0,100",
        "--epsilon",
        "1",
        "--delta",
        "1e-6",
    ]);
    assert_eq!(sum["delta"].as_f64(), Some(1e-6));
    assert!(sum["epsilon"].as_f64().unwrap() <= 1.0);
    let q = run(&["--stat", "quantile:0.5", "--bounds", "0,100", "--epsilon", "2"]);
    assert!((q["value"].as_f64().unwrap() - 50.0).abs() < 8.0, "{q}");
    let count = run(&["--stat", "count", "--epsilon", "1", "--neighbouring", "substitute"]);
    assert_eq!(count["value"].as_f64(), Some(442.0));
    assert_eq!(count["epsilon"].as_f64(), Some(0.0));
    let seeded = [
        "--stat",
        "var",
        "--bounds",
        "0,100",
        "--epsilon",
        "1",
        "--insecure-seed",
        "3",
    ];
    let (var, again) = (run(&seeded), run(&seeded));
    assert_eq!(var, again, "the insecure seed reproduces a release");
    let hist = run(&["--stat", "histogram", "--epsilon", "1", "--categories", "30,40,50"]);
    assert_eq!(hist["value"].as_object().unwrap().len(), 3);
}

#[test]
fn privacy_account_matches_dp_accounting() {
    let fx: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/privacy/accounting.json"))
            .unwrap(),
    )
    .unwrap();
    let case = fx["rdp"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["steps"] == 10000 && c["sampling_rate"] == 0.01 && c["noise_multiplier"] == 1.1)
        .unwrap();
    let got = ok_json(&[
        "--json",
        "privacy",
        "account",
        "--noise-multiplier",
        "1.1",
        "--sampling-rate",
        "0.01",
        "--steps",
        "10000",
        "--delta",
        &case["delta"].to_string(),
    ]);
    assert_eq!(got["accountant"], "rdp");
    let (e, want) = (got["epsilon"].as_f64().unwrap(), case["epsilon"].as_f64().unwrap());
    assert!((e - want).abs() <= 1e-6 * want, "{e} vs {want}");
}

#[test]
fn train_private_logistic_regression_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "german_credit");
    let out = dir.path().join("dp");
    let o = out.to_str().unwrap();
    let base = [
        "train",
        "--data",
        &data,
        "--target",
        "risk",
        "--drop",
        "sex",
        "--model",
        "dp_logistic",
        "--out",
        o,
    ];
    let params = [
        "--param",
        "epsilon=3",
        "--param",
        "delta=1e-6",
        "--param",
        "bounds=0:100",
        "--param",
        "bounds.credit_amount=0:20000",
    ];
    let run = ok_json(&[&["--json"], &base[..], &params[..]].concat());
    assert_eq!(run["model"], "dp_logistic");
    let spent = &run["privacy"];
    assert!(spent["epsilon"].as_f64().unwrap() <= 3.0, "{run}");
    assert_eq!(spent["delta"].as_f64(), Some(1e-6));
    // Categorical columns are one-hot encoded: the saved model takes the
    // CSV's columns and predicts with them.
    let inspect = ok_json(&["--json", "inspect", "--model", o]);
    assert!(inspect.to_string().contains("one_hot"), "{inspect}");
    let pred = mlsdk(&["predict", "--model", o, "--data", &data]);
    assert!(pred.status.success(), "{}", String::from_utf8_lossy(&pred.stderr));
    assert_eq!(String::from_utf8_lossy(&pred.stdout).lines().count(), 1001);
}

#[test]
fn explain_prints_shap_values_that_add_up_to_the_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "breast_cancer");
    let forest = dir.path().join("forest");
    let f = forest.to_str().unwrap();
    ok_json(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "target",
        "--model",
        "forest",
        "--param",
        "n_trees=8",
        "--param",
        "max_depth=4",
        "--out",
        f,
    ]);
    let probs = |model: &str, rows: usize| -> Vec<Vec<f64>> {
        let out = mlsdk(&["predict", "--model", model, "--data", &data]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .take(rows)
            .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
            .collect()
    };
    let p = probs(f, 4);
    let check = |e: &Value, what: &str| {
        let values = e["values"].as_array().unwrap();
        assert_eq!(values.len(), 4, "{what}");
        for (i, row) in values.iter().enumerate() {
            let row = row.as_array().unwrap();
            assert_eq!(row.len(), 30, "{what}: one value per feature");
            for class in 0..2 {
                let sum: f64 = row.iter().map(|v| v[class].as_f64().unwrap()).sum();
                let base = e["base_values"][i][class].as_f64().unwrap();
                assert!((sum + base - p[i][class]).abs() < 1e-9, "{what}: row {i} class {class}");
            }
        }
    };
    let mlruns = dir.path().join("mlruns");
    let uri = mlruns.to_str().unwrap();
    let path = ok_json(&[
        "--json",
        "explain",
        "--model",
        f,
        "--data",
        &data,
        "--rows",
        "4",
        "--tracking-uri",
        uri,
    ]);
    // Logged: the explanation as an artifact, mean |SHAP| per feature as metrics.
    let run = path["run"]["run_id"].as_str().unwrap();
    let found = find_file(&mlruns, "tree_shap_path_dependent.json").expect("explanation artifact");
    assert!(found.to_string_lossy().contains(run));
    let metric = find_file(&mlruns, "worst radius").expect("per-feature metric");
    assert!(metric.to_string_lossy().contains("tree_shap_path_dependent_mean_abs"));
    assert_eq!(path["method"], "tree_shap_path_dependent");
    assert_eq!(path["output_names"], serde_json::json!(["benign", "malignant"]));
    check(&path, "path-dependent");
    let inter = ok_json(&[
        "--json",
        "explain",
        "--model",
        f,
        "--data",
        &data,
        "--rows",
        "4",
        "--background",
        &data,
    ]);
    assert_eq!(inter["method"], "tree_shap_interventional");
    check(&inter, "interventional");
    let plots = dir.path().join("plots");
    let with_plots = ok_json(&[
        "--json",
        "explain",
        "--model",
        f,
        "--data",
        &data,
        "--rows",
        "20",
        "--plot",
        plots.to_str().unwrap(),
    ]);
    assert_eq!(
        with_plots["charts"].as_array().unwrap().len(),
        12,
        "3 charts x 2 formats x 2 outputs"
    );
    for name in [
        "summary_malignant.svg",
        "bar_benign.png",
        "waterfall_row0_malignant.png",
    ] {
        assert!(plots.join(name).is_file(), "{name}");
    }
    let svg = std::fs::read_to_string(plots.join("summary_malignant.svg")).unwrap();
    assert!(
        svg.contains("<circle") && svg.contains("worst"),
        "beeswarm drawn with feature names"
    );
    let pdp_plots = ok_json(&[
        "--json",
        "explain",
        "--model",
        f,
        "--data",
        &data,
        "--method",
        "pdp",
        "--features",
        "worst radius",
        "--grid-resolution",
        "10",
        "--plot",
        plots.to_str().unwrap(),
    ]);
    assert!(plots.join("pdp_worst_radius_malignant.png").is_file(), "{pdp_plots}");
    let kernel = ok_json(&[
        "--json",
        "explain",
        "--model",
        f,
        "--data",
        &data,
        "--rows",
        "4",
        "--method",
        "kernel-shap",
        "--n-samples",
        "300",
    ]);
    assert_eq!(kernel["method"], "kernel_shap");
    check(&kernel, "kernel");

    // Our ONNX export carries its spec (covers included), checked against
    // the graph on load: the same explanations come back from the file.
    let onnx = dir.path().join("forest.onnx");
    let o = onnx.to_str().unwrap();
    ok_json(&["--json", "export-onnx", "--model", f, "--out", o]);
    let from_onnx = ok_json(&["--json", "explain", "--model", o, "--data", &data, "--rows", "4"]);
    assert_eq!(from_onnx["values"], path["values"]);
    let from_onnx = ok_json(&[
        "--json",
        "explain",
        "--model",
        o,
        "--data",
        &data,
        "--rows",
        "4",
        "--background",
        &data,
    ]);
    assert_eq!(from_onnx["values"], inter["values"]);

    // A foreign ONNX model (scikit-learn's gradient boosting via skl2onnx)
    // has no covers and reads columns by position: interventional TreeSHAP
    // explains its log-odds.
    let gboost = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/onnx/gboost_binary.onnx");
    let g = gboost.to_str().unwrap();
    let base = [
        "--json", "explain", "--model", g, "--data", &data, "--target", "target", "--rows", "3",
    ];
    let err = mlsdk(&base[1..]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("background"));
    let e = ok_json(&[&base[..], &["--background", &data]].concat());
    // predict reads every column by position: give it the features alone.
    let text = std::fs::read_to_string(&data).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let t = header.iter().position(|h| *h == "target").unwrap();
    let features_only: String = text
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells.remove(t);
            cells.join(",") + "\n"
        })
        .collect();
    let fpath = dir.path().join("features.csv");
    std::fs::write(&fpath, features_only).unwrap();
    let out = mlsdk(&["predict", "--model", g, "--data", fpath.to_str().unwrap()]);
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
    for i in 0..3 {
        let p1: f64 = lines[i + 1].split(',').nth(2).unwrap().parse().unwrap();
        let sum: f64 = e["values"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum();
        let logit = (p1 / (1.0 - p1)).ln();
        // ONNX Runtime's probabilities are single precision.
        assert!(
            (sum + e["base_values"][i].as_f64().unwrap() - logit).abs() < 1e-4,
            "row {i}"
        );
    }

    // An EBM trains from the CLI, explains globally by its shape functions
    // and locally by TreeSHAP (its shape values), and exports to ONNX.
    let ebm = dir.path().join("ebm");
    let eb = ebm.to_str().unwrap();
    let trained = ok_json(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "target",
        "--model",
        "ebm",
        "--param",
        "outer_bags=2",
        "--out",
        eb,
    ]);
    assert!(trained["metrics"]["accuracy"].as_f64().unwrap() > 0.95, "{trained}");
    let shapes = ok_json(&[
        "--json",
        "explain",
        "--model",
        eb,
        "--data",
        &data,
        "--method",
        "shape",
        "--plot",
        plots.to_str().unwrap(),
    ]);
    assert_eq!(shapes["shapes"].as_array().unwrap().len(), 30);
    assert!(plots.join("shape_worst_radius.svg").is_file());
    ok_json(&[
        "--json",
        "export-onnx",
        "--model",
        eb,
        "--out",
        dir.path().join("ebm.onnx").to_str().unwrap(),
    ]);
    // Three classes: a shape function per class.
    let iris = export(dir.path(), "iris");
    let ebm3 = dir.path().join("ebm_iris");
    let e3 = ebm3.to_str().unwrap();
    ok_json(&[
        "--json",
        "train",
        "--data",
        &iris,
        "--target",
        "target",
        "--model",
        "ebm",
        "--param",
        "outer_bags=2",
        "--out",
        e3,
    ]);
    let per_class = ok_json(&["--json", "explain", "--model", e3, "--data", &iris, "--method", "shape"]);
    assert_eq!(per_class["output_names"].as_array().unwrap().len(), 3, "{per_class}");
    assert_eq!(per_class["intercept"].as_array().unwrap().len(), 3);
    for class_shapes in per_class["shapes"].as_array().unwrap() {
        assert_eq!(class_shapes.as_array().unwrap().len(), 4);
    }

    let logistic = dir.path().join("logistic");
    let l = logistic.to_str().unwrap();
    ok_json(&[
        "--json", "train", "--data", &data, "--target", "target", "--model", "logistic", "--out", l,
    ]);
    let lin = ok_json(&[
        "--json",
        "explain",
        "--model",
        l,
        "--data",
        &data,
        "--method",
        "linear-shap",
    ]);
    assert_eq!(lin["values"].as_array().unwrap().len(), 569);
    assert_eq!(
        lin["values"][0].as_array().unwrap().len(),
        30,
        "rows x features for one output"
    );
    assert_eq!(lin["output_names"], serde_json::json!(["malignant"]));
    let perm = ok_json(&[
        "--json",
        "explain",
        "--model",
        f,
        "--data",
        &data,
        "--method",
        "permutation",
        "--target",
        "target",
    ]);
    assert_eq!(perm["importances_mean"].as_array().unwrap().len(), 30);
    assert!(perm["baseline"].as_f64().unwrap() > 0.9);
    let pdp = ok_json(&[
        "--json",
        "explain",
        "--model",
        f,
        "--data",
        &data,
        "--method",
        "pdp",
        "--features",
        "worst radius",
        "--grid-resolution",
        "10",
    ]);
    assert_eq!(pdp["curves"][0]["grid"].as_array().unwrap().len(), 10);
    assert_eq!(pdp["curves"][0]["individual"].as_array().unwrap().len(), 569);

    let lime = ok_json(&[
        "--json",
        "explain",
        "--model",
        f,
        "--data",
        &data,
        "--method",
        "lime",
        "--rows",
        "2",
        "--n-samples",
        "500",
    ]);
    assert_eq!(lime["method"], "lime");
    assert_eq!(lime["values"].as_array().unwrap().len(), 2);
}

/// Accuracy and selection rate of `mlsdk predict` on a saved mitigation
/// (its directory), scored against the data's `risk` column; the positive
/// class is the one of the last probability column.
fn mitigated_rates(mitigation: &str, data: &str, extra: &[&str]) -> (f64, f64) {
    let csv = stdout_of(&[&["predict", "--model", mitigation, "--data", data][..], extra].concat());
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 3, "{header:?}");
    let positive = header[2].strip_prefix("proba_").unwrap();
    let text = std::fs::read_to_string(data).unwrap();
    let mut rows = text.lines();
    let col = rows.next().unwrap().split(',').position(|c| c == "risk").unwrap();
    let truth: Vec<String> = rows.map(|r| r.split(',').nth(col).unwrap().to_string()).collect();
    let (mut hits, mut positives, mut n) = (0, 0, 0);
    for (line, y) in lines.zip(&truth) {
        let f: Vec<&str> = line.split(',').collect();
        let (p0, p1): (f64, f64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        assert!((p0 + p1 - 1.0).abs() < 1e-12 && (0.0..=1.0).contains(&p1), "{line}");
        hits += usize::from(f[0] == y);
        positives += usize::from(f[0] == positive);
        n += 1;
    }
    assert_eq!(n, truth.len());
    (hits as f64 / n as f64, positives as f64 / n as f64)
}

/// `mlsdk predict` on the mitigation in `dir` reproduces what `mitigate`
/// reported of it (`report`): the same seed draws the same labels.
fn assert_predict_reproduces(report: &Value, dir: &str, data: &str) {
    let (accuracy, selection) = mitigated_rates(dir, data, &[]);
    assert!(
        (accuracy - report["after"]["accuracy"].as_f64().unwrap()).abs() < 1e-12,
        "{report}"
    );
    assert!(
        (selection - report["after"]["selection_rate"].as_f64().unwrap()).abs() < 1e-12,
        "{report}"
    );
}

#[test]
fn fairness_prints_group_metrics_and_parity_measures() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(dir.path(), "german_credit");
    let model = dir.path().join("m");
    let m = model.to_str().unwrap();
    ok_json(&[
        "--json",
        "train",
        "--data",
        &data,
        "--target",
        "risk",
        "--sensitive",
        "sex",
        "--model",
        "logistic",
        "--out",
        m,
    ]);
    let mlruns = dir.path().join("mlruns");
    let f = ok_json(&[
        "--json",
        "fairness",
        "--model",
        m,
        "--data",
        &data,
        "--target",
        "risk",
        "--sensitive",
        "sex",
        "--tracking-uri",
        mlruns.to_str().unwrap(),
    ]);
    assert!(find_file(&mlruns, "report.json").is_some());
    let report = dir.path().join("report");
    ok_json(&[
        "--json",
        "fairness",
        "--model",
        m,
        "--data",
        &data,
        "--target",
        "risk",
        "--sensitive",
        "sex",
        "--report",
        report.to_str().unwrap(),
    ]);
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("demographic_parity_difference") && md.contains("| female |"),
        "{md}"
    );
    let page = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(page.contains("<table>") && page.contains("by_group_selection_rate.svg"));
    assert!(report.join("by_group_selection_rate.png").is_file());
    let logged = std::fs::read_to_string(find_file(&mlruns, "demographic_parity_difference").unwrap()).unwrap();
    let logged: f64 = logged.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(logged, f["demographic_parity_difference"].as_f64().unwrap());
    let groups = f["by_group"].as_object().unwrap();
    assert_eq!(groups.len(), 2);
    let total: f64 = groups.values().map(|g| g["count"].as_f64().unwrap()).sum();
    assert_eq!(total, 1000.0);
    let rates: Vec<f64> = groups.values().map(|g| g["selection_rate"].as_f64().unwrap()).collect();
    let dpd = f["demographic_parity_difference"].as_f64().unwrap();
    assert!((dpd - (rates[0] - rates[1]).abs()).abs() < 1e-12);
    for k in [
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
        "equal_opportunity_difference",
        "equal_opportunity_ratio",
    ] {
        let v = f[k].as_f64().unwrap_or_else(|| panic!("{k} in {f}"));
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    assert_eq!(f["overall"]["count"].as_f64(), Some(1000.0));
    let both = ok_json(&[
        "--json",
        "fairness",
        "--model",
        m,
        "--data",
        &data,
        "--target",
        "risk",
        "--sensitive",
        "sex,housing",
        "--metrics",
        "selection_rate,tpr",
    ]);
    assert_eq!(both["by_group"].as_object().unwrap().len(), 6);
    assert!(
        both["by_group"]["female|own"]["true_positive_rate"].is_number(),
        "{both}"
    );

    // Mitigation: demographic parity by post-processing.
    let mdir = dir.path().join("mitigated");
    let md = mdir.to_str().unwrap();
    let base = [
        "--json",
        "mitigate",
        "--model",
        m,
        "--data",
        &data,
        "--target",
        "risk",
        "--sensitive",
        "sex",
    ];
    let mi = ok_json(&[&base[..], &["--out", md]].concat());
    let (before, after) = (
        mi["before"]["demographic_parity_difference"].as_f64().unwrap(),
        mi["after"]["demographic_parity_difference"].as_f64().unwrap(),
    );
    assert!(after < before.max(0.05), "{mi}");
    assert!(mi["after"]["accuracy"].as_f64().unwrap() > 0.65, "{mi}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(mdir.join("mitigation.json")).unwrap()).unwrap();
    assert_eq!(saved["thresholds"]["constraint"], "demographic_parity");
    assert!(saved["thresholds"]["rules"]["female"]["p0"].is_number());
    assert_predict_reproduces(&mi, md, &data);
    // Another seed draws other labels from the same probabilities; data
    // whose sensitive column is renamed is read with --sensitive.
    let (_, other_seed) = mitigated_rates(md, &data, &["--seed", "7"]);
    assert!((other_seed - mi["after"]["selection_rate"].as_f64().unwrap()).abs() < 0.05);
    let renamed = dir.path().join("renamed.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    let (head, body) = text.split_once('\n').unwrap();
    std::fs::write(&renamed, format!("{}\n{body}", head.replace(",sex,", ",gender,"))).unwrap();
    let renamed = renamed.to_str().unwrap();
    fails(&["predict", "--model", md, "--data", renamed], "sex");
    let (accuracy, _) = mitigated_rates(md, renamed, &["--sensitive", "gender"]);
    assert!((accuracy - mi["after"]["accuracy"].as_f64().unwrap()).abs() < 1e-12);
    let eo = ok_json(&[&base[..], &["--constraint", "equalized_odds", "--out", md]].concat());
    assert_eq!(eo["constraint"], "equalized_odds");
    let eg = ok_json(&[
        "--json",
        "mitigate",
        "--method",
        "exponentiated-gradient",
        "--trainer",
        "logistic",
        "--data",
        &data,
        "--target",
        "risk",
        "--sensitive",
        "sex",
        "--out",
        md,
    ]);
    assert_eq!(eg["method"], "exponentiated_gradient");
    assert!(
        eg["after"]["demographic_parity_difference"].as_f64().unwrap() < 0.06,
        "{eg}"
    );
    assert!(eg["members"].as_u64().unwrap() >= 1);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(mdir.join("mitigation.json")).unwrap()).unwrap();
    assert!(!saved["mix"]["members"].as_array().unwrap().is_empty());
    assert_predict_reproduces(&eg, md, &data);
    // Every trainer of `train --model` reduces, the EBM included.
    let ebm = ok_json(&[
        "--json",
        "mitigate",
        "--method",
        "exponentiated-gradient",
        "--trainer",
        "ebm",
        "--param",
        "outer_bags=2",
        "--data",
        &data,
        "--target",
        "risk",
        "--sensitive",
        "sex",
        "--out",
        md,
    ]);
    assert_eq!(ebm["method"], "exponentiated_gradient");
    let dp = |v: &Value| v["demographic_parity_difference"].as_f64().unwrap();
    // "after" scores labels drawn from the mix's probabilities, so it moves
    // with the draw by a point or two around the mix's own difference.
    assert!(
        dp(&ebm["after"]) < 0.04 && dp(&ebm["after"]) < dp(&ebm["before"]),
        "{ebm}"
    );
    assert_predict_reproduces(&ebm, md, &data);
    let gs = ok_json(&[
        "--json",
        "mitigate",
        "--method",
        "grid-search",
        "--trainer",
        "logistic",
        "--data",
        &data,
        "--target",
        "risk",
        "--sensitive",
        "sex",
        "--out",
        md,
    ]);
    assert_eq!(gs["method"], "grid_search");
    assert_eq!(gs["grid"].as_array().unwrap().len(), 10);
    let file = mdir.join("mitigation.json");
    assert_predict_reproduces(&gs, file.to_str().unwrap(), &data);
}

#[test]
fn a_mitigation_finds_its_base_model_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let run_in = |cwd: &Path, args: &[&str]| {
        let out = succeeded(args, command(args).current_dir(cwd).output().unwrap());
        String::from_utf8(out.stdout).unwrap()
    };
    run_in(&work, &["datasets", "export", "german_credit", "--out", "credit.csv"]);
    run_in(
        &work,
        &[
            "train",
            "--data",
            "credit.csv",
            "--target",
            "risk",
            "--sensitive",
            "sex",
            "--model",
            "logistic",
            "--out",
            "base",
        ],
    );
    run_in(
        &work,
        &[
            "mitigate",
            "--model",
            "base",
            "--data",
            "credit.csv",
            "--target",
            "risk",
            "--sensitive",
            "sex",
            "--out",
            "mit",
        ],
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("mit/mitigation.json")).unwrap()).unwrap();
    assert_eq!(saved["base_model"], "../base", "recorded beside the mitigation");
    let from_parent = run_in(
        dir.path(),
        &["predict", "--model", "work/mit", "--data", "work/credit.csv"],
    );
    let from_work = run_in(&work, &["predict", "--model", "mit", "--data", "credit.csv"]);
    assert_eq!(from_parent, from_work);
    // Moved together, they still find each other.
    std::fs::rename(&work, dir.path().join("moved")).unwrap();
    let moved = run_in(
        dir.path(),
        &["predict", "--model", "moved/mit", "--data", "moved/credit.csv"],
    );
    assert_eq!(moved, from_work);
}

/// A server on loopback that accepts connections and, per connection,
/// either never answers (`reply` is `None`) or answers `reply` whatever was asked.
fn fake_server(reply: Option<&'static str>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            if let Some(body) = reply {
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            } else {
                held.push(stream);
            }
        }
    });
    url
}

#[test]
fn servers_that_are_absent_silent_or_lying_are_named() {
    let absent = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let silent = fake_server(None);
    let lying = fake_server(Some("<html><body>Please sign in</body></html>"));
    let cases = [
        (absent.as_str(), "unreachable"),
        (silent.as_str(), "did not answer within 0.5 s"),
        (lying.as_str(), "not JSON"),
    ];
    for (url, needle) in cases {
        for args in [
            vec!["runs", "list", "--tracking-uri", url],
            vec![
                "runs",
                "show",
                "0123456789abcdef0123456789abcdef",
                "--tracking-uri",
                url,
            ],
            vec!["models", "list", "--tracking-uri", url],
        ] {
            let out = command(&args)
                .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "0.5")
                .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
                .env("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.01")
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} succeeded against {url}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
            assert!(err.contains(url) && err.contains(needle), "{args:?}: {err}");
            assert!(
                out.stdout.is_empty(),
                "{args:?} printed {:?}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    // A malformed knob is refused by name.
    let out = command(&["runs", "list", "--tracking-uri", &lying])
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "soon")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("MLFLOW_HTTP_REQUEST_TIMEOUT"));
}
