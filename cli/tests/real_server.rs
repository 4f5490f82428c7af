#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![cfg(unix)]
//! `mlsdk` against a real `mlflow server` on 127.0.0.1, with artifacts
//! proxied by the server (`--artifacts-destination`), with a plain
//! `--default-artifact-root DIR`, and with `--default-artifact-root s3://…`
//! on moto's S3 server (clients write the artifacts themselves):
//! train and register, list versions, set an alias, predict from
//! `models:/NAME@ALIAS`, read runs back; the Python `MlflowClient` sees the
//! same versions and alias and downloads the registered model.
//!
//! Needs the Python reference tools: `scripts/test.sh` runs these tests with
//! `MLSDK_PYTHON=.venv/bin/python -- --include-ignored`.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn python() -> String {
    std::env::var("MLSDK_PYTHON").expect("set MLSDK_PYTHON to the .venv python (scripts/test.sh does)")
}

/// Run `mlsdk` with these arguments and extra environment, outside any
/// tracking store the test's own environment names.
fn mlsdk(env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlsdk"))
        .args(args)
        .env_remove("MLFLOW_TRACKING_URI")
        .envs(env.iter().copied())
        .output()
        .expect("mlsdk runs")
}

/// Run `mlsdk`, require success, parse its standard output as JSON.
fn ok_json(env: &[(&str, &str)], args: &[&str]) -> Value {
    let out = mlsdk(env, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

struct Server {
    _child: Group,
    url: String,
}

/// A child process killed with its process group when dropped: the
/// servers run uvicorn and job-runner children in their own group.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `mlflow server` with a SQLite store under `dir` and the artifact
/// options given; wait until it answers.
fn start_server(dir: &Path, artifact_args: &[String], env: &[(&str, &str)]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(python())
        .args(["-m", "mlflow", "server", "--host", "127.0.0.1", "--workers", "1"])
        .args(["--port", &port.to_string()])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
        .args(artifact_args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mlflow server");
    let server = Server {
        _child: Group(child),
        url: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    loop {
        let up = Command::new(python())
            .args([
                "-c",
                "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/health', timeout=2)",
                &server.url,
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if up {
            return server;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "mlflow server did not start"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// What the Python client reads of the registered model.
const PYTHON_CHECK: &str = r#"
import json, pathlib, sys
import mlflow
from mlflow import MlflowClient
uri, name = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
client = MlflowClient(uri)
versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
champion = client.get_model_version_by_alias(name, "champion")
local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}@champion", dst_path="downloaded")
files = sorted(p.name for p in pathlib.Path(local).iterdir())
print(json.dumps({"versions": versions, "champion": int(champion.version), "source": champion.source, "files": files}))
"#;

/// One server at a time: two starting together compete for the 2 cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A server (one at a time) in a fresh directory, with the artifact
/// options `artifact_args` gives for that directory.
fn serial_server(
    artifact_args: impl FnOnce(&Path) -> Vec<String>,
) -> (std::sync::MutexGuard<'static, ()>, tempfile::TempDir, Server) {
    let serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path(), &artifact_args(dir.path()), &[]);
    (serial, dir, server)
}

fn lifecycle_against(server: &Server, work: &Path, env: &[(&str, &str)]) {
    let url = server.url.as_str();
    let data = work.join("iris.csv");
    let data = data.to_str().unwrap();
    ok_json(env, &["--json", "datasets", "export", "iris", "--out", data]);
    let local = work.join("local-model");
    let trained = ok_json(
        env,
        &[
            "--json",
            "train",
            "--data",
            data,
            "--target",
            "target",
            "--model",
            "logistic",
            "--out",
            local.to_str().unwrap(),
            "--tracking-uri",
            url,
            "--experiment",
            "cli-server",
            "--register",
            "iris-model",
        ],
    );
    assert_eq!(trained["registered"]["version"], 1, "{trained}");
    let run_id = trained["run"]["run_id"].as_str().unwrap().to_string();

    // The server named by the environment, as MLflow's clients read it.
    let from_env = Command::new(env!("CARGO_BIN_EXE_mlsdk"))
        .args(["--json", "models", "versions", "iris-model"])
        .env("MLFLOW_TRACKING_URI", url)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        from_env.status.success(),
        "{}",
        String::from_utf8_lossy(&from_env.stderr)
    );
    let from_env: Value = serde_json::from_slice(&from_env.stdout).unwrap();
    assert_eq!(from_env["versions"][0]["run_id"], run_id.as_str());
    let listed = ok_json(env, &["--json", "models", "list", "--tracking-uri", url]);
    assert_eq!(listed["models"], serde_json::json!(["iris-model"]));
    let versions = ok_json(
        env,
        &["--json", "models", "versions", "iris-model", "--tracking-uri", url],
    );
    let v = &versions["versions"][0];
    assert_eq!(
        (v["version"].as_u64(), v["run_id"].as_str()),
        (Some(1), Some(run_id.as_str()))
    );
    assert_eq!(v["source"], format!("runs:/{run_id}/model"));
    let alias = ok_json(
        env,
        &[
            "--json",
            "models",
            "alias",
            "iris-model",
            "champion",
            "1",
            "--tracking-uri",
            url,
        ],
    );
    assert_eq!(alias["version"], 1);
    let resolved = ok_json(
        env,
        &[
            "--json",
            "models",
            "resolve",
            "iris-model",
            "champion",
            "--tracking-uri",
            url,
        ],
    );
    assert_eq!(resolved["aliases"], serde_json::json!(["champion"]));

    // The registered model predicts what the locally saved one does.
    let from_registry = mlsdk(
        env,
        &[
            "predict",
            "--model",
            "models:/iris-model@champion",
            "--data",
            data,
            "--tracking-uri",
            url,
        ],
    );
    assert!(
        from_registry.status.success(),
        "{}",
        String::from_utf8_lossy(&from_registry.stderr)
    );
    let from_disk = mlsdk(env, &["predict", "--model", local.to_str().unwrap(), "--data", data]);
    assert!(from_disk.status.success());
    assert_eq!(from_registry.stdout, from_disk.stdout);
    assert_eq!(String::from_utf8_lossy(&from_disk.stdout).lines().count(), 151);
    for args in [
        vec!["--model", "models:/iris-model/1"],
        vec!["--model", &*format!("runs:/{run_id}/model")],
    ] {
        let mut full = vec![
            "--json",
            "evaluate",
            "--data",
            data,
            "--target",
            "target",
            "--tracking-uri",
            url,
        ];
        full.extend(args.iter().copied());
        let m = ok_json(env, &full);
        assert!(m["metrics"]["accuracy"].as_f64().unwrap() > 0.9, "{m}");
    }
    let inspected = ok_json(
        env,
        &[
            "--json",
            "inspect",
            "--model",
            "models:/iris-model@champion",
            "--tracking-uri",
            url,
        ],
    );
    assert_eq!(inspected["trainer"], "logistic");

    // Runs read back from the server.
    let runs = ok_json(
        env,
        &[
            "--json",
            "runs",
            "list",
            "--experiment",
            "cli-server",
            "--tracking-uri",
            url,
        ],
    );
    assert_eq!(runs["runs"][0]["run_id"], run_id.as_str());
    let shown = ok_json(env, &["--json", "runs", "show", &run_id, "--tracking-uri", url]);
    assert_eq!(shown["params"]["trainer"], "logistic");
    assert!(shown["metrics"]["train_accuracy"][0]["value"].as_f64().unwrap() > 0.9);

    // An unknown alias or model is a one-line error.
    let out = mlsdk(
        env,
        &[
            "predict",
            "--model",
            "models:/iris-model@nope",
            "--data",
            data,
            "--tracking-uri",
            url,
        ],
    );
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end().lines().count(), 1);

    // The Python client reads the same registry and downloads the model.
    let out = Command::new(python())
        .args(["-c", PYTHON_CHECK, url, "iris-model"])
        .envs(env.iter().copied())
        .current_dir(work)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["versions"], serde_json::json!([1]), "{seen}");
    assert_eq!(seen["champion"], 1, "{seen}");
    // (MLflow adds its own `registered_model_meta` to a registry download.)
    for file in ["MLmodel", "model.mlsdk"] {
        assert!(seen["files"].as_array().unwrap().contains(&file.into()), "{seen}");
    }
}

#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn registry_lifecycle_with_proxied_artifacts() {
    let (_serial, dir, server) = serial_server(|dir| {
        vec![
            "--artifacts-destination".into(),
            dir.join("artifacts").display().to_string(),
        ]
    });
    lifecycle_against(&server, dir.path(), &[]);
}

#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn registry_lifecycle_with_a_default_artifact_root() {
    let (_serial, dir, server) = serial_server(|dir| {
        let root = dir.join("shared-artifacts");
        std::fs::create_dir_all(&root).unwrap();
        vec![
            "--default-artifact-root".into(),
            root.display().to_string(),
            "--no-serve-artifacts".into(),
        ]
    });
    let root = dir.path().join("shared-artifacts");
    lifecycle_against(&server, dir.path(), &[]);
    // The model was written straight into the shared directory.
    let found = walk(&root).into_iter().any(|p| p.ends_with("model/model.mlsdk"));
    assert!(found, "no model.mlsdk under {}", root.display());
}

/// A server that serves no artifacts and hands out `mlflow-artifacts:`
/// locations: training fails with the server's own reason, its run is
/// FAILED, nothing is registered and no model is saved.
#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn training_against_a_server_without_artifact_serving_leaves_nothing() {
    let (_serial, dir, server) = serial_server(|_| {
        vec![
            "--default-artifact-root".into(),
            "mlflow-artifacts:/".into(),
            "--no-serve-artifacts".into(),
        ]
    });
    let url = server.url.as_str();
    let data = dir.path().join("iris.csv");
    let data = data.to_str().unwrap();
    ok_json(&[], &["--json", "datasets", "export", "iris", "--out", data]);
    let out_dir = dir.path().join("model");
    let out = mlsdk(
        &[],
        &[
            "train",
            "--data",
            data,
            "--target",
            "target",
            "--model",
            "tree",
            "--out",
            out_dir.to_str().unwrap(),
            "--tracking-uri",
            url,
            "--register",
            "never",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("Artifact serving is disabled"), "{err}");
    assert!(!out_dir.exists(), "a model was saved");
    let runs = ok_json(&[], &["--json", "runs", "list", "--tracking-uri", url]);
    let runs = runs["runs"].as_array().unwrap();
    assert!(
        !runs.is_empty() && runs.iter().all(|r| r["status"] == "FAILED"),
        "{runs:?}"
    );
    assert_eq!(
        ok_json(&[], &["--json", "models", "list", "--tracking-uri", url])["models"],
        serde_json::json!([])
    );
}

/// The same lifecycle with the artifacts in an S3-compatible bucket (moto's
/// S3 server on loopback): the server hands out `s3://` locations, `mlsdk`
/// writes and reads them with the variables MLflow's client reads, and the
/// Python client downloads the registered model from the bucket.
#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn registry_lifecycle_with_artifacts_in_s3() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let s3_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{s3_port}");
    let env = [
        ("MLFLOW_S3_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ];
    let _moto = Group(
        Command::new(python())
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &s3_port.to_string()])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto's S3 server"),
    );
    let start = Instant::now();
    loop {
        // The bucket, created once the server answers.
        let made = Command::new(python())
            .args([
                "-c",
                "import boto3, os; boto3.client('s3', endpoint_url=os.environ['MLFLOW_S3_ENDPOINT_URL']).create_bucket(Bucket='models')",
            ])
            .envs(env)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if made {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "moto did not start");
        std::thread::sleep(Duration::from_millis(250));
    }
    let server = start_server(
        dir.path(),
        &[
            "--default-artifact-root".into(),
            "s3://models/mlruns".into(),
            "--no-serve-artifacts".into(),
        ],
        &env,
    );
    lifecycle_against(&server, dir.path(), &env);
    // The model is in the bucket.
    let listed = Command::new(python())
        .args([
            "-c",
            "import boto3, os; r = boto3.client('s3', endpoint_url=os.environ['MLFLOW_S3_ENDPOINT_URL']).list_objects_v2(Bucket='models'); print('\\n'.join(o['Key'] for o in r.get('Contents', [])))",
        ])
        .envs(env)
        .output()
        .unwrap();
    let keys = String::from_utf8_lossy(&listed.stdout);
    assert!(
        keys.lines().any(|k| k.ends_with("/artifacts/model/model.mlsdk")),
        "{keys}"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
