//! The whole lifecycle on German credit, in one run of one binary:
//!
//! 1. train a logistic regression, a differentially private one (its
//!    privacy loss charged to a ledger) and a random forest;
//! 2. explain them: exact TreeSHAP on the forest, linear SHAP on the
//!    logistic regression, with charts;
//! 3. a fairness report by sex and by age group (≤ 25, > 25), and a
//!    mitigation (group thresholds for demographic parity by age group);
//! 4. export the logistic regression to ONNX;
//! 5. log everything to one MLflow run (params, metrics, the privacy ledger,
//!    explanations, fairness reports and charts, the model and its ONNX
//!    export with their `MLmodel` files) and register the model as
//!    `credit@champion`;
//! 6. serve `models:/credit@champion` over the Open Inference Protocol,
//!    score held-out applicants with a plain JSON client and with an
//!    encrypted one (the server never sees the applicants' data), and shut
//!    the server down.
//!
//! No Python is needed; the store is a standard `mlruns/` directory that
//! `mlflow ui` shows.
//!
//! ```text
//! cargo run --release -p ml-sdk-examples --bin credit_scoring [-- OUT_DIR]
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use ml_sdk::ModelLoadOptions;
use ml_sdk::core::metrics::score_model;
use ml_sdk::core::{MetricPoint, Predictions, RunId, RunStatus, Target, Tracker};
use ml_sdk::he::{ClientKey, HttpClient};
use ml_sdk::interpret::report::{FairnessReport, explained_values, explanation_charts};
use ml_sdk::interpret::{GroupMetric, LinearShap, MetricFrame, ParityConstraint, ThresholdOptimizer, TreeShap};
use ml_sdk::learn::Pipeline;
use ml_sdk::prelude::*;
use ml_sdk::privacy::{Budget, PrivacyLedger, PrivacyLoss};
use ml_sdk::serve::{ServeConfig, build_repository};
use ml_sdk::track::{FitRecord, log_fit};
use rand::SeedableRng;

/// The experiment and the registered model's name and alias.
const EXPERIMENT: &str = "credit_scoring";
const MODEL_NAME: &str = "credit";
const ALIAS: &str = "champion";
/// Applicants scored over the network by each client.
const SCORED: usize = 20;

