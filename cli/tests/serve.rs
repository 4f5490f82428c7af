#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![cfg(unix)]
//! `mlsdk serve` as a process: a registry alias served and re-resolved
//! without a restart, MLflow's scoring routes, and the real
//! `mlflow models serve` giving the same predictions for the same payloads
//! (that one needs the Python reference tools: `scripts/test.sh` runs it
//! with `MLSDK_PYTHON=.venv/bin/python -- --include-ignored`).

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{Serve, csv_rows, run_in};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A child process killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn get_json(url: &str) -> (u16, Value) {
    let mut r = agent().get(url).call().unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null),
    )
}

fn post(url: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut r = agent()
        .post(url)
        .header("Content-Type", content_type)
        .send(body)
        .unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!({ "text": text })),
    )
}

#[test]
fn a_registry_alias_is_served_and_re_resolved_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_in(dir, &["datasets", "export", "breast_cancer", "--out", "bc.csv"]);
    for (c, out) in [("1.0", "m1"), ("0.01", "m2")] {
        run_in(
            dir,
            &[
                "train",
                "--data",
                "bc.csv",
                "--target",
                "target",
                "--model",
                "logistic",
                "--param",
                &format!("c={c}"),
                "--out",
                out,
                "--tracking-uri",
                "mlruns",
                "--register",
                "bc",
            ],
        );
    }
    run_in(
        dir,
        &["models", "alias", "bc", "champion", "1", "--tracking-uri", "mlruns"],
    );
    let server = Serve::start(
        dir,
        &["--model", "credit=models:/bc@champion", "--tracking-uri", "mlruns"],
    );
    let url = format!("http://{}", server.http);
    let (status, meta) = get_json(&format!("{url}/v2/models/credit"));
    assert_eq!(status, 200);
    assert_eq!(meta["versions"], json!(["1"]));

    let features = csv_rows(&dir.join("bc.csv"), "target", 1).remove(0);
    let body = serde_json::to_vec(&json!({"instances": [features]})).unwrap();
    let (_, before) = post(&format!("{url}/invocations"), "application/json", &body);

    // The alias moves; a load request re-resolves it.
    run_in(
        dir,
        &["models", "alias", "bc", "champion", "2", "--tracking-uri", "mlruns"],
    );
    let (status, _) = post(
        &format!("{url}/v2/repository/models/credit/load"),
        "application/json",
        b"{}",
    );
    assert_eq!(status, 200);
    let (_, meta) = get_json(&format!("{url}/v2/models/credit"));
    assert_eq!(meta["versions"], json!(["2"]));
    let (_, index) = post(&format!("{url}/v2/repository/index"), "application/json", b"");
    assert_eq!(
        index,
        json!([{"name": "credit", "version": "2", "state": "READY", "reason": ""}])
    );
    let (status, after) = post(&format!("{url}/invocations"), "application/json", &body);
    assert_eq!(status, 200);
    assert_ne!(
        before["predictions"]["probabilities"], after["predictions"]["probabilities"],
        "version 2 (c=0.01) answers differently from version 1"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `mlflow models serve` on a logged model, on loopback.
fn mlflow_serve(python: &str, model: &Path) -> (Process, String) {
    let port = free_port();
    let bin = Path::new(python).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let child = Command::new(bin.join("mlflow"))
        .args(["models", "serve", "-m"])
        .arg(model)
        .args(["--env-manager", "local", "--host", "127.0.0.1", "-p", &port.to_string()])
        .env("PATH", path)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let process = Process(child);
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while agent()
        .get(&format!("{url}/ping"))
        .call()
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "mlflow models serve did not start"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    (process, url)
}

fn logged_onnx_model(dir: &Path) -> PathBuf {
    let mut stack = vec![dir.join("mlruns")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.ends_with("onnx-model") {
                return p;
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    panic!("no onnx-model logged under {}", dir.display());
}

/// Predictions equal, numbers to 1e-9 relative.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-300) || x == y
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn mlflow_models_serve_and_mlsdk_serve_answer_the_same_payloads_alike() {
    let python = std::env::var("MLSDK_PYTHON").expect("set MLSDK_PYTHON to the .venv python (scripts/test.sh does)");
    for (dataset, model) in [("breast_cancer", "logistic"), ("diabetes", "linear")] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        run_in(dir, &["datasets", "export", dataset, "--out", "data.csv"]);
        run_in(
            dir,
            &[
                "train",
                "--data",
                "data.csv",
                "--target",
                "target",
                "--model",
                model,
                "--out",
                "m",
                "--tracking-uri",
                "mlruns",
                "--log-onnx",
            ],
        );
        let logged = logged_onnx_model(dir);
        let (_theirs, mlflow) = mlflow_serve(&python, &logged);
        let ours = Serve::start(dir, &["--model", &format!("m={}", logged.display())]);
        let mlsdk_url = format!("http://{}", ours.http);

        let text = std::fs::read_to_string(dir.join("data.csv")).unwrap();
        let header: Vec<String> = text.lines().next().unwrap().split(',').map(str::to_string).collect();
        let target = header.iter().position(|h| h == "target").unwrap();
        let columns: Vec<&String> = header
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != target)
            .map(|(_, h)| h)
            .collect();
        let rows = csv_rows(&dir.join("data.csv"), "target", 5);
        let records: Vec<Value> = rows
            .iter()
            .map(|r| {
                Value::Object(
                    columns
                        .iter()
                        .map(|c| c.to_string())
                        .zip(r.iter().map(|v| json!(v)))
                        .collect(),
                )
            })
            .collect();
        let mut csv = columns.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",");
        for r in &rows {
            csv.push('\n');
            csv.push_str(&r.iter().map(f64::to_string).collect::<Vec<_>>().join(","));
        }
        let json_payloads = [
            json!({"instances": rows}),
            json!({"inputs": rows}),
            json!({"inputs": {"input": rows}}),
            json!({"dataframe_split": {"columns": columns, "data": rows}}),
            json!({"dataframe_records": records}),
        ];
        let mut payloads: Vec<(&str, Vec<u8>)> = json_payloads
            .iter()
            .map(|p| ("application/json", serde_json::to_vec(p).unwrap()))
            .collect();
        payloads.push(("text/csv", csv.into_bytes()));

        let (status, reference) = post(&format!("{mlflow}/invocations"), "application/json", &payloads[0].1);
        assert_eq!(status, 200, "mlflow: {reference}");
        let mut compared = 0;
        for (content_type, body) in &payloads {
            let (ours_status, ours) = post(&format!("{mlsdk_url}/invocations"), content_type, body);
            let (their_status, theirs) = post(&format!("{mlflow}/invocations"), content_type, body);
            assert_eq!(ours_status, 200, "{dataset} {}: {ours}", String::from_utf8_lossy(body));
            if their_status == 200 {
                assert!(same(&ours, &theirs), "{dataset}: ours {ours}, mlflow {theirs}");
                compared += 1;
            } else {
                // MLflow's ONNX flavor refuses data frames for outputs of
                // different widths; ours answers them as the tensor forms.
                assert!(
                    same(&ours, &reference),
                    "{dataset}: ours {ours}, mlflow's tensor answer {reference}"
                );
            }
        }
        assert!(
            compared >= 3,
            "{dataset}: only {compared} payloads compared with mlflow"
        );
        for route in ["/ping", "/health"] {
            let r = agent().get(&format!("{mlsdk_url}{route}")).call().unwrap();
            assert_eq!(r.status().as_u16(), 200);
        }
    }
}
