//! `mlsdk train | evaluate | predict | inspect`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use ml_sdk::core::{
    Frame, KFold, LoadOptions, Model, ModelSpec, Preprocess, ReadLimits, RunStatus, SavedModel, TaskKind,
    cross_validate, default_score, io, metrics,
};
use ml_sdk::track::{FitRecord, Provenance};
use ml_sdk::{LoadedModel, ModelLoadOptions};
use serde_json::{Value, json};

use crate::output::{Output, metric_rows, num, table};
use crate::track::TrackingArgs;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TaskArg {
    Classification,
    Regression,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training data: CSV with a header.
    #[arg(long)]
    data: PathBuf,
    /// The target column (not needed for kmeans).
    #[arg(long)]
    target: Option<String>,
    /// logistic | linear | ridge | tree | forest | hgb (gradient boosting: learning_rate= max_iter= max_leaf_nodes= max_depth= min_samples_leaf= l2_regularization= max_bins= early_stopping=auto|true|false validation_fraction= n_iter_no_change= tol= n_threads= categorical_features=from_dtype|onehot) | kmeans | knn (n_neighbors= weights=uniform|distance algorithm=auto|kd_tree|brute leaf_size=) | naive_bayes (distribution=gaussian|multinomial, var_smoothing=, alpha=) | linear_svm (c= loss=hinge|squared_hinge tol= max_iter=) | ebm | dp_logistic (private: epsilon=, delta=, lambda=, bounds=LO:HI, bounds.COLUMN=LO:HI) | mlp (hidden=64,32 epochs= lr= batch_size= dropout= optimizer= patience= embedding=; DP-SGD: dp_epsilon= dp_delta= clip=) | cnn (image=8x8 or sequence=CxL, filters=16,32 kernel= pool= hidden=)
    #[arg(long)]
    model: String,
    /// Hyper-parameter as key=value (repeatable), e.g. c=0.5, max_depth=8, scale=minmax, unknown=ignore. Missing values (empty cells, NA, NaN, …; MLSDK_NA_VALUES=a,b sets the markers): impute=mean|median|most_frequent|constant [fill_value= add_indicator=true] in front of any model; hgb takes them as they are. Any model also takes polynomial=DEGREE [interaction_only=true], pca=K and columns=a,b,c (the feature columns it uses); any classifier calibration=sigmoid|isotonic [calibration_cv=5 calibration_ensemble=true]; select_features=K [select_repeats=5 select_cv=5] keeps the K columns of largest permutation importance.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Seed of the random algorithms (forest, kmeans, tree feature order) and of --cv shuffling.
    #[arg(long)]
    seed: Option<u64>,
    /// Read the target as classes or values (default: inferred from the column).
    #[arg(long, value_enum)]
    task: Option<TaskArg>,
    /// Columns to read as categories even if numeric (comma separated or repeated).
    #[arg(long, value_delimiter = ',')]
    categorical: Vec<String>,
    /// Columns to leave out (comma separated or repeated).
    #[arg(long, value_delimiter = ',')]
    drop: Vec<String>,
    /// Sensitive-attribute columns, kept out of the features (comma separated or repeated).
    #[arg(long, value_delimiter = ',')]
    sensitive: Vec<String>,
    /// Also report K-fold cross-validation scores (stratified for classifiers).
    #[arg(long, value_name = "K")]
    cv: Option<usize>,
    /// Directory to save the fitted model in.
    #[arg(long)]
    out: PathBuf,
    /// Networks: write the learning curve (SVG and PNG) into this directory.
    #[arg(long)]
    plot: Option<PathBuf>,
    #[command(flatten)]
    tracking: TrackingArgs,
}

#[derive(Debug, Args)]
pub struct TuneArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// A searched hyper-parameter and its values, KEY=V1,V2,… (repeatable); --param values stay fixed. --cv K sets the folds (default 5, stratified for classifiers, shuffled with --seed).
    #[arg(long = "grid", value_name = "KEY=V1,V2", required = true)]
    grid: Vec<String>,
    /// Randomized search: try N candidates drawn from the grid (seeded by --seed) instead of all.
    #[arg(long, value_name = "N")]
    random: Option<usize>,
}

/// A finished search, for the refit that follows it.
struct Tuned {
    params: Vec<(String, String)>,
    outcome: ml_sdk::core::search::SearchOutcome,
    folds: usize,
    metric: &'static str,
}