fn main() -> Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "out/credit_scoring".into()));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let out = out.canonicalize()?;
    let mlruns = out.join("mlruns");
    let charts = out.join("charts");

    let data = ml_sdk::datasets::load("german_credit")?;
    let (train, test) = train_test_split(&data, 0.3, 42, true)?;
    let (_, classes) = data.classes()?;
    println!(
        "1. data: german_credit, {} applicants ({} to train, {} held out), {} features, target 'risk' {classes:?}",
        data.n_samples(),
        train.n_samples(),
        test.n_samples(),
        data.n_features()
    );

    // One MLflow run holds everything.
    let store = MlflowStore::open(&mlruns)?;
    let run = store.start_run(EXPERIMENT, Some("credit-scoring"))?;
    let guard = RunGuard::new(&store, run.clone());

    // 2. Three models.
    let logistic = Pipeline::from_params("logistic", &[], Some(7))?.fit_pipeline(&train)?;
    let forest = Pipeline::from_params(
        "forest",
        &[("n_trees".into(), "100".into()), ("max_depth".into(), "6".into())],
        Some(7),
    )?
    .fit_pipeline(&train)?;
    let private = Pipeline::from_params(
        "dp_logistic",
        &[
            ("epsilon".into(), "3.0".into()),
            // Public bounds from the data set's documentation, not from the
            // rows (bounds read off the data would leak them).
            ("bounds.job".into(), "0:3".into()),
            ("bounds.credit_amount".into(), "0:20000".into()),
            ("bounds.duration".into(), "0:72".into()),
            ("bounds.age".into(), "18:80".into()),
            ("insecure_seed".into(), "7".into()),
        ],
        Some(7),
    )?
    .fit_pipeline(&train)?;
    let (epsilon, delta) = private
        .privacy_spent()
        .context("a private model reports what it spent")?;
    let ledger = PrivacyLedger::filter(Budget::Approximate {
        epsilon: 3.0,
        delta: 1e-6,
    })?;
    ledger.charge(
        "dp_logistic on the training rows",
        PrivacyLoss::Approximate { epsilon, delta },
    )?;
    let mut test_metrics = Vec::new();
    for (name, model) in [("logistic", &logistic), ("dp_logistic", &private), ("forest", &forest)] {
        let scores = score_model(model, &test)?;
        println!(
            "2. trained {name:<12} held-out accuracy {:.4}, ROC AUC {:.4}",
            scores["accuracy"],
            scores.get("roc_auc").copied().unwrap_or(f64::NAN)
        );
        test_metrics.extend(scores.into_iter().map(|(k, v)| (format!("{name}_test_{k}"), v)));
    }
    println!("   the private model spent ε = {epsilon}, δ = {delta} of a budget of ε = 5, δ = 1e-6 (ledger logged)");

    // 3. Explanations.
    let tree_shap = TreeShap::path_dependent().explain(&forest, &test)?;
    let linear_shap = LinearShap::default().explain(&logistic, &test)?;
    let mut chart_files = Vec::new();
    for (dir, e, model) in [
        ("forest", &tree_shap, &forest as &dyn Model),
        ("logistic", &linear_shap, &logistic),
    ] {
        let x = explained_values(e, model, &test)?;
        chart_files.extend(explanation_charts(&charts.join(dir), e, x.view())?);
    }
    println!(
        "3. explained the forest (exact TreeSHAP) and the logistic regression (linear SHAP) on {} rows: {} charts in {}",
        test.n_samples(),
        chart_files.len(),
        charts.display()
    );

    // 4. Fairness by sex and by age group, and a mitigation.
    let Some(Target::Classes { labels: y, .. }) = test.target() else {
        bail!("german_credit has class labels");
    };
    let y = y.to_vec();
    let sex = test.sensitive().first().context("german_credit keeps sex aside")?;
    let age_column = test
        .feature_names()
        .iter()
        .position(|n| n == "age")
        .context("german_credit has an age column")?;
    let age = age_groups(&test, age_column);
    let predicted = labels_of(logistic.predict(test.features())?)?;
    let mut reports = Vec::new();
    for (column, groups) in [("sex", sex.values.as_slice()), ("age_group", age.as_slice())] {
        let columns = [(column, groups)];
        let frame = MetricFrame::new(
            &[
                GroupMetric::Accuracy,
                GroupMetric::SelectionRate,
                GroupMetric::TruePositiveRate,
                GroupMetric::FalsePositiveRate,
            ],
            &y,
            &predicted,
            &columns,
            1,
        )?;
        let parity = ml_sdk::interpret::parity_measures(&y, &predicted, &columns, 1)?;
        let dir = out.join("fairness").join(column);
        let files = FairnessReport {
            title: format!("Logistic regression on German credit, by {column}"),
            target: "risk".into(),
            positive_class: classes[1].clone(),
            sensitive: vec![column.into()],
            frame: &frame,
            parity: &parity,
        }
        .write(&dir)?;
        println!(
            "4. fairness by {column:<9} demographic parity difference {:.4}, equalized odds difference {:.4}: {}",
            parity["demographic_parity_difference"],
            parity["equalized_odds_difference"],
            files
                .iter()
                .find(|f| f.extension().is_some_and(|e| e == "html"))
                .unwrap_or(&dir)
                .display()
        );
        if column == "sex" {
            ml_sdk::interpret::track::log_fairness(&store, &run, &frame, &parity)?;
        }
        reports.push((column, dir, parity));
    }
    // The larger disparity is by age: group thresholds on the model's scores
    // for demographic parity between age groups, fitted on the training rows
    // (a logistic regression's scores are not overconfident there) and
    // applied to the held-out ones.
    let y_train = train.classes()?.0.to_vec();
    let age_train = age_groups(&train, age_column);
    let thresholds = ThresholdOptimizer::new(ParityConstraint::DemographicParity).fit(
        &positive(&logistic, train.features())?,
        &y_train,
        &age_train,
    )?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mitigated = thresholds.predict(&positive(&logistic, test.features())?, &age, &mut rng)?;
    let columns = [("age_group", age.as_slice())];
    let after = ml_sdk::interpret::parity_measures(&y, &mitigated, &columns, 1)?;
    let accuracy = |p: &[usize]| y.iter().zip(p).filter(|(a, b)| a == b).count() as f64 / y.len() as f64;
    println!(
        "   mitigation (threshold optimizer, demographic parity by age group): difference {:.4} → {:.4}, accuracy {:.4} → {:.4}",
        reports[1].2["demographic_parity_difference"],
        after["demographic_parity_difference"],
        accuracy(&predicted),
        accuracy(&mitigated)
    );

    // 5. ONNX export of the model to register.
    let saved = SavedModel::from_model(&logistic, logistic.trainer(), logistic.params().to_vec())?;
    let onnx = ml_sdk::onnx::export(&saved.spec)?;
    println!(
        "5. exported the logistic regression to ONNX ({} bytes, opset 17)",
        onnx.len()
    );

    // 6. Everything to the run, then the registry.
    let mut record = FitRecord::new();
    record.params = vec![
        ("data".into(), "german_credit".into()),
        ("target".into(), "risk".into()),
    ];
    record.train_metrics = score_model(&logistic, &train)?;
    record.tags = vec![("mlsdk.example".into(), "credit_scoring".into())];
    record.onnx = Some(onnx);
    record.provenance = Some(Provenance::collect().with_dataset(&train));
    log_fit(&store, &run, &saved, &record)?;
    let now = ml_sdk::track::now_ms();
    let mut figures = test_metrics.clone();
    figures.push(("privacy_epsilon_spent".into(), epsilon));
    figures.push((
        "mitigated_demographic_parity_difference".into(),
        after["demographic_parity_difference"],
    ));
    figures.push(("mitigated_accuracy".into(), accuracy(&mitigated)));
    figures.extend(
        reports[1]
            .2
            .iter()
            .map(|(k, v)| (format!("fairness_age_group/{k}"), *v)),
    );
    let metric_points: Vec<MetricPoint> = figures
        .into_iter()
        .map(|(k, value)| MetricPoint {
            key: ml_sdk::interpret::track::metric_key(&k),
            value,
            step: 0,
            timestamp_ms: now,
        })
        .collect();
    store.log_metrics(&run, &metric_points)?;
    ledger.log_to(&store, &run)?;
    for e in [&tree_shap, &linear_shap] {
        ml_sdk::interpret::track::log_explanation(&store, &run, e)?;
    }
    for file in &chart_files {
        log_file(&store, &run, &out, file)?;
    }
    for (_, dir, _) in &reports {
        for entry in std::fs::read_dir(dir)? {
            log_file(&store, &run, &out, &entry?.path())?;
        }
    }
    // The private model too, as a model of its own beside the registered one.
    let private_saved = SavedModel::from_model(&private, private.trainer(), private.params().to_vec())?;
    ml_sdk::track::log_model(
        &store,
        &run,
        "dp_model",
        ml_sdk::core::MODEL_FILE,
        &private_saved.to_bytes()?,
        &private_saved.spec.signature,
        &[("trainer", "dp_logistic")],
    )?;
    guard.end(RunStatus::Finished)?;
    let version = store.register_model(MODEL_NAME, &run, ml_sdk::track::MODEL_ARTIFACT)?;
    store.set_alias(MODEL_NAME, ALIAS, version.version)?;
    println!(
        "6. logged to MLflow run {} (experiment '{EXPERIMENT}') in {}; registered as {MODEL_NAME} version {} with alias @{ALIAS}",
        run.0,
        mlruns.display(),
        version.version
    );

    // 7. Serve from the registry, score in clear and encrypted, shut down.
    let uri = format!("models:/{MODEL_NAME}@{ALIAS}");
    let options = ModelLoadOptions::new().tracking_uri(mlruns.to_string_lossy());
    let repo = build_repository(&[(MODEL_NAME.to_string(), uri.clone())], None, &options)?;
    let server = ml_sdk::serve::start(
        Arc::new(repo),
        ServeConfig::new().bind([127, 0, 0, 1].into(), 0).grpc(0),
    )?;
    let base = format!("http://{}", server.http_addr());
    println!(
        "7. serving {uri} at {base} (Open Inference Protocol v2 over REST and gRPC{}, MLflow's /invocations)",
        server.grpc_addr().map(|a| format!(" at {a}")).unwrap_or_default()
    );
    let rows = test.features().slice_move(ml_sdk::ndarray::s![..SCORED, ..]);
    let expected = labels_of(logistic.predict(rows.view())?)?;
    let plain = ml_sdk::serve::client::infer_labels(&base, MODEL_NAME, rows.view())?;
    ensure!(
        plain == expected,
        "the server's labels {plain:?} differ from the model's {expected:?}"
    );
    println!("   plain client: {SCORED} applicants scored over JSON, labels equal the model's");
    let key = ClientKey::generate();
    let he_model = ml_sdk::he::load_he_model(&uri, Default::default(), &options)?;
    let request = key.encrypt(&he_model, rows.view())?;
    let client = HttpClient::new(base.clone());
    let scores = client.score(MODEL_NAME, &request)?;
    let decrypted = labels_of(key.decrypt_predictions(&he_model, &scores)?)?;
    let agree = decrypted.iter().zip(&expected).filter(|(a, b)| a == b).count();
    println!(
        "   encrypted client: {SCORED} applicants encrypted ({} bytes), scored on ciphertexts, decrypted: {agree} of {SCORED} labels equal the float model's (8-bit quantization)",
        request.to_bytes().len()
    );
    ensure!(
        agree * 10 >= SCORED * 9,
        "encrypted labels {decrypted:?} against {expected:?}"
    );
    server.stop();
    println!("   server shut down");

    println!("\nWhere to look:");
    println!("  MLflow store:         {}", mlruns.display());
    println!(
        "  MLflow UI:            mlflow ui --backend-store-uri {}   (then open http://127.0.0.1:5000)",
        mlruns.display()
    );
    println!("  SHAP charts:          {}", charts.display());
    for (column, dir, _) in &reports {
        println!(
            "  {:<21} {}",
            format!("fairness ({column}):"),
            dir.join("report.html").display()
        );
    }
    println!(
        "  registered model:     {uri} (mlsdk serve --model {MODEL_NAME}={uri} --tracking-uri {})",
        mlruns.display()
    );
    Ok(())
}

