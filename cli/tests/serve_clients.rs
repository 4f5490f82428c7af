#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![cfg(unix)]
//! `mlsdk serve` driven by the real Triton clients: models trained and
//! exported by `mlsdk`, and scikit-learn models converted by skl2onnx, are
//! served at once; `scripts/check_serving.py` checks server and model
//! metadata, readiness, configuration and statistics, and compares every
//! inference (binary and JSON tensors, compressed requests, the async
//! client, the gRPC client, and KServe's v2 REST client) with onnxruntime on the same ONNX file to 1e-5 (relative
//! beyond 1). SIGTERM then
//! stops the server with exit status 0.
//!
//! Needs the serving clients' environment: `scripts/test.sh` runs this with
//! `MLSDK_SERVING_PYTHON=.venv-serving/bin/python MLSDK_KSERVE_PYTHON=.venv-kserve/bin/python -- --include-ignored`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Serve, csv_rows, run_in};

use serde_json::{Value, json};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/onnx")
}

/// A working directory with breast_cancer as `bc.csv` and a logistic
/// regression trained on it in `bc/`.
fn with_breast_cancer_model() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    run_in(tmp.path(), &["datasets", "export", "breast_cancer", "--out", "bc.csv"]);
    run_in(
        tmp.path(),
        &[
            "train", "--data", "bc.csv", "--target", "target", "--model", "logistic", "--out", "bc",
        ],
    );
    tmp
}

/// Run one of scripts/ with the serving environment's Python; its JSON report.
fn run_script(script: &str, arg: &Path) -> Value {
    run_script_with("MLSDK_SERVING_PYTHON", script, arg)
}