/// How to run ONNX models.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum RuntimeArg {
    /// tract, pure Rust.
    #[default]
    Tract,
    /// ONNX Runtime, loaded from ORT_DYLIB_PATH.
    Ort,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Model directory or file written by `mlsdk train`, a models:/ or
    /// runs:/ URI, or an ONNX file (`.onnx`).
    #[arg(long)]
    model: PathBuf,
    /// Runtime for ONNX models.
    #[arg(long, value_enum, default_value_t)]
    runtime: RuntimeArg,
    /// The store models:/ and runs:/ URIs resolve against: a path or file:
    /// URI, or an MLflow server (http://...) (default: $MLFLOW_TRACKING_URI, else ./mlruns).
    #[arg(long)]
    tracking_uri: Option<String>,
    /// Labelled data: CSV with a header.
    #[arg(long)]
    data: PathBuf,
    /// The target column (not needed for clustering models).
    #[arg(long)]
    target: Option<String>,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model directory or file written by `mlsdk train`, a models:/ or
    /// runs:/ URI, an ONNX file (`.onnx`), or a fairness mitigation (the
    /// `--out` directory of `mlsdk mitigate`, or its `mitigation.json`).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Data: CSV with a header; columns matched by name, extras ignored.
    /// An ONNX model that does not name its inputs takes all columns, in
    /// order (all numeric).
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Runtime for ONNX models.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) runtime: RuntimeArg,
    /// The store models:/ and runs:/ URIs resolve against: a path or file:
    /// URI, or an MLflow server (http://...) (default: $MLFLOW_TRACKING_URI, else ./mlruns).
    #[arg(long)]
    pub(crate) tracking_uri: Option<String>,
    /// Output CSV (`-` or absent: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Mitigations only: the sensitive columns of a threshold optimizer's
    /// groups, when the data names them differently from the data it was
    /// fitted on (comma separated; default: the saved names).
    #[arg(long, value_delimiter = ',')]
    pub(crate) sensitive: Vec<String>,
    /// Mitigations only: seed of the randomized labels. A mitigation
    /// predicts the positive class with a probability (the columns
    /// `proba_*`) and draws each label, as Fairlearn's `predict` does; the
    /// same seed on the same data reproduces `mlsdk mitigate`'s figures.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
}

#[derive(Debug, Args)]
pub struct ExportOnnxArgs {
    /// Model directory, model file, or models:/ or runs:/ URI.
    #[arg(long)]
    model: PathBuf,
    /// The store models:/ and runs:/ URIs resolve against (default:
    /// $MLFLOW_TRACKING_URI, else ./mlruns).
    #[arg(long)]
    tracking_uri: Option<String>,
    /// The ONNX file to write.
    #[arg(long)]
    out: PathBuf,
}

pub fn export_onnx(args: &ExportOnnxArgs, out: &Output) -> Result<()> {
    let loaded = load_any(&args.model, RuntimeArg::Tract, args.tracking_uri.as_deref())?;
    let model = loaded.require_saved()?;
    let bytes = ml_sdk::onnx::export(&model.spec)?;
    io::write_atomic(&args.out, &bytes)?;
    let value = json!({
        "out": args.out, "bytes": bytes.len(), "opset": ml_sdk::onnx::OPSET, "ml_opset": ml_sdk::onnx::ML_OPSET,
        "input": {"name": ml_sdk::onnx::INPUT, "columns": model.spec.signature.input_names()},
    });
    out.emit(&value, || {
        format!(
            "wrote {} ({} bytes, opset {})\n",
            args.out.display(),
            bytes.len(),
            ml_sdk::onnx::OPSET
        )
    });
    Ok(())
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Model directory or file, models:/ or runs:/ URI, or an ONNX file.
    #[arg(long)]
    model: PathBuf,
    /// The store models:/ and runs:/ URIs resolve against (default:
    /// $MLFLOW_TRACKING_URI, else ./mlruns).
    #[arg(long)]
    tracking_uri: Option<String>,
}

pub(crate) fn parse_params(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
            _ => bail!("--param '{p}' is not KEY=VALUE"),
        })
        .collect()
}

/// A CSV file within the limits the environment sets (see `ReadLimits::from_env`),
/// its missing-value markers from `MLSDK_NA_VALUES` where set.
pub(crate) fn read_csv(path: &std::path::Path) -> Result<Frame> {
    reading(path, Frame::read_csv_with(path, &ReadLimits::from_env()?)).map(env_markers)
}

