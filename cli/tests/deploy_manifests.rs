#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![cfg(unix)]
//! `mlsdk deploy k8s` and `mlsdk deploy kserve` checked by Kubernetes' and
//! KServe's own definitions: kubernetes-validate --strict and the official
//! client's pydantic models for the Deployment, Service and
//! HorizontalPodAutoscaler; KServe's model classes, walked strictly, for the
//! InferenceService. A manifest with an unknown field must fail the same
//! checks, so they are known to be strict.
//!
//! Needs the checkers' environments: `scripts/test.sh` runs this with
//! `MLSDK_K8S_PYTHON=.venv-k8s/bin/python MLSDK_KSERVE_PYTHON=.venv-kserve/bin/python -- --include-ignored`.

mod common;

use std::path::Path;
use std::process::Command;

use common::run_in;
use serde_json::Value;

/// Run scripts/check_manifests.py; its exit status and JSON report.
fn check(python_var: &str, mode: &str, target: &Path) -> (bool, Value) {
    let python = std::env::var(python_var).unwrap_or_else(|_| panic!("set {python_var} (scripts/test.sh does)"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check_manifests.py");
    let out = Command::new(python)
        .arg(script)
        .args([mode])
        .arg(target)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

#[test]
#[ignore = "needs the Kubernetes and KServe checkers' environments (scripts/test.sh)"]
fn manifests_pass_kubernetes_and_kserve_definitions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_in(dir, &["datasets", "export", "iris", "--out", "iris.csv"]);
    run_in(
        dir,
        &[
            "train", "--data", "iris.csv", "--target", "target", "--model", "forest", "--out", "m",
        ],
    );
    run_in(
        dir,
        &[
            "deploy",
            "k8s",
            "--model",
            "Iris_Forest=m",
            "--out",
            "k8s",
            "--image",
            "registry.example/iris:1",
            "--replicas",
            "2",
            "--max-replicas",
            "6",
        ],
    );
    run_in(
        dir,
        &["deploy", "kserve", "--model", "Iris_Forest=m", "--out", "kserve"],
    );

    let (ok, report) = check("MLSDK_K8S_PYTHON", "k8s", &dir.join("k8s"));
    assert!(ok, "{report}");
    assert_eq!(report["objects"].as_object().unwrap().len(), 3, "{report}");
    let deployment = std::fs::read_to_string(dir.join("k8s/deployment.yaml")).unwrap();
    for expected in [
        "name: \"iris-forest\"",
        "image: \"registry.example/iris:1\"",
        "readOnlyRootFilesystem: true",
        "path: \"/v2/health/ready\"",
    ] {
        assert!(deployment.contains(expected), "{expected} missing from\n{deployment}");
    }
    let hpa = std::fs::read_to_string(dir.join("k8s/hpa.yaml")).unwrap();
    assert!(
        hpa.contains("minReplicas: 2") && hpa.contains("maxReplicas: 6"),
        "{hpa}"
    );

    let isvc = dir.join("kserve/inferenceservice.yaml");
    let (ok, report) = check("MLSDK_KSERVE_PYTHON", "kserve", &isvc);
    assert!(ok, "{report}");
    assert_eq!(report["name"], "iris-forest");
    assert_eq!(report["ports"], serde_json::json!([8080]));

    // The same checks refuse a field neither schema has.
    let text = std::fs::read_to_string(dir.join("k8s/deployment.yaml")).unwrap();
    std::fs::write(
        dir.join("k8s/deployment.yaml"),
        text.replace(
            "      automountServiceAccountToken: false",
            "      automountServiceAccountToken: false\n      hostNetworks: true",
        ),
    )
    .unwrap();
    let (ok, report) = check("MLSDK_K8S_PYTHON", "k8s", &dir.join("k8s"));
    assert!(
        !ok && report["problems"].to_string().contains("hostNetworks"),
        "{report}"
    );
    let text = std::fs::read_to_string(&isvc).unwrap();
    std::fs::write(
        &isvc,
        text.replace("  predictor:\n", "  predictor:\n    minReplica: 3\n"),
    )
    .unwrap();
    let (ok, report) = check("MLSDK_KSERVE_PYTHON", "kserve", &isvc);
    assert!(!ok && report["problems"].to_string().contains("minReplica"), "{report}");
}
