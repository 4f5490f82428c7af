#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![cfg(unix)]
//! `mlsdk ci init` and `mlsdk ci gate`: the workflow's own steps, run as a
//! script on bundled data (train, evaluate, fairness, the gates, promotion,
//! the deploy artefacts), a gate that fails, and the workflow checked by
//! GitHub's own parser (`@actions/workflow-parser`; `scripts/test.sh` runs
//! that test with `MLSDK_WORKFLOW_PARSER=scripts/workflow-parser --
//! --include-ignored` after `npm ci` there).

mod common;

use std::path::Path;
use std::process::Command;

use common::run_in;
use ml_sdk::ci::{CONFIG_PATH, PipelineConfig, WORKFLOW_PATH};

/// Run the workflow's steps after checkout (bar installing mlsdk: the one
/// under test is put first on PATH) in `repo` with bash, as a runner would;
/// the first failing step's name and output, if any.
fn run_steps(repo: &Path) -> Result<Vec<String>, (String, String)> {
    let config = PipelineConfig::load(&repo.join(CONFIG_PATH)).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_mlsdk")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut names = Vec::new();
    for (name, script) in config.steps().into_iter().skip(1) {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(repo)
            .env("PATH", &path)
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("MLFLOW_EXPERIMENT_NAME")
            .output()
            .unwrap();
        if !out.status.success() {
            return Err((
                name,
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            ));
        }
        names.push(name);
    }
    Ok(names)
}

fn init(repo: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "ci",
        "init",
        "--out",
        ".",
        "--data",
        "data/credit.csv",
        "--target",
        "risk",
        "--model",
        "logistic",
        "--sensitive",
        "sex",
        "--registered-model",
        "credit",
        "--install",
        "cargo install --locked ml-sdk-cli",
    ];
    args.extend_from_slice(extra);
    run_in(repo, &args)
}

#[test]
fn the_workflows_steps_train_gate_promote_and_write_deploy_artefacts() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    std::fs::create_dir(repo.join("data")).unwrap();
    run_in(
        repo,
        &["datasets", "export", "german_credit", "--out", "data/credit.csv"],
    );
    let printed = init(
        repo,
        &[
            "--min",
            "accuracy=0.6",
            "--max",
            "log_loss=0.7",
            "--max-fairness",
            "demographic_parity_difference=0.3",
        ],
    );
    assert!(
        printed.contains(WORKFLOW_PATH) && printed.contains("Quality, fairness"),
        "{printed}"
    );
    let yaml = std::fs::read_to_string(repo.join(WORKFLOW_PATH)).unwrap();
    assert!(
        yaml.contains("actions/checkout@v4") && yaml.contains("mlsdk ci gate"),
        "{yaml}"
    );
    // An existing workflow is kept unless --force.
    let again = common::command(&["ci", "init", "--out", ".", "--data", "x.csv", "--target", "y"])
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(repo.join(WORKFLOW_PATH)).unwrap(), yaml);

    let steps = run_steps(repo).unwrap_or_else(|(name, out)| panic!("step {name:?} failed:\n{out}"));
    assert_eq!(steps.len(), 5, "{steps:?}");
    let gate: serde_json::Value = serde_json::from_slice(
        &common::command(&["ci", "gate", "--no-promote", "--json"])
            .current_dir(repo)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(gate["passed"], true, "{gate}");
    assert_eq!(gate["gates"].as_array().unwrap().len(), 3, "{gate}");
    let resolved = run_in(repo, &["models", "resolve", "credit", "champion", "--json"]);
    assert!(resolved.contains("\"version\": 1"), "{resolved}");
    for f in [
        "deploy/triton/credit/config.pbtxt",
        "deploy/kubernetes",
        "deploy/kserve",
        "deploy/docker/Dockerfile",
        "reports/fairness/report.html",
    ] {
        assert!(repo.join(f).exists(), "no {f}");
    }

    // A stricter gate fails the job, names the gate, and leaves the alias
    // on the version that passed.
    init(repo, &["--min", "accuracy=0.99", "--force"]);
    let (name, out) = run_steps(repo).unwrap_err();
    assert!(name.starts_with("Quality"), "{name}: {out}");
    assert!(out.contains("accuracy >= 0.99") && out.contains("measured"), "{out}");
    let resolved = run_in(repo, &["models", "resolve", "credit", "champion", "--json"]);
    assert!(resolved.contains("\"version\": 1"), "{resolved}");
    let versions = run_in(repo, &["models", "versions", "credit", "--json"]);
    assert!(versions.contains("\"version\": 2"), "{versions}");
}

