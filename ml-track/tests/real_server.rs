#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![cfg(unix)]
//! The REST back end against a real `mlflow server` (SQLite backend, artifact
//! serving) on 127.0.0.1: our client writes and the Python MlflowClient reads
//! the same values; the Python client writes and our client reads; server
//! errors arrive typed with MLflow's error_code; a lost response is retried
//! without duplicating what was logged.
//!
//! Needs the Python reference tools: `scripts/test.sh` runs these tests with
//! `MLSDK_PYTHON=.venv/bin/python -- --include-ignored`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ml_core::{MetricPoint, RunId, RunStatus, Tracker};
use ml_track::{Error, MlflowRestClient, RetryPolicy};
use serde_json::json;

fn python() -> String {
    std::env::var("MLSDK_PYTHON").expect("set MLSDK_PYTHON to the .venv python (scripts/test.sh does)")
}

fn script() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/check_tracking.py")
}

struct Server {
    _child: Group,
    url: String,
    _dir: tempfile::TempDir,
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

/// One server at a time: two starting together compete for the 2 cores
/// and could be handed the same free port.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_server() -> Server {
    start_server_with(None, &[])
}

/// A server whose artifacts are proxied into a directory of its own, or,
/// with `artifact_root`, handed out as that location for clients to reach
/// directly (`--default-artifact-root ROOT --no-serve-artifacts`).
fn start_server_with(artifact_root: Option<&str>, env: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let artifacts: Vec<String> = match artifact_root {
        Some(root) => vec![
            "--default-artifact-root".into(),
            root.into(),
            "--no-serve-artifacts".into(),
        ],
        None => vec![
            "--artifacts-destination".into(),
            dir.path().join("artifacts").display().to_string(),
        ],
    };
    let child = Command::new(python())
        .args([
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--workers",
            "1",
        ])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.path().join("mlflow.db").display()))
        .args(&artifacts)
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mlflow server");
    let url = format!("http://127.0.0.1:{port}");
    let server = Server {
        _child: Group(child),
        url,
        _dir: dir,
    };
    let probe = MlflowRestClient::new(&server.url).with_retry(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    });
    let start = Instant::now();
    while probe.experiment_id("Default").is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "mlflow server did not start"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    server
}

fn point(key: &str, value: f64, step: i64) -> MetricPoint {
    MetricPoint {
        key: key.into(),
        value,
        step,
        timestamp_ms: 1_700_000_000_000 + step,
    }
}

/// A proxy that forwards each HTTP request to `upstream` on its own connection
/// and, for the first request whose path contains `drop_path`, throws the
/// response away and closes the connection: the request took effect but the
/// client never heard.
fn lossy_proxy(upstream: String, drop_path: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&dropped);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let upstream = upstream.clone();
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                // One request per connection: read headers and body.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                let header_end = loop {
                    let n = client.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                while buf.len() < header_end + len {
                    let n = client.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = head.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
                let mut up = TcpStream::connect(upstream.trim_start_matches("http://")).unwrap();
                up.write_all(head.as_bytes()).unwrap();
                up.write_all(&buf[header_end..]).unwrap();
                let mut response = Vec::new();
                let _ = up.read_to_end(&mut response);
                let first_line = head.lines().next().unwrap_or("");
                if first_line.contains(drop_path) && counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    return; // lose the response
                }
                let _ = client.write_all(&response);
            });
        }
    });
    (url, dropped)
}