/// Run one of scripts/ with the Python that `python_var` names; its JSON report.
fn run_script_with(python_var: &str, script: &str, arg: &Path) -> Value {
    let python = std::env::var(python_var).unwrap_or_else(|_| panic!("set {python_var} (scripts/test.sh does)"));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(script);
    let out = Command::new(&python).arg(&path).arg(arg).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

#[test]
#[ignore = "needs the serving clients' environment (scripts/test.sh)"]
fn triton_clients_get_onnxruntimes_answers_from_every_kind_of_model() {
    let tmp = with_breast_cancer_model();
    let dir = tmp.path();
    run_in(dir, &["datasets", "export", "digits", "--out", "digits.csv"]);
    run_in(dir, &["export-onnx", "--model", "bc", "--out", "bc.onnx"]);
    run_in(
        dir,
        &[
            "train",
            "--data",
            "digits.csv",
            "--target",
            "target",
            "--model",
            "forest",
            "--param",
            "n_trees=30",
            "--seed",
            "1",
            "--out",
            "digits",
        ],
    );
    run_in(dir, &["export-onnx", "--model", "digits", "--out", "digits.onnx"]);

    let expected: Value = serde_json::from_slice(&std::fs::read(testdata().join("expected.json")).unwrap()).unwrap();
    let bc_rows = csv_rows(&dir.join("bc.csv"), "target", 20);
    let digits_rows = csv_rows(&dir.join("digits.csv"), "target", 20);
    // Name, what to serve, the ONNX file onnxruntime runs, rows.
    let mut models: Vec<(String, String, PathBuf, Value)> = vec![
        ("bc".into(), "bc".into(), dir.join("bc.onnx"), json!(bc_rows)),
        ("bc_onnx".into(), "bc.onnx".into(), dir.join("bc.onnx"), json!(bc_rows)),
        (
            "digits".into(),
            "digits".into(),
            dir.join("digits.onnx"),
            json!(digits_rows),
        ),
    ];
    for name in [
        "logreg_binary",
        "logreg_multi",
        "linreg",
        "forest_binary",
        "forest_reg",
        "gboost_multi",
        "mlp",
    ] {
        let file = testdata().join(format!("{name}.onnx"));
        models.push((
            format!("sk_{name}"),
            file.to_string_lossy().to_string(),
            file,
            expected["models"][name]["rows"].clone(),
        ));
    }
    let args: Vec<String> = models
        .iter()
        .flat_map(|(name, uri, ..)| ["--model".to_string(), format!("{name}={uri}")])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Serve::start(dir, &args);
    let (addr, grpc) = (server.http.clone(), server.grpc.clone());
    let manifest = json!({
        "http": addr,
        "grpc": grpc,
        "models": models.iter().map(|(name, _, onnx, rows)| json!({"name": name, "onnx": onnx, "rows": rows})).collect::<Vec<_>>(),
    });
    let manifest_path = dir.join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let report = run_script("check_serving.py", &manifest_path);
    // KServe's own v2 REST client, on the same models and rows.
    let kserve = run_script_with("MLSDK_KSERVE_PYTHON", "check_kserve_client.py", &manifest_path);
    server.terminate(Duration::from_secs(10));
    for (name, ..) in &models {
        assert_eq!(kserve["models"][name]["id"], "k1", "{kserve}");
    }
    for (name, ..) in &models {
        let r = &report["models"][name];
        // 2 encodings x outputs, 3 compressions x outputs, async x outputs.
        assert!(r["checks"].as_u64().unwrap() >= 6, "{name}: {r}");
        assert!(r["max_diff"].as_f64().unwrap() <= 1e-5, "{name}: {r}");
    }
    assert!(
        report["unknown_model_error"]
            .as_str()
            .unwrap()
            .contains("unknown model")
    );
    assert!(report["unknown_input_error"].as_str().unwrap().contains("has no input"));
    let grpc_error = report["grpc_unknown_input_error"].as_str().unwrap();
    assert!(
        grpc_error.contains("INVALID_ARGUMENT") && grpc_error.contains("has no input"),
        "{grpc_error}"
    );
}

#[test]
#[ignore = "needs the serving clients' environment (scripts/test.sh)"]
fn triton_repositories_pass_tritons_model_config_and_serve() {
    let tmp = with_breast_cancer_model();
    let dir = tmp.path();
    run_in(dir, &["datasets", "export", "iris", "--out", "iris.csv"]);
    run_in(
        dir,
        &[
            "train", "--data", "iris.csv", "--target", "target", "--model", "kmeans", "--param", "k=3", "--out", "km",
        ],
    );
    let sk_forest = testdata().join("forest_multi.onnx");
    let sk_reg = testdata().join("gboost_reg.onnx");
    for (name, uri) in [
        ("bc", "bc".to_string()),
        ("km", "km".to_string()),
        ("sk_forest", sk_forest.to_string_lossy().to_string()),
        ("sk_reg", sk_reg.to_string_lossy().to_string()),
    ] {
        run_in(
            dir,
            &[
                "deploy",
                "triton",
                "--model",
                &format!("{name}={uri}"),
                "--out",
                "repo",
                "--max-batch",
                "256",
            ],
        );
    }
    let report = run_script("check_triton_repo.py", &dir.join("repo"));
    assert_eq!(report["bc"]["max_batch_size"], 256);
    assert_eq!(report["bc"]["inputs"], json!(["input"]));
    assert_eq!(report["bc"]["outputs"], json!(["label", "probabilities"]));
    assert_eq!(report["km"]["outputs"], json!(["label"]));
    assert_eq!(
        report["sk_forest"]["outputs"],
        json!(["output_label", "output_probability"])
    );

    // The repository served as written, and answering as onnxruntime does on its files.
    let server = Serve::start(dir, &["--repository", "repo"]);
    let (addr, grpc) = (server.http.clone(), server.grpc.clone());
    let expected: Value = serde_json::from_slice(&std::fs::read(testdata().join("expected.json")).unwrap()).unwrap();
    let models = [
        ("bc", json!(csv_rows(&dir.join("bc.csv"), "target", 10))),
        ("km", json!(csv_rows(&dir.join("iris.csv"), "target", 10))),
        ("sk_forest", expected["models"]["forest_multi"]["rows"].clone()),
        ("sk_reg", expected["models"]["gboost_reg"]["rows"].clone()),
    ];
    let manifest = json!({
        "http": addr,
        "grpc": grpc,
        "models": models.iter().map(|(name, rows)| json!({"name": name, "onnx": dir.join("repo").join(name).join("1/model.onnx"), "rows": rows})).collect::<Vec<_>>(),
    });
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    run_script("check_serving.py", &dir.join("manifest.json"));
    server.terminate(Duration::from_secs(10));
}
