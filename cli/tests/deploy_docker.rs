#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![cfg(unix)]
//! `mlsdk deploy docker` built and run for real, offline, with podman:
//! the image builds from the written context (`--pull=never`, the base
//! image made by `scripts/setup-podman.sh`), runs as its non-root user with
//! its ports on 127.0.0.1, passes its own HEALTHCHECK, answers the real
//! Triton clients (HTTP and gRPC) as onnxruntime does, and stops on SIGTERM
//! with exit status 0.
//!
//! Needs podman and the serving clients: `scripts/test.sh` runs this with
//! the environment `scripts/setup-podman.sh` prints and
//! `MLSDK_SERVING_PYTHON=.venv-serving/bin/python -- --include-ignored`.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{csv_rows, run_in};
use serde_json::{Value, json};

fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program).args(args).current_dir(dir).output().unwrap()
}

fn ok(program: &str, args: &[&str], dir: &Path) -> String {
    let out = run(program, args, dir);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The container and image, removed however the test ends.
struct Cleanup {
    container: String,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rm", "-f", &self.container]).output();
        let _ = Command::new("podman").args(["rmi", "-f", &self.image]).output();
    }
}

#[test]
#[ignore = "needs podman (scripts/setup-podman.sh) and the serving clients (scripts/test.sh)"]
fn the_image_builds_offline_serves_the_clients_and_stops_on_sigterm() {
    assert!(
        std::env::var("CONTAINERS_CONF").is_ok(),
        "run with the environment scripts/setup-podman.sh prints"
    );
    let python = std::env::var("MLSDK_SERVING_PYTHON").expect("set MLSDK_SERVING_PYTHON (scripts/test.sh does)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mlsdk = env!("CARGO_BIN_EXE_mlsdk");
    run_in(dir, &["datasets", "export", "breast_cancer", "--out", "bc.csv"]);
    run_in(
        dir,
        &[
            "train", "--data", "bc.csv", "--target", "target", "--model", "logistic", "--out", "m",
        ],
    );
    run_in(dir, &["export-onnx", "--model", "m", "--out", "bc.onnx"]);
    // The image gets a stripped copy of this build's server.
    ok("strip", &["-o", "mlsdk-stripped", mlsdk], dir);
    let tag = format!("localhost/mlsdk-test-{}:latest", std::process::id());
    run_in(
        dir,
        &[
            "deploy",
            "docker",
            "--model",
            "bc=m",
            "--out",
            "ctx",
            "--image",
            &tag,
            "--server-binary",
            "mlsdk-stripped",
        ],
    );
    let cleanup = Cleanup {
        container: format!("mlsdk-test-{}", std::process::id()),
        image: tag.clone(),
    };
    ok(
        "podman",
        &["build", "--pull=never", "--format", "docker", "-t", &tag, "ctx"],
        dir,
    );
    let config: Value = serde_json::from_str(&ok("podman", &["image", "inspect", &tag], dir)).unwrap();
    assert_eq!(config[0]["Config"]["User"], "10001:10001");

    let (http, grpc) = (free_port(), free_port());
    ok(
        "podman",
        &[
            "run",
            "-d",
            "--init",
            "--name",
            &cleanup.container,
            "-p",
            &format!("127.0.0.1:{http}:8080"),
            "-p",
            &format!("127.0.0.1:{grpc}:8081"),
            &tag,
        ],
        dir,
    );
    let started = Instant::now();
    while ml_sdk::serve::probe(
        &format!("http://127.0.0.1:{http}/v2/health/ready"),
        Duration::from_secs(1),
    )
    .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the container did not become ready"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The image's own HEALTHCHECK (mlsdk probe inside the container).
    ok("podman", &["healthcheck", "run", &cleanup.container], dir);

    let rows = csv_rows(&dir.join("bc.csv"), "target", 10);
    let manifest = json!({
        "http": format!("127.0.0.1:{http}"),
        "grpc": format!("127.0.0.1:{grpc}"),
        "models": [{"name": "bc", "onnx": dir.join("bc.onnx"), "rows": rows}],
    });
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check_serving.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(dir.join("manifest.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check_serving.py against the container:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // SIGTERM (podman stop) reaches the server through --init: it drains and exits 0, well before the timeout.
    let stopping = Instant::now();
    ok("podman", &["stop", "-t", "20", &cleanup.container], dir);
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "stop took {:?}",
        stopping.elapsed()
    );
    let code = ok(
        "podman",
        &["inspect", &cleanup.container, "--format", "{{.State.ExitCode}}"],
        dir,
    );
    assert_eq!(code, "0", "the server's exit status");
}