/// The frame with the missing-value markers `MLSDK_NA_VALUES` sets, if any.
fn env_markers(frame: Frame) -> Frame {
    match Frame::missing_markers_from_env() {
        Some(markers) => frame.with_missing_markers(markers),
        None => frame,
    }
}

/// Name the file in an error about its content; an I/O error names it already.
fn reading<T>(path: &std::path::Path, result: ml_sdk::core::Result<T>) -> Result<T> {
    match result {
        Err(e @ ml_sdk::core::Error::Io { .. }) => Err(e.into()),
        r => r.with_context(|| format!("reading {}", path.display())),
    }
}

pub fn train(args: &TrainArgs, out: &Output) -> Result<()> {
    train_with(args, out, None)
}

/// The training data as `train` reads it.
fn training_data(args: &TrainArgs, frame: &Frame) -> Result<ml_sdk::core::Dataset> {
    Ok(frame.to_dataset(&LoadOptions {
        target: args.target.clone(),
        task: args.task.map(|t| match t {
            TaskArg::Classification => TaskKind::Classification,
            TaskArg::Regression => TaskKind::Regression,
        }),
        sensitive: args.sensitive.clone(),
        drop: args.drop.clone(),
        categorical: args.categorical.clone(),
    })?)
}

/// Folds for cross-validation: stratified for classes, shuffled with a seed.
fn folds_for(data: &ml_sdk::core::Dataset, k: usize, seed: Option<u64>) -> Result<(bool, Vec<ml_sdk::core::Fold>)> {
    let stratified = matches!(data.target(), Some(ml_sdk::core::Target::Classes { .. }));
    let mut folds = KFold::new(k).stratified(stratified);
    if let Some(seed) = seed {
        folds = folds.shuffle(seed);
    }
    Ok((stratified, folds.split(data).with_context(|| format!("--cv {k}"))?))
}

pub fn tune(args: &TuneArgs, out: &Output) -> Result<()> {
    let t = &args.train;
    let fixed = parse_params(&t.params)?;
    let any = ml_sdk::trainer_from_params(&t.model, &fixed, t.seed)?;
    if any.is_unsupervised() || t.target.is_none() {
        bail!("tune needs a supervised model and --target");
    }
    let grid = ml_sdk::core::search::ParamGrid::parse(&args.grid)?;
    let candidates = match args.random {
        Some(0) => bail!("--random needs at least one candidate"),
        Some(n) => grid.sample(n, t.seed.unwrap_or(0)),
        None => grid.candidates(),
    };
    let k = t.cv.unwrap_or(5);
    let data = training_data(t, &read_csv(&t.data)?)?;
    let (stratified, folds) = folds_for(&data, k, t.seed)?;
    let total = candidates.len();
    let mut done = 0;
    let outcome = ml_sdk::tune(&t.model, &fixed, candidates, &data, &folds, t.seed, &mut |c| {
        done += 1;
        if !out.json {
            let p: Vec<String> = c.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            eprintln!(
                "[{done}/{total}] {}: {} ± {}",
                p.join(" "),
                num(c.scores.mean()),
                num(c.scores.std())
            );
        }
    })?;
    let params = ml_sdk::merge_params(&fixed, &outcome.best().params);
    let tuned = Tuned {
        params,
        outcome,
        folds: k,
        metric: if stratified { "accuracy" } else { "r2" },
    };
    train_with(t, out, Some(&tuned))
}

