//! `mlsdk train | evaluate | predict | inspect`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use ml_sdk::core::{
    Dataset, Estimator, Frame, KFold, LoadOptions, MetricPoint, Model, ModelSpec, Predictions, Preprocess, RunStatus,
    TaskKind, Trainer, cross_validate, default_score, io, metrics,
};
use ml_sdk::learn::{Pipeline, SavedModel, inertia};
use ml_sdk::track::Provenance;
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
    /// logistic | linear | ridge | tree | forest | kmeans | dp_logistic (private: epsilon=, delta=, lambda=, bounds=LO:HI, bounds.COLUMN=LO:HI)
    #[arg(long)]
    model: String,
    /// Hyper-parameter as key=value (repeatable), e.g. c=0.5, max_depth=8, scale=minmax, unknown=ignore.
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
    #[command(flatten)]
    tracking: TrackingArgs,
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
    /// The ONNX file to write.
    #[arg(long)]
    out: PathBuf,
}

pub fn export_onnx(args: &ExportOnnxArgs, out: &Output) -> Result<()> {
    let model = load_model(&args.model)?;
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
}

pub(crate) fn parse_params(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
            _ => bail!("--param '{p}' is not KEY=VALUE"),
        })
        .collect()
}

pub(crate) fn read_csv(path: &std::path::Path) -> Result<Frame> {
    Frame::read_csv(path).with_context(|| format!("reading {}", path.display()))
}

/// Training-set or test-set metrics of any model kind.
fn score(model: &dyn Model, data: &Dataset) -> Result<BTreeMap<String, f64>> {
    let pred = model.predict(data.features())?;
    if let Predictions::Clustering { .. } = pred {
        let spec = model.describe()?;
        let Estimator::Centroids { centroids } = &spec.estimator else {
            bail!("clustering model without centroids")
        };
        let design = spec.transform(data.features())?;
        return Ok(BTreeMap::from([(
            "inertia".to_string(),
            inertia(design.view(), centroids.view()),
        )]));
    }
    Ok(metrics::evaluate(data, &pred)?)
}

/// A fitted model and the (ε, δ) it spent, if private.
type Fitted = (Box<dyn Model>, Option<(f64, f64)>);

/// The trainers `train` knows: ml-learn's pipelines and ml-interpret's
/// explainable boosting machine.
enum AnyTrainer {
    Pipeline(Pipeline),
    Ebm(ml_sdk::interpret::Ebm),
}

impl AnyTrainer {
    fn from_params(name: &str, params: &[(String, String)], seed: Option<u64>) -> Result<Self> {
        if name != "ebm" {
            return Ok(AnyTrainer::Pipeline(Pipeline::from_params(name, params, seed)?));
        }
        let mut e = ml_sdk::interpret::Ebm {
            seed: seed.unwrap_or(0),
            ..Default::default()
        };
        for (k, v) in params {
            let bad = || anyhow::anyhow!("--param {k}={v}: not a valid value");
            match k.as_str() {
                "max_bins" => e.max_bins = v.parse().map_err(|_| bad())?,
                "learning_rate" => e.learning_rate = Some(v.parse().map_err(|_| bad())?),
                "max_leaves" => e.max_leaves = v.parse().map_err(|_| bad())?,
                "smoothing_rounds" => e.smoothing_rounds = Some(v.parse().map_err(|_| bad())?),
                "max_rounds" => e.max_rounds = v.parse().map_err(|_| bad())?,
                "early_stopping_rounds" => e.early_stopping_rounds = v.parse().map_err(|_| bad())?,
                "validation_size" => e.validation_size = v.parse().map_err(|_| bad())?,
                "outer_bags" => e.outer_bags = v.parse().map_err(|_| bad())?,
                "min_samples_leaf" => e.min_samples_leaf = v.parse().map_err(|_| bad())?,
                "interactions" => e.interactions = v.parse().map_err(|_| bad())?,
                "max_interaction_bins" => e.max_interaction_bins = v.parse().map_err(|_| bad())?,
                _ => bail!("--param {k}: not a parameter of 'ebm'"),
            }
        }
        Ok(AnyTrainer::Ebm(e))
    }