/// Labels of a classifier's predictions.
fn labels_of(p: Predictions) -> Result<Vec<usize>> {
    match p {
        Predictions::Classification { labels, .. } => Ok(labels.to_vec()),
        _ => bail!("a classifier's predictions"),
    }
}

/// The probability of the positive class.
fn positive(model: &dyn Model, x: ml_sdk::ndarray::ArrayView2<'_, f64>) -> Result<Vec<f64>> {
    Ok(model
        .predict(x)?
        .scores()
        .context("binary class probabilities")?
        .to_vec())
}

/// Age groups as fairness studies of this data set draw them.
fn age_groups(data: &Dataset, column: usize) -> Vec<String> {
    data.features()
        .column(column)
        .iter()
        .map(|&a| {
            if a <= 25.0 {
                "25 or younger".into()
            } else {
                "over 25".into()
            }
        })
        .collect()
}

/// Log a file under `out` as an artifact at its path relative to `out`.
fn log_file(store: &MlflowStore, run: &RunId, out: &Path, file: &Path) -> Result<()> {
    if !file.is_file() {
        return Ok(());
    }
    let rel = file
        .strip_prefix(out)
        .unwrap_or(file)
        .to_string_lossy()
        .replace('\\', "/");
    store.log_artifact(run, &rel, &std::fs::read(file)?)?;
    Ok(())
}