fn train_with(args: &TrainArgs, out: &Output, tuned: Option<&Tuned>) -> Result<()> {
    let params = match tuned {
        Some(t) => t.params.clone(),
        None => parse_params(&args.params)?,
    };
    let mut any = ml_sdk::trainer_from_params(&args.model, &params, args.seed)?;
    if let ml_sdk::AnyTrainer::Neural(net) = &mut any {
        // A progress bar on a terminal, none under --json.
        net.progress = !out.json;
    }
    let trainer = any.as_trainer();
    if args.target.is_none() && !any.is_unsupervised() {
        bail!("--target is required for model '{}'", args.model);
    }
    // Every destination is checked before any work, so a refusal leaves
    // nothing behind: the model is written aside (which also proves the
    // destination writable) and moved into --out once everything worked.
    let staged = io::StagedDir::new(&args.out)?;
    args.tracking.check()?;
    let limits = ReadLimits::from_env()?;
    let raw = reading(&args.data, limits.read_file(&args.data))?;
    let active = args.tracking.start()?;
    let guard = active.as_ref().map(|a| a.guard());
    let frame = env_markers(reading(&args.data, Frame::from_csv_reader_with(&raw[..], &limits))?);
    let data = training_data(args, &frame)?;
    // The folds are drawn before fitting, so a bad --cv is refused before any
    // work (a search's folds were its own).
    let folds = match args.cv {
        _ if tuned.is_some() => None,
        Some(k) if !any.is_unsupervised() => Some(folds_for(&data, k, args.seed)?),
        Some(_) => bail!("--cv needs a supervised model"),
        None => None,
    };
    // Networks report each epoch; a tracked run records the curves.
    let mut epoch_log_error = None;
    let fitted = any.fit_detailed(&data, &mut |epoch, figures| {
        if let Some(a) = &active
            && let Err(e) = ml_sdk::track::log_epoch(a.tracker.as_ref(), &a.run, epoch, figures)
        {
            epoch_log_error.get_or_insert(e);
        }
    })?;
    if let Some(e) = epoch_log_error {
        return Err(e.into());
    }
    let (model, privacy) = (fitted.model, fitted.privacy);
    let charts = match (&args.plot, &fitted.network_history) {
        (Some(dir), Some(history)) => ml_sdk::learning_curve(history).save_in(dir, "learning_curve")?,
        (Some(_), None) => bail!(
            "--plot draws networks' learning curves; '{}' trains no network",
            args.model
        ),
        _ => Vec::new(),
    };
    let train_metrics = metrics::score_model(model.as_ref(), &data)?;
    // (the metric's name, the fold scores)
    let cv = match folds {
        Some((stratified, split)) => Some((
            if stratified { "accuracy" } else { "r2" },
            cross_validate(trainer, &data, &split, &default_score)?,
        )),
        None => None,
    };
    let saved = SavedModel::from_model(model.as_ref(), trainer.name(), trainer.params())?;
    saved.save(staged.path())?;
    if let Some(bytes) = &fitted.checkpoint {
        io::write_atomic(&staged.path().join(ml_sdk::neural::checkpoint::CHECKPOINT_FILE), bytes)?;
    }
    let mut registered = None;
    if let (Some(active), Some(guard)) = (&active, guard) {
        let mut record = FitRecord::new();
        record.params = vec![
            ("data".into(), args.data.display().to_string()),
            ("target".into(), args.target.clone().unwrap_or_default()),
        ];
        record.train_metrics = train_metrics.clone();
        record.privacy = privacy;
        record.cv = cv.as_ref().map(|(metric, s)| (metric.to_string(), s.scores.clone()));
        record.tags = vec![("mlsdk.model".into(), args.model.clone())];
        if args.tracking.log_onnx {
            record.onnx = Some(ml_sdk::onnx::export(&saved.spec)?);
        }
        record.provenance = Some(Provenance::collect().with_data_bytes(&raw));
        ml_sdk::track::log_fit(active.tracker.as_ref(), &active.run, &saved, &record)?;
        if let Some(t) = tuned {
            // Children in the MLflow store only (TensorBoard has no run tree).
            let store: Box<dyn ml_sdk::core::Tracker> = ml_sdk::track::open_tracking_store(&active.uri)?;
            ml_sdk::track::log_search(
                store.as_ref(),
                &active.experiment,
                &active.mlflow_run,
                "candidate",
                &t.outcome,
            )?;
        }
        guard.end(RunStatus::Finished)?;
        if let Some(name) = &args.tracking.register {
            registered = Some(active.register(name, "model")?);
        }
    }
    staged.commit()?;
    let path = args.out.join(ml_sdk::core::MODEL_FILE);
    let missing = data.missing_counts();
    let value = json!({
        "model": args.model,
        "task": model.signature().task,
        "rows": data.n_samples(),
        // The columns the model reads (a column selector or select_features
        // keeps fewer than the data has).
        "features": model.signature().inputs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        // Missing values per feature column (absent: none).
        "missing": missing.iter().map(|(c, n)| (c.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "metrics": train_metrics,
        "cv": cv.as_ref().map(|(metric, s)| json!({
            "k": s.scores.len(), "metric": metric, "scores": s.scores, "mean": s.mean(), "std": s.std(),
        })),
        // The model's guarantee; the metrics above are computed on the data
        // and are not private.
        "privacy": fitted.privacy_report.clone().or_else(|| privacy.map(|(epsilon, delta)| json!({"epsilon": epsilon, "delta": delta}))),
        "history": fitted.history,
        "charts": charts,
        "params": params_map(&trainer.params()),
        "saved": path,
        "run": active.as_ref().map(|a| a.describe()),
        "registered": registered,
        "search": tuned.map(|t| {
            let ranks = t.outcome.ranks();
            json!({
                "folds": t.folds,
                "metric": t.metric,
                "best": params_map(&t.outcome.best().params),
                "best_score": t.outcome.best().scores.mean(),
                "candidates": t.outcome.candidates.iter().zip(ranks).map(|(c, rank)| json!({
                    "params": params_map(&c.params),
                    "mean": c.scores.mean(),
                    "std": c.scores.std(),
                    "scores": c.scores.scores,
                    "rank": rank,
                })).collect::<Vec<_>>(),
            })
        }),
    });
    out.emit(&value, || {
        let mut s = format!(
            "trained {} on {} rows x {} features ({})\ntraining metrics:\n{}",
            args.model,
            data.n_samples(),
            data.n_features(),
            model.signature().task.name(),
            table(&metric_rows(&train_metrics))
        );
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|(c, n)| format!("{c} {n}")).collect();
            s += &format!("missing values: {}\n", list.join(", "));
        }
        if let Some(t) = tuned {
            let best: Vec<String> = t
                .outcome
                .best()
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            s += &format!(
                "searched {} candidates by {}-fold cross-validation ({}): best {} at {} ± {}, refitted on all rows\n",
                t.outcome.candidates.len(),
                t.folds,
                t.metric,
                best.join(" "),
                num(t.outcome.best().scores.mean()),
                num(t.outcome.best().scores.std())
            );
        }
        if let Some((metric, scores)) = &cv {
            s += &format!(
                "{}-fold cross-validation {metric}: {} ± {}\n",
                scores.scores.len(),
                num(scores.mean()),
                num(scores.std())
            );
        }
        if let Some((epsilon, delta)) = privacy {
            s += &format!(
                "the model is ({}, {})-differentially private; the metrics above are not\n",
                num(epsilon),
                num(delta)
            );
        }
        let mut s = s + &format!("saved to {}\n", path.display());
        if let Some(a) = &active {
            s += &format!(
                "logged run {} to experiment '{}' in {}\n",
                a.mlflow_run.0, a.experiment, a.uri
            );
        }
        s
    });
    Ok(())
}

