#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![cfg(unix)]
//! `mlsdk serve` driven by the real Triton clients: models trained and
//! exported by `mlsdk`, and scikit-learn models converted by skl2onnx, are
//! served at once; `scripts/check_serving.py` checks server and model
//! metadata, readiness, configuration and statistics, and compares every
//! inference (binary and JSON tensors, compressed requests, the async
//! client, the gRPC client) with onnxruntime on the same ONNX file to 1e-5 (relative
//! beyond 1). SIGTERM then
//! stops the server with exit status 0.
//!
//! Needs the serving clients' environment: `scripts/test.sh` runs this with
//! `MLSDK_SERVING_PYTHON=.venv-serving/bin/python -- --include-ignored`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

fn mlsdk(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlsdk"))
        .args(args)
        .current_dir(dir)
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mlsdk {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/onnx")
}

/// The first `n` rows of a CSV's columns bar `target`, as numbers.
fn csv_rows(path: &Path, target: &str, n: usize) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let skip = header.iter().position(|h| h.trim_matches('"') == target).unwrap();
    lines
        .take(n)
        .map(|l| {
            l.split(',')
                .enumerate()
                .filter(|(j, _)| *j != skip)
                .map(|(_, v)| v.parse().unwrap())
                .collect()
        })
        .collect()
}

/// A running `mlsdk serve`, killed if the test fails before [`terminate`].
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Start `mlsdk serve` and read the HTTP and gRPC addresses it prints once listening.
fn serve(dir: &Path, args: &[String]) -> (Server, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlsdk"))
        .arg("serve")
        .args(args)
        .args(["--port", "0", "--grpc-port", "0"])
        .current_dir(dir)
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut read = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line.trim().to_string();
        assert!(addr.starts_with("127.0.0.1:"), "mlsdk serve printed {line:?}");
        addr
    };
    let (http, grpc) = (read(), read());
    (Server(Some(child)), http, grpc)
}

/// SIGTERM, and the server must exit 0 within 10 s.
fn terminate(mut server: Server) {
    let mut child = server.0.take().unwrap();
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "mlsdk serve exited with {status} on SIGTERM");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("mlsdk serve did not stop within 10 s of SIGTERM");
}

/// A working directory with breast_cancer as `bc.csv` and a logistic
/// regression trained on it in `bc/`.
fn with_breast_cancer_model() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    mlsdk(tmp.path(), &["datasets", "export", "breast_cancer", "--out", "bc.csv"]);
    mlsdk(
        tmp.path(),
        &[
            "train", "--data", "bc.csv", "--target", "target", "--model", "logistic", "--out", "bc",
        ],
    );
    tmp
}

/// Run one of scripts/ with the serving environment's Python; its JSON report.
fn run_script(script: &str, arg: &Path) -> Value {
    let python = std::env::var("MLSDK_SERVING_PYTHON")
        .expect("set MLSDK_SERVING_PYTHON to the .venv-serving python (scripts/test.sh does)");
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
    mlsdk(dir, &["datasets", "export", "digits", "--out", "digits.csv"]);
    mlsdk(dir, &["export-onnx", "--model", "bc", "--out", "bc.onnx"]);
    mlsdk(
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
    mlsdk(dir, &["export-onnx", "--model", "digits", "--out", "digits.onnx"]);

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
    let (child, addr, grpc) = serve(dir, &args);
    let manifest = json!({
        "http": addr,
        "grpc": grpc,
        "models": models.iter().map(|(name, _, onnx, rows)| json!({"name": name, "onnx": onnx, "rows": rows})).collect::<Vec<_>>(),
    });
    let manifest_path = dir.join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let report = run_script("check_serving.py", &manifest_path);
    terminate(child);
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
    mlsdk(dir, &["datasets", "export", "iris", "--out", "iris.csv"]);
    mlsdk(
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
        mlsdk(
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
    let (child, addr, grpc) = serve(dir, &["--repository".to_string(), "repo".to_string()]);
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
    terminate(child);
}
