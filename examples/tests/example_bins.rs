//! The example binaries run to the end on the bundled data and show what
//! they claim: exact SHAP sums and a chart, ONNX round trips that agree with
//! the model (on ONNX Runtime too when `ORT_DYLIB_PATH` is set, as in
//! scripts/test.sh), and a privacy budget that refuses the overspending
//! release.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use std::process::Command;

fn run(exe: &str, args: &[&str]) -> String {
    let out = Command::new(exe).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{exe} failed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The first number after `marker` on the first line holding it.
fn number_after(text: &str, marker: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no '{marker}' in:\n{text}"));
    let rest = &line[line.find(marker).unwrap() + marker.len()..];
    rest.split_whitespace()
        .find_map(|w| w.trim_end_matches([';', ',', ')', ':']).parse().ok())
        .unwrap_or_else(|| panic!("no number after '{marker}' in: {line}"))
}

/// The main command (`cargo run --release -p ml-sdk-examples --bin
/// credit_scoring`) resolves this package's features alone: what it builds
/// must hold no ONNX runtime and no burn, which the example never runs.
#[test]
fn the_main_example_builds_no_onnx_runtime_and_no_burn() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--manifest-path", manifest, "-p", "ml-sdk-examples"])
        .args(["-e", "normal,build", "--prefix", "none", "--locked", "--offline"])
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crates: std::collections::BTreeSet<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    // The tree holds what the example does use: the export, serving and encryption.
    for used in ["ml-onnx", "ml-serve", "ml-he", "tfhe", "ml-interpret"] {
        assert!(crates.contains(used), "{used} missing from:\n{tree}");
    }
    let unused: Vec<&&str> = crates
        .iter()
        .filter(|c| c.starts_with("tract") || ["ort", "ort-sys", "burn", "ml-neural", "ml-rl"].contains(c))
        .collect();
    assert!(unused.is_empty(), "the main example builds {unused:?}");
}

#[test]
fn explain_fairness_sums_shap_exactly_and_draws_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(env!("CARGO_BIN_EXE_explain_fairness"), &[dir.path().to_str().unwrap()]);
    assert!(number_after(&out, "sum of SHAP values = P(1) to") < 1e-9, "{out}");
    let svg = std::fs::read_to_string(dir.path().join("shap_summary.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("checking_account"),
        "{}",
        &svg[..200.min(svg.len())]
    );
    for name in ["threshold optimizer", "exponentiated gradient"] {
        let accuracy = number_after(&out, &format!("{name}: accuracy"));
        assert!((0.6..=0.9).contains(&accuracy), "{out}");
    }
    assert!(number_after(&out, "duality gap") < 1e-6, "{out}");
}

#[cfg(feature = "onnx-runtimes")]
#[test]
fn onnx_interop_round_trips_agree_with_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(env!("CARGO_BIN_EXE_onnx_interop"), &[dir.path().to_str().unwrap()]);
    let diffs: Vec<f64> = out
        .lines()
        .filter(|l| l.contains("largest difference"))
        .map(|l| number_after(l, "largest difference"))
        .collect();
    let runtimes = if std::env::var_os("ORT_DYLIB_PATH").is_some() {
        3
    } else {
        2
    };
    assert_eq!(diffs.len(), 3 * runtimes, "{out}");
    // Probabilities to f32 rounding; diabetes values (about 150) to 1e-6 relative.
    assert!(diffs.iter().all(|&d| d < 2e-4), "{out}");
    for f in [
        "breast_cancer_logistic.onnx",
        "iris_forest.onnx",
        "diabetes_forest.onnx",
    ] {
        let bytes = std::fs::read(dir.path().join(f)).unwrap();
        assert!(bytes.len() > 1000, "{f}");
    }
}

#[test]
fn private_analytics_stays_within_its_budget() {
    let out = run(env!("CARGO_BIN_EXE_private_analytics"), &[]);
    assert!(out.contains("refused: privacy budget exceeded"), "{out}");
    let json = &out[out.find("ledger:").unwrap() + "ledger:".len()..];
    let ledger: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let entries = ledger["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 5, "{ledger}");
    assert_eq!(entries[4]["label"], "dp_logistic");
    // The noise is the operating system's: any accuracy a model can have.
    let accuracy = number_after(&out, "held-out accuracy");
    assert!((0.0..=1.0).contains(&accuracy), "{out}");
}

#[test]
fn credit_scoring_runs_the_lifecycle_into_one_registered_run() {
    use ml_sdk::track::MlflowStore;
    let dir = tempfile::tempdir().unwrap();
    let out = run(env!("CARGO_BIN_EXE_credit_scoring"), &[dir.path().to_str().unwrap()]);
    for step in [
        "1. data",
        "2. trained",
        "3. explained",
        "4. fairness by sex",
        "4. fairness by age_group",
        "5. exported",
        "6. logged",
        "7. serving",
        "server shut down",
    ] {
        assert!(out.contains(step), "no '{step}' in:\n{out}");
    }
    assert!(out.contains("labels equal the model's"), "{out}");
    let accuracy = number_after(&out, "trained logistic     held-out accuracy");
    assert!((0.65..=0.85).contains(&accuracy), "{out}");

    // The store: one finished run in the experiment, registered as credit@champion.
    let store = MlflowStore::open(dir.path().join("mlruns")).unwrap();
    let version = store.resolve_alias("credit", "champion").unwrap();
    let record = store.run(&version.run_id).unwrap();
    assert_eq!(record.info.status, ml_sdk::core::RunStatus::Finished);
    assert_eq!(record.info.run_name, "credit-scoring");
    for key in [
        "logistic_test_accuracy",
        "dp_logistic_test_accuracy",
        "forest_test_accuracy",
        "privacy_epsilon_spent",
        "fairness/demographic_parity_difference",
        "mitigated_demographic_parity_difference",
        "fairness_age_group/demographic_parity_difference",
        "train_accuracy",
    ] {
        assert!(
            record.metrics.contains_key(key),
            "no metric {key}: {:?}",
            record.metrics.keys()
        );
    }
    let logged = record.metrics["logistic_test_accuracy"][0].value;
    assert!((logged - accuracy).abs() < 1e-4, "logged {logged}, printed {accuracy}");
    let artifacts = dir.path().join("mlruns");
    let files: Vec<String> = walk(&artifacts)
        .into_iter()
        .filter(|p| p.contains(&version.run_id))
        .collect();
    for suffix in [
        "artifacts/model/MLmodel",
        "artifacts/model/model.mlsdk",
        "artifacts/onnx-model/model.onnx",
        "artifacts/onnx-model/MLmodel",
        "artifacts/dp_model/MLmodel",
        "artifacts/fairness/report.json",
        "artifacts/fairness/sex/report.html",
        "artifacts/fairness/age_group/report.html",
        "artifacts/charts/forest/summary_1.svg",
        "artifacts/explanations/tree_shap_path_dependent.json",
        "artifacts/privacy/ledger.json",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(suffix)),
            "no {suffix} among {files:#?}"
        );
    }
    // The report files are also left where the run printed them.
    let html = std::fs::read_to_string(dir.path().join("fairness/sex/report.html")).unwrap();
    assert!(
        html.contains("demographic_parity_difference") && html.contains("female"),
        "{html}"
    );
}