fn params_map(params: &[(String, String)]) -> Value {
    Value::Object(
        params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// How models load: this ONNX runtime, URIs against `tracking_uri`
/// (default: the environment's store).
pub(crate) fn load_options(runtime: RuntimeArg, tracking_uri: Option<&str>) -> ModelLoadOptions {
    let runtime = match runtime {
        RuntimeArg::Tract => ml_sdk::onnx::Runtime::Tract,
        RuntimeArg::Ort => ml_sdk::onnx::Runtime::Ort { library: None },
    };
    let options = ModelLoadOptions::new().runtime(runtime);
    match tracking_uri {
        Some(uri) => options.tracking_uri(uri),
        None => options,
    }
}

/// Load any model: a saved model, an ONNX file, a `models:/` or `runs:/`
/// URI against `tracking_uri` (default: the environment's store).
pub(crate) fn load_any(
    model: &std::path::Path,
    runtime: RuntimeArg,
    tracking_uri: Option<&str>,
) -> Result<LoadedModel> {
    let options = load_options(runtime, tracking_uri);
    ml_sdk::load_model(&model.to_string_lossy(), &options).with_context(|| format!("loading model {}", model.display()))
}

pub fn evaluate(args: &EvaluateArgs, out: &Output) -> Result<()> {
    let model = load_any(&args.model, args.runtime, args.tracking_uri.as_deref())?;
    let frame = read_csv(&args.data)?;
    let is_clustering = matches!(model.signature().task, ml_sdk::core::Task::Clustering { .. });
    if args.target.is_none() && !is_clustering {
        bail!(
            "--target is required to evaluate a {} model",
            model.signature().task.name()
        );
    }
    let target = args.target.as_deref().filter(|_| !is_clustering);
    let signature = model.signature_for(&frame, target)?;
    let data = frame.dataset_for(&signature, target, &[])?;
    let m = metrics::score_model(&model, &data)?;
    let value = json!({ "metrics": m, "rows": data.n_samples() });
    out.emit(&value, || {
        format!("{} rows\n{}", data.n_samples(), table(&metric_rows(&m)))
    });
    Ok(())
}

pub fn predict(args: &PredictArgs, out: &Output) -> Result<()> {
    let pred = match ml_sdk::interpret::SavedMitigation::find(&args.model) {
        Some(file) => ml_sdk::predict_mitigation(
            &file,
            &read_csv(&args.data)?,
            &load_options(args.runtime, args.tracking_uri.as_deref()),
            &args.sensitive,
            args.seed,
        )
        .with_context(|| format!("predicting with the mitigation {}", file.display()))?,
        None => {
            let model = load_any(&args.model, args.runtime, args.tracking_uri.as_deref())?;
            model.predict_frame(&read_csv(&args.data)?)?
        }
    };
    let mut bytes = Vec::new();
    ml_sdk::core::write_predictions_csv(&pred, &mut bytes)?;
    match args.out.as_deref().filter(|p| p.as_os_str() != "-") {
        Some(path) => {
            io::write_atomic(path, &bytes)?;
            let value = json!({ "rows": pred.len(), "out": path });
            out.emit(&value, || {
                format!("wrote {} predictions to {}\n", pred.len(), path.display())
            });
        }
        None => crate::output::write_stdout(&bytes),
    }
    Ok(())
}

/// An ONNX file: what the graph holds, the signature read from it, and
/// whether (and as what) it imports to a ModelSpec.
fn inspect_onnx(file: &std::path::Path, out: &Output) -> Result<()> {
    let model =
        ml_sdk::onnx::OnnxModel::load(file).with_context(|| format!("loading ONNX model {}", file.display()))?;
    let g = model.graph();
    let mut ops: Vec<String> = g.graph.nodes.iter().map(|n| n.op_type.clone()).collect();
    ops.sort();
    ops.dedup();
    let spec = match model.describe() {
        Ok(spec) => json!({"importable": true, "estimator": spec.estimator.summary(),
                           "preprocessing": preprocessing_names(&spec)}),
        Err(e) => json!({"importable": false, "reason": e.to_string()}),
    };
    let value = json!({
        "format": "onnx", "producer": g.producer.0, "producer_version": g.producer.1, "ir_version": g.ir_version,
        "opsets": g.opsets.iter().map(|(d, v)| json!({"domain": d, "version": v})).collect::<Vec<_>>(),
        "input": model.input_name(), "named_columns": model.has_feature_names(), "operators": ops,
        "signature": model.signature(), "spec": spec,
    });
    out.emit(&value, || {
        table(&[
            (
                "format".into(),
                format!("ONNX (IR {}) from {} {}", g.ir_version, g.producer.0, g.producer.1),
            ),
            ("task".into(), model.signature().task.name().into()),
            ("inputs".into(), model.signature().input_names().join(", ")),
            ("operators".into(), ops.join(", ")),
            ("as ModelSpec".into(), spec.to_string()),
        ])
    });
    Ok(())
}

fn preprocessing_names(spec: &ModelSpec) -> Vec<&'static str> {
    spec.preprocessing.iter().map(Preprocess::name).collect()
}

pub fn inspect(args: &InspectArgs, out: &Output) -> Result<()> {
    let loaded = load_any(&args.model, RuntimeArg::Tract, args.tracking_uri.as_deref())?;
    if loaded.format() == ml_sdk::ModelFormat::Onnx {
        return inspect_onnx(loaded.file(), out);
    }
    let model = loaded.require_saved()?;
    let spec: &ModelSpec = &model.spec;
    let steps = preprocessing_names(spec);
    let estimator = spec.estimator.summary();
    let value = json!({
        "trainer": model.trainer, "sdk_version": model.sdk_version, "params": params_map(&model.params),
        "signature": spec.signature, "preprocessing": steps, "estimator": estimator,
        "features_after_preprocessing": spec.transformed_feature_names(),
    });
    out.emit(&value, || {
        table(&[
            ("trainer".into(), model.trainer.clone()),
            ("task".into(), spec.signature.task.name().into()),
            ("inputs".into(), spec.signature.input_names().join(", ")),
            ("preprocessing".into(), steps.join(" -> ")),
            ("estimator".into(), estimator.to_string()),
        ])
    });
    Ok(())
}