#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn rest_client_and_python_client_read_each_other() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = start_server();
    let client = MlflowRestClient::new(&server.url);

    // Ours writes: 2,500 metrics and 150 params in one call each, chunked by the client.
    let run = client.start_run("rest interop", Some("from rust")).unwrap();
    let metrics: Vec<MetricPoint> = (0..2500).map(|i| point("loss", 1.0 / (1.0 + i as f64), i)).collect();
    client.log_metrics(&run, &metrics).unwrap();
    let params: Vec<(String, String)> = (0..150).map(|i| (format!("p{i:03}"), format!("{}", i * 7))).collect();
    client.log_params(&run, &params).unwrap();
    client.set_tags(&run, &[("team".into(), "ml-sdk".into())]).unwrap();
    client.log_artifact(&run, "model/model.mlsdk", b"model bytes").unwrap();
    assert_eq!(
        client.download_artifact(&run, "model/model.mlsdk").unwrap(),
        b"model bytes"
    );
    client.end_run(&run, RunStatus::Finished).unwrap();
    let v = client.register_model("rest-model", &run, "model").unwrap();
    let v2 = client.register_model("rest-model", &run, "model").unwrap();
    assert_eq!((v.version, v2.version), (1, 2));
    assert_eq!(
        client
            .model_versions("rest-model")
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    client.set_alias("rest-model", "champion", v.version).unwrap();
    assert_eq!(
        client.resolve_alias("rest-model", "champion").unwrap().version,
        v.version
    );

    let dir = tempfile::tempdir().unwrap();
    let expected = json!({"experiments": [{"name": "rest interop", "runs": [{
        "run_id": run.0, "run_name": "from rust", "status": "FINISHED",
        "params": params.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "tags": {"team": "ml-sdk"},
        "metrics": {"loss": metrics.iter().map(|m| json!({"step": m.step, "timestamp_ms": m.timestamp_ms, "value": m.value})).collect::<Vec<_>>()},
        "artifact_dir": "model", "artifacts": ["model/model.mlsdk"], "artifact_text": {"model/model.mlsdk": "model bytes"},
    }]}], "registry": {"name": "rest-model", "versions": [
        {"version": 1, "run_id": run.0, "source": format!("runs:/{}/model", run.0)},
        {"version": 2, "run_id": run.0, "source": format!("runs:/{}/model", run.0)},
    ], "aliases": {"champion": 1}}});
    let file = dir.path().join("expected.json");
    std::fs::write(&file, serde_json::to_vec(&expected).unwrap()).unwrap();
    let out = Command::new(python())
        .args([script(), "mlflow", &server.url, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Python writes, ours reads.
    let ids = dir.path().join("ids.json");
    let out = Command::new(python())
        .args([script(), "write", &server.url, ids.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ids: serde_json::Value = serde_json::from_slice(&std::fs::read(&ids).unwrap()).unwrap();
    let rec = client.get_run(ids["run_id"].as_str().unwrap()).unwrap();
    assert_eq!(rec.info.status, RunStatus::Killed);
    assert_eq!(rec.info.run_name, "python run");
    assert_eq!(rec.params.len(), 120);
    assert_eq!(rec.params["p7"], "21");
    assert_eq!(rec.tags["origin"], "python");
    let loss = &rec.metrics["loss"];
    assert_eq!(loss.len(), 1500);
    let mut by_step: Vec<_> = loss.iter().map(|m| (m.step, m.value, m.timestamp_ms)).collect();
    by_step.sort_by_key(|p| p.0);
    assert_eq!(by_step[10], (10, 1.0 / 11.0, 1_700_000_000_010));
    let runs = client
        .search_runs(&[ids["experiment_id"].as_str().unwrap().to_string()], "")
        .unwrap();
    assert_eq!(runs.len(), 1);

    // Server errors are typed with MLflow's error_code.
    let e = client.get_run("0123456789abcdef0123456789abcdef").unwrap_err();
    assert_eq!(e.error_code(), "RESOURCE_DOES_NOT_EXIST", "{e}");
    let e = client
        .log_batch(&run, &[], &[("p001".into(), "changed".into())], &[])
        .unwrap_err();
    assert!(
        matches!(&e, Error::Server { status: 400, .. }) && e.error_code() == "INVALID_PARAMETER_VALUE",
        "{e}"
    );
    // Invalid keys never leave the client.
    assert!(matches!(
        client.log_batch(&run, &[point("../x", 1.0, 0)], &[], &[]).unwrap_err(),
        Error::Invalid { .. }
    ));
}

#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn lost_responses_are_retried_without_duplicates() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let server = start_server();
    let (proxy, dropped) = lossy_proxy(server.url.clone(), "log-batch");
    let retry = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    let client = MlflowRestClient::new(&proxy).with_retry(retry);
    let run = client.start_run("retries", None).unwrap();
    let metrics: Vec<MetricPoint> = (0..300).map(|i| point("acc", i as f64 / 300.0, i)).collect();
    client
        .log_batch(&run, &metrics, &[("lr".into(), "0.1".into())], &[])
        .unwrap();
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        2,
        "one response lost, then the retry answered"
    );
    let direct = MlflowRestClient::new(&server.url);
    let rec = direct.get_run(&run.0).unwrap();
    assert_eq!(rec.metrics["acc"].len(), 300, "no metric logged twice");
    assert_eq!(rec.params["lr"], "0.1");

    // Nothing listening: a typed transport error after the configured attempts.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let client = MlflowRestClient::new(&dead).with_retry(RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
        ..RetryPolicy::default()
    });
    let start = Instant::now();
    let e = client
        .log_batch(&RunId("r".into()), &[point("m", 1.0, 0)], &[], &[])
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e}");
    assert!(start.elapsed() >= Duration::from_millis(20), "two backoffs waited");
}