/// Every file under `dir`, as paths.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path.to_string_lossy().into_owned());
        }
    }
    files
}

/// Chromium headless, with the flags that work as root on a CI machine,
/// loading `url` after `budget_ms` of virtual time; `extra` adds
/// `--dump-dom` or `--screenshot=…`. Its standard output.
fn chromium(url: &str, extra: &str, profile: &std::path::Path) -> String {
    let exe = std::env::var("MLSDK_CHROMIUM").expect("set MLSDK_CHROMIUM (scripts/test.sh does)");
    let out = Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page's DOM after its scripts ran, and a screenshot of it saved as `shot`.
fn render(url: &str, shot: &std::path::Path, tmp: &std::path::Path) -> String {
    let dom = chromium(url, "--dump-dom", &tmp.join("profile-dom"));
    chromium(
        url,
        &format!("--screenshot={}", shot.display()),
        &tmp.join("profile-shot"),
    );
    let png = std::fs::read(shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{} bytes", png.len());
    eprintln!("screenshot of {url}: {}", shot.display());
    dom
}

/// A child process group, stopped when dropped (mlflow server forks workers).
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        // `--`: without it procps' kill reads the negative group id as an
        // option and signals every process (kill(-1)).
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

#[test]
#[cfg(unix)]
#[ignore = "needs MLflow and Chromium: scripts/test.sh sets MLSDK_PYTHON and MLSDK_CHROMIUM"]
fn the_real_mlflow_ui_and_a_browser_show_the_credit_scoring_run() {
    use std::os::unix::process::CommandExt as _;
    let dir = tempfile::tempdir().unwrap();
    let out = run(env!("CARGO_BIN_EXE_credit_scoring"), &[dir.path().to_str().unwrap()]);
    let run_id = out
        .lines()
        .find_map(|l| l.strip_prefix("6. logged to MLflow run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in:\n{out}"))
        .to_string();
    let store = ml_sdk::track::MlflowStore::open(dir.path().join("mlruns")).unwrap();
    let experiment = store.run(&run_id).unwrap().info.experiment_id;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let python = std::env::var("MLSDK_PYTHON").expect("set MLSDK_PYTHON (scripts/test.sh does)");
    let _server = Group(
        Command::new(python)
            .args([
                "-m",
                "mlflow",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .arg("--backend-store-uri")
            .arg(dir.path().join("mlruns"))
            .env("MLFLOW_ALLOW_FILE_STORE", "true")
            .env("MLFLOW_DISABLE_TELEMETRY", "true")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    while ml_sdk::serve::probe(&format!("{base}/health"), std::time::Duration::from_secs(2)).is_err() {
        assert!(started.elapsed().as_secs() < 120, "mlflow server did not start");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // The run's page: its name, a metric and the registered model.
    let dom = render(
        &format!("{base}/#/experiments/{experiment}/runs/{run_id}"),
        &shots.join("mlflow_run.png"),
        dir.path(),
    );
    for text in [
        "credit-scoring",
        "logistic_test_accuracy",
        "Registered models",
        "/models/credit",
    ] {
        assert!(dom.contains(text), "the run page lacks {text:?}");
    }
    // The registered model's page shows the alias.
    let dom = render(
        &format!("{base}/#/models/credit"),
        &shots.join("mlflow_model.png"),
        dir.path(),
    );
    assert!(
        dom.contains("champion") && dom.contains("Version 1"),
        "the model page lacks the alias"
    );

    // The fairness report, as a browser renders it, with its charts loaded.
    let report = dir.path().join("fairness/age_group/report.html");
    let dom = render(
        &format!("file://{}", report.display()),
        &shots.join("fairness_age_group.png"),
        dir.path(),
    );
    assert!(
        dom.contains("demographic_parity_difference") && dom.contains("25 or younger") && dom.contains("<img"),
        "{dom}"
    );
}