#[test]
fn bad_pipelines_are_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let fail = |args: &[&str], needle: &str| {
        let out = common::command(args).current_dir(tmp.path()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(needle), "{args:?}: {err}");
    };
    let base = ["ci", "init", "--out", ".", "--data", "d.csv", "--target", "y"];
    fail(&[&base[..], &["--min", "accuracy"]].concat(), "NAME=VALUE");
    fail(&[&base[..], &["--min", "accuracy=high"]].concat(), "not a number");
    fail(
        &[&base[..], &["--max-fairness", "demographic_parity_difference=0.1"]].concat(),
        "sensitive",
    );
    fail(
        &[&base[..], &["--registered-model", "a b"]].concat(),
        "registered_model",
    );
    fail(&[&base[..], &["--skip-deploy", "helm"]].concat(), "helm");
    assert!(!tmp.path().join(WORKFLOW_PATH).exists());
    fail(&["ci", "gate"], "pipeline.json");
    std::fs::create_dir_all(tmp.path().join(".mlsdk")).unwrap();
    std::fs::write(tmp.path().join(CONFIG_PATH), "{\"data\": 1}").unwrap();
    fail(&["ci", "gate"], "pipeline config");
}

/// GitHub's parser on a workflow: (passed, its JSON report).
fn parse_workflows(files: &[&Path]) -> (bool, Vec<serde_json::Value>) {
    let dir = std::env::var("MLSDK_WORKFLOW_PARSER").expect("set MLSDK_WORKFLOW_PARSER (scripts/test.sh does)");
    let out = Command::new("node")
        .args(["--import", "./register.mjs", "check.mjs"])
        .args(files)
        .current_dir(dir)
        .output()
        .unwrap();
    let reports = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (out.status.success(), reports)
}

#[test]
#[ignore = "needs GitHub's workflow parser: scripts/test.sh sets MLSDK_WORKFLOW_PARSER"]
fn githubs_own_parser_accepts_the_workflows() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    init(repo, &["--min", "accuracy=0.6", "--max-epsilon", "2"]);
    let ours = repo.join(WORKFLOW_PATH);
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/ci.yml");
    let (ok, reports) = parse_workflows(&[&ours, &project]);
    assert!(ok, "{reports:#?}");
    // The parser sees the steps the script test runs, in order.
    let config = PipelineConfig::load(&repo.join(CONFIG_PATH)).unwrap();
    let steps = reports[0]["jobs"][0]["steps"].as_array().unwrap();
    let runs: Vec<String> = steps
        .iter()
        .filter_map(|s| s["run"].as_str().map(|r| r.trim_end().to_string()))
        .collect();
    let expected: Vec<String> = config.steps().into_iter().map(|(_, r)| r).collect();
    assert_eq!(runs, expected);
    assert!(steps.iter().any(|s| s["uses"] == "actions/upload-artifact@v4"));

    // The parser is strict: a misspelt key fails.
    let broken = repo.join("broken.yml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(&ours).unwrap().replace("runs-on:", "run-on:"),
    )
    .unwrap();
    let (ok, reports) = parse_workflows(&[&broken]);
    assert!(
        !ok && !reports[0]["errors"].as_array().unwrap().is_empty(),
        "{reports:#?}"
    );
}