/// Artifacts in an S3-compatible store (moto's S3 server on loopback): a
/// server started with `--default-artifact-root s3://… --no-serve-artifacts`
/// hands out `s3://` locations, our client writes, lists and downloads there
/// directly, and the Python client (boto3) reads what ours wrote and writes
/// what ours reads.
#[cfg(feature = "s3")]
#[test]
#[ignore = "needs the Python reference tools (scripts/test.sh)"]
fn artifacts_in_an_s3_compatible_store() {
    use ml_track::{S3Config, TrackingStore};

    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let s3_port = free_port();
    let endpoint = format!("http://127.0.0.1:{s3_port}");
    let s3_env = [
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
    let py = |code: &str, args: &[&str]| {
        let out = Command::new(python())
            .arg("-c")
            .arg(code)
            .args(args)
            .envs(s3_env)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", s3_port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    py(
        "import boto3, os; boto3.client('s3', endpoint_url=os.environ['MLFLOW_S3_ENDPOINT_URL']).create_bucket(Bucket='mlsdk')",
        &[],
    );

    let server = start_server_with(Some("s3://mlsdk/mlruns"), &s3_env);
    let url = server.url.clone();
    let config = S3Config::default()
        .endpoint(&endpoint)
        .credentials("testing", "testing")
        .region("us-east-1");
    let client = MlflowRestClient::new(&url).with_s3(config);

    // Ours writes into the bucket; lists and reads back.
    let run = client.start_run("s3", Some("rust")).unwrap();
    client.log_artifact(&run, "model/MLmodel", b"flavors: {}\n").unwrap();
    client.log_artifact(&run, "model/model.mlsdk", b"model bytes").unwrap();
    client.log_artifact(&run, "notes.txt", b"hello").unwrap();
    let listed: Vec<(String, bool)> = client
        .list_artifacts(&run, "")
        .unwrap()
        .into_iter()
        .map(|e| (e.path, e.is_dir))
        .collect();
    assert_eq!(listed, [("model".to_string(), true), ("notes.txt".to_string(), false)]);
    let inner = client.list_artifacts(&run, "model").unwrap();
    assert_eq!(inner[1].path, "model/model.mlsdk");
    assert_eq!(inner[1].file_size, Some(11));
    assert_eq!(
        client.download_artifact(&run, "model/model.mlsdk").unwrap(),
        b"model bytes"
    );
    assert!(matches!(
        client.download_artifact(&run, "model/missing").unwrap_err(),
        Error::NotFound { .. }
    ));
    let copy = dir.path().join("copy");
    let copied = TrackingStore::download_artifacts(&client, &run.0, "model", &copy).unwrap();
    assert_eq!(copied, copy.join("model"));
    assert_eq!(std::fs::read(copied.join("MLmodel")).unwrap(), b"flavors: {}\n");
    assert!(
        TrackingStore::local_artifact_path(&client, &run.0, "model")
            .unwrap()
            .is_none()
    );
    client.end_run(&run, RunStatus::Finished).unwrap();

    // Python reads what ours wrote, in the bucket, and writes what ours reads.
    let reader = "import sys, pathlib; from mlflow.tracking import MlflowClient\n\
        c = MlflowClient(tracking_uri=sys.argv[1]); run = sys.argv[2]\n\
        assert c.get_run(run).info.artifact_uri.startswith('s3://mlsdk/mlruns/'), c.get_run(run).info.artifact_uri\n\
        d = c.download_artifacts(run, 'model', sys.argv[3])\n\
        print(pathlib.Path(d, 'model.mlsdk').read_text())\n\
        exp = c.get_experiment_by_name('s3').experiment_id\n\
        other = c.create_run(exp).info.run_id\n\
        c.log_text(other, 'from python', 'py/hello.txt')\n\
        print(other)";
    let out = py(reader, &[&url, &run.0, dir.path().join("py").to_str().unwrap()]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("model bytes"));
    let other = RunId(lines.next().unwrap().to_string());
    assert_eq!(
        client.download_artifact(&other, "py/hello.txt").unwrap(),
        b"from python"
    );
}