    fn as_trainer(&self) -> &dyn Trainer {
        match self {
            AnyTrainer::Pipeline(p) => p,
            AnyTrainer::Ebm(e) => e,
        }
    }

    /// The fitted model, and the (ε, δ) it spent if it is private.
    fn fit_model(&self, data: &Dataset) -> Result<Fitted> {
        Ok(match self {
            AnyTrainer::Pipeline(p) => {
                let m = p.fit_pipeline(data)?;
                let spent = m.privacy_spent();
                (Box::new(m), spent)
            }
            AnyTrainer::Ebm(e) => (Box::new(e.fit_ebm(data)?), None),
        })
    }
}

pub fn train(args: &TrainArgs, out: &Output) -> Result<()> {
    let params = parse_params(&args.params)?;
    let any = AnyTrainer::from_params(&args.model, &params, args.seed)?;
    let trainer = any.as_trainer();
    if args.target.is_none() && args.model != "kmeans" {
        bail!("--target is required for model '{}'", args.model);
    }
    let raw = std::fs::read(&args.data).with_context(|| format!("reading {}", args.data.display()))?;
    let active = args.tracking.start()?;
    let guard = active.as_ref().map(|a| a.guard());
    let frame = Frame::from_csv_reader(&raw[..]).with_context(|| format!("reading {}", args.data.display()))?;
    let data = frame.to_dataset(&LoadOptions {
        target: args.target.clone(),
        task: args.task.map(|t| match t {
            TaskArg::Classification => TaskKind::Classification,
            TaskArg::Regression => TaskKind::Regression,
        }),
        sensitive: args.sensitive.clone(),
        drop: args.drop.clone(),
        categorical: args.categorical.clone(),
    })?;
    let (model, privacy) = any.fit_model(&data)?;
    let train_metrics = score(model.as_ref(), &data)?;
    let cv = match args.cv {
        Some(k) if args.model != "kmeans" => {
            let stratified = matches!(model.signature().task, ml_sdk::core::Task::Classification { .. });
            let mut folds = KFold::new(k).stratified(stratified);
            if let Some(seed) = args.seed {
                folds = folds.shuffle(seed);
            }
            let scores = cross_validate(trainer, &data, &folds.split(&data)?, &default_score)?;
            Some(json!({
                "k": k, "metric": if stratified { "accuracy" } else { "r2" },
                "scores": scores.scores, "mean": scores.mean(), "std": scores.std(),
            }))
        }
        Some(_) => bail!("--cv needs a supervised model"),
        None => None,
    };
    let saved = SavedModel::from_model(model.as_ref(), trainer.name(), trainer.params())?;
    let path = saved.save(&args.out)?;
    let mut registered = None;
    if let (Some(active), Some(guard)) = (&active, guard) {
        let t = active.tracker.as_ref();
        let mut params = trainer.params();
        params.push(("data".into(), args.data.display().to_string()));
        params.push(("target".into(), args.target.clone().unwrap_or_default()));
        t.log_params(&active.run, &params)?;
        active.log_map("train_", &train_metrics)?;
        if let Some((epsilon, delta)) = privacy {
            active.log_map(
                "privacy_",
                &BTreeMap::from([
                    ("epsilon_spent".to_string(), epsilon),
                    ("delta_spent".to_string(), delta),
                ]),
            )?;
        }
        if let Some(cv) = &cv {
            let metric = format!("cv_{}", cv["metric"].as_str().unwrap_or("score"));
            let now = ml_sdk::track::now_ms();
            let folds: Vec<MetricPoint> = cv["scores"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, v)| MetricPoint {
                    key: metric.clone(),
                    value: v.as_f64().unwrap_or(f64::NAN),
                    step: i as i64,
                    timestamp_ms: now,
                })
                .collect();
            t.log_metrics(&active.run, &folds)?;
            active.log_map(
                "",
                &BTreeMap::from([(format!("{metric}_mean"), cv["mean"].as_f64().unwrap_or(f64::NAN))]),
            )?;
        }
        ml_sdk::track::log_model(
            t,
            &active.run,
            "model",
            ml_sdk::learn::MODEL_FILE,
            &saved.to_bytes()?,
            model.signature(),
            &[("trainer", trainer.name())],
        )?;
        t.set_tags(
            &active.run,
            &[
                ("mlsdk.model".into(), args.model.clone()),
                ("mlsdk.task".into(), model.signature().task.name().into()),
            ],
        )?;
        if args.tracking.log_onnx {
            let onnx = ml_sdk::onnx::export(&saved.spec)?;
            ml_sdk::track::log_onnx_model(t, &active.run, "onnx-model", &onnx, model.signature())?;
        }
        Provenance::collect().with_data_bytes(&raw).record(t, &active.run)?;
        guard.end(RunStatus::Finished)?;
        if let Some(name) = &args.tracking.register {
            registered = Some(active.register(name, "model")?);
        }
    }
    let value = json!({
        "model": args.model,
        "task": model.signature().task,
        "rows": data.n_samples(),
        "features": data.feature_names(),
        "metrics": train_metrics,
        "cv": cv,
        // The model's guarantee; the metrics above are computed on the data
        // and are not private.
        "privacy": privacy.map(|(epsilon, delta)| json!({"epsilon": epsilon, "delta": delta})),
        "params": params_map(&trainer.params()),
        "saved": path,
        "run": active.as_ref().map(|a| a.describe()),
        "registered": registered,
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
        if let Some(cv) = &cv {
            s += &format!(
                "{}-fold cross-validation {}: {} ± {}\n",
                cv["k"],
                cv["metric"].as_str().unwrap_or(""),
                num(cv["mean"].as_f64().unwrap_or(f64::NAN)),
                num(cv["std"].as_f64().unwrap_or(f64::NAN))
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

/// Load from a model directory or file, or a `models:/` or `runs:/` URI.
fn load_model(path: &std::path::Path) -> Result<SavedModel> {
    let resolved = crate::track::resolve_model_path(path)?;
    SavedModel::load(&resolved).with_context(|| format!("loading model {}", path.display()))
}

/// An ONNX file, directly or as the `model.onnx` of a logged ONNX model
/// (MLflow's onnx flavor) without an ml-sdk model beside it.
fn onnx_path(resolved: &std::path::Path) -> Option<PathBuf> {
    let is_onnx = |p: &std::path::Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if resolved.is_file() && is_onnx(resolved) {
        return Some(resolved.to_path_buf());
    }
    let inner = resolved.join("model.onnx");
    (resolved.is_dir() && inner.is_file() && !resolved.join("model.mlsdk").exists()).then_some(inner)
}

/// A model to predict with: ml-sdk's own or any ONNX model, and whether it
/// reads its columns by position (an ONNX model that does not name them).
pub(crate) fn load_any(path: &std::path::Path, runtime: RuntimeArg) -> Result<(Box<dyn Model>, bool)> {
    let resolved = crate::track::resolve_model_path(path)?;
    if let Some(file) = onnx_path(&resolved) {
        let runtime = match runtime {
            RuntimeArg::Tract => ml_sdk::onnx::Runtime::Tract,
            RuntimeArg::Ort => ml_sdk::onnx::Runtime::Ort { library: None },
        };
        let model = ml_sdk::onnx::OnnxModel::load_with(&file, runtime)
            .with_context(|| format!("loading ONNX model {}", file.display()))?;
        let positional = !model.has_feature_names();
        return Ok((Box::new(model), positional));
    }
    Ok((Box::new(load_model(path)?), false))
}

/// The signature to read a CSV with: the model's own, or for a positional
/// ONNX model the CSV's columns (bar the target) in order, all numeric,
/// which must be as many as the model takes.
pub(crate) fn reading_signature(
    model: &dyn Model,
    positional: bool,
    frame: &Frame,
    target: Option<&str>,
) -> Result<ml_sdk::core::Signature> {
    let sig = model.signature().clone();
    if !positional {
        return Ok(sig);
    }
    let names: Vec<&String> = frame.names().iter().filter(|n| Some(n.as_str()) != target).collect();
    if names.len() != sig.n_inputs() {
        bail!(
            "the ONNX model takes {} input columns and does not name them, so it reads the CSV's columns in order; \
             the data has {} (besides the target)",
            sig.n_inputs(),
            names.len()
        );
    }
    Ok(ml_sdk::core::Signature {
        inputs: names
            .into_iter()
            .map(|n| ml_sdk::core::InputColumn::numeric(n.clone()))
            .collect(),
        ..sig
    })
}

pub fn evaluate(args: &EvaluateArgs, out: &Output) -> Result<()> {
    let (model, positional) = load_any(&args.model, args.runtime)?;
    let frame = read_csv(&args.data)?;
    let is_clustering = matches!(model.signature().task, ml_sdk::core::Task::Clustering { .. });
    if args.target.is_none() && !is_clustering {
        bail!(
            "--target is required to evaluate a {} model",
            model.signature().task.name()
        );
    }
    let target = args.target.as_deref().filter(|_| !is_clustering);
    let signature = reading_signature(model.as_ref(), positional, &frame, target)?;
    let data = frame.dataset_for(&signature, target, &[])?;
    let m = score(model.as_ref(), &data)?;
    let value = json!({ "metrics": m, "rows": data.n_samples() });
    out.emit(&value, || {
        format!("{} rows\n{}", data.n_samples(), table(&metric_rows(&m)))
    });
    Ok(())
}

pub fn predict(args: &PredictArgs, out: &Output) -> Result<()> {
    let pred = match crate::interpret::mitigation_file(&args.model) {
        Some(file) => crate::interpret::predict_mitigated(args, &file)?,
        None => {
            let (model, positional) = load_any(&args.model, args.runtime)?;
            let frame = read_csv(&args.data)?;
            let signature = reading_signature(model.as_ref(), positional, &frame, None)?;
            let x = frame.encode(&signature.inputs, signature.unknown_category)?;
            model.predict(x.view())?
        }
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    match &pred {
        Predictions::Classification {
            labels,
            probabilities,
            classes,
        } => {
            let mut header = vec!["prediction".to_string()];
            if probabilities.is_some() {
                header.extend(classes.iter().map(|c| format!("proba_{c}")));
            }
            w.write_record(&header)?;
            for (i, &l) in labels.iter().enumerate() {
                let mut row = vec![classes[l].clone()];
                if let Some(p) = probabilities {
                    row.extend(p.row(i).iter().map(|v| format!("{v}")));
                }
                w.write_record(&row)?;
            }
        }
        Predictions::Regression { values } => {
            w.write_record(["prediction"])?;
            for v in values {
                w.write_record([format!("{v}")])?;
            }
        }
        Predictions::Clustering { clusters } => {
            w.write_record(["prediction"])?;
            for c in clusters {
                w.write_record([c.to_string()])?;
            }
        }
    }
    let bytes = w.into_inner().context("writing predictions")?;
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
        Ok(spec) => json!({"importable": true, "estimator": estimator_summary(&spec.estimator),
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
    spec.preprocessing
        .iter()
        .map(|p| match p {
            Preprocess::OneHot { .. } => "one_hot",
            Preprocess::StandardScale { .. } => "standard_scale",
            Preprocess::MinMaxScale { .. } => "min_max_scale",
        })
        .collect()
}

fn estimator_summary(estimator: &Estimator) -> Value {
    match estimator {
        Estimator::Linear { coefficients, link, .. } => {
            json!({"kind": "linear", "outputs": coefficients.nrows(), "features": coefficients.ncols(), "link": link})
        }
        Estimator::TreeEnsemble { trees, aggregation, .. } => json!({
            "kind": "tree_ensemble", "trees": trees.len(), "aggregation": aggregation,
            "max_depth": trees.iter().map(|t| t.depth()).max(),
            "nodes": trees.iter().map(|t| t.nodes.len()).sum::<usize>(),
        }),
        Estimator::Centroids { centroids } => json!({"kind": "centroids", "clusters": centroids.nrows()}),
    }
}

pub fn inspect(args: &InspectArgs, out: &Output) -> Result<()> {
    if let Some(file) = onnx_path(&crate::track::resolve_model_path(&args.model)?) {
        return inspect_onnx(&file, out);
    }
    let model = load_model(&args.model)?;
    let spec: &ModelSpec = &model.spec;
    let steps = preprocessing_names(spec);
    let estimator = estimator_summary(&spec.estimator);
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
