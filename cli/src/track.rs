//! Tracking for `mlsdk train`, and `mlsdk runs list | show`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use ml_sdk::core::{RunId, Tracker};
use ml_sdk::track::{
    FanOutTracker, RunGuard, TensorBoardWriter, TrackingStore, experiment_name, open_existing_store,
    open_tracking_store, tracking_uri,
};
use serde_json::{Value, json};

use crate::output::{Output, num, table};

#[derive(Debug, Args)]
pub struct TrackingArgs {
    /// Log the run to an MLflow store (a path or file: URI) or server (http://...) (default: $MLFLOW_TRACKING_URI;
    /// without either, and without --experiment or --tensorboard, nothing is logged).
    #[arg(long)]
    pub tracking_uri: Option<String>,
    /// Experiment name (default: $MLFLOW_EXPERIMENT_NAME, else `Default`).
    #[arg(long)]
    pub experiment: Option<String>,
    /// Run name (default: generated).
    #[arg(long)]
    pub run_name: Option<String>,
    /// Also write TensorBoard event files under this directory.
    #[arg(long)]
    pub tensorboard: Option<PathBuf>,
    /// Register the logged model as a new version of this registered model.
    #[arg(long)]
    pub register: Option<String>,
    /// Also log the model's ONNX export as an MLflow model with the `onnx`
    /// flavor (artifact path `onnx-model`), loadable by `mlflow.pyfunc`.
    #[arg(long)]
    pub log_onnx: bool,
}

/// A run being logged by a command.
pub struct ActiveRun {
    pub tracker: Box<dyn Tracker>,
    pub run: RunId,
    pub mlflow_run: RunId,
    pub uri: String,
    pub experiment: String,
}

impl TrackingArgs {
    fn enabled(&self) -> bool {
        self.tracking_uri.is_some()
            || self.experiment.is_some()
            || self.register.is_some()
            || self.tensorboard.is_some()
            || std::env::var("MLFLOW_TRACKING_URI").is_ok_and(|v| !v.is_empty())
    }

    /// Check what can be checked before any work: the registered model's
    /// name and a local store's location.
    pub fn check(&self) -> Result<()> {
        if let Some(name) = &self.register {
            ml_sdk::track::check_model_name(name)?;
        }
        if self.enabled() {
            ml_sdk::track::check_tracking_uri(&tracking_uri(self.tracking_uri.as_deref()))?;
        }
        Ok(())
    }

    /// Start a run if tracking is on (after [`TrackingArgs::check`], which
    /// every command runs before its work).
    pub fn start(&self) -> Result<Option<ActiveRun>> {
        if !self.enabled() {
            return Ok(None);
        }
        let uri = tracking_uri(self.tracking_uri.as_deref());
        let experiment = experiment_name(self.experiment.as_deref());
        let store: Box<dyn Tracker> =
            open_tracking_store(&uri).with_context(|| format!("opening tracking store {uri}"))?;
        let name = self.run_name.as_deref();
        let (tracker, run, mlflow_run): (Box<dyn Tracker>, RunId, RunId) = match &self.tensorboard {
            Some(dir) => {
                let fan = FanOutTracker::new(vec![store, Box::new(TensorBoardWriter::new(dir)?)]);
                let run = fan.start_run(&experiment, name)?;
                let mlflow_run = fan.backend_runs(&run)?[0].clone();
                (Box::new(fan), run, mlflow_run)
            }
            None => {
                let run = store.start_run(&experiment, name)?;
                (store, run.clone(), run)
            }
        };
        Ok(Some(ActiveRun {
            tracker,
            run,
            mlflow_run,
            uri,
            experiment,
        }))
    }
}

impl ActiveRun {
    /// A guard that marks the run FAILED unless finished.
    pub fn guard(&self) -> RunGuard<'_> {
        RunGuard::new(self.tracker.as_ref(), self.run.clone())
    }

    /// Register `runs:/<run>/<artifact_path>` under `name`.
    pub fn register(&self, name: &str, artifact_path: &str) -> Result<Value> {
        let v = open_tracking_store(&self.uri)?.register_model(name, &self.mlflow_run, artifact_path)?;
        Ok(json!({"name": v.name, "version": v.version, "source": v.source}))
    }

    pub fn describe(&self) -> Value {
        json!({"run_id": self.mlflow_run.0, "experiment": self.experiment, "tracking_uri": self.uri})
    }
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List the runs of an experiment (or of all experiments).
    List {
        /// The MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlruns).
        #[arg(long)]
        tracking_uri: Option<String>,
        /// Only this experiment (default: $MLFLOW_EXPERIMENT_NAME, else all).
        #[arg(long)]
        experiment: Option<String>,
    },
    /// Show one run: params, tags and metric histories.
    Show {
        /// The run id.
        run_id: String,
        /// The MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlruns).
        #[arg(long)]
        tracking_uri: Option<String>,
    },
}

/// The store a read command names (it must exist).
fn open_existing(uri: Option<&str>) -> Result<Box<dyn TrackingStore>> {
    let uri = tracking_uri(uri);
    open_existing_store(&uri).with_context(|| format!("no tracking store at '{uri}'"))
}

/// (experiment name, its runs) for one experiment, or every experiment.
fn runs_of(store: &dyn TrackingStore, experiment: Option<&str>) -> Result<Vec<(String, Vec<ml_sdk::track::RunInfo>)>> {
    let experiments = match experiment {
        Some(name) => vec![
            store
                .experiment_by_name(name)?
                .with_context(|| format!("no experiment named '{name}'"))?,
        ],
        None => store.experiments()?,
    };
    experiments
        .into_iter()
        .map(|e| Ok((e.name.clone(), store.runs(&e.experiment_id)?)))
        .collect()
}

pub fn run(cmd: &RunsCommand, out: &Output) -> Result<()> {
    match cmd {
        RunsCommand::List {
            tracking_uri,
            experiment,
        } => {
            let source = open_existing(tracking_uri.as_deref())?;
            let wanted = experiment
                .clone()
                .or_else(|| std::env::var("MLFLOW_EXPERIMENT_NAME").ok().filter(|s| !s.is_empty()));
            let mut rows = Vec::new();
            for (experiment, runs) in runs_of(source.as_ref(), wanted.as_deref())? {
                for r in runs {
                    let rec = source.run(&r.run_id)?;
                    let latest: BTreeMap<String, f64> = rec
                        .metrics
                        .iter()
                        .filter_map(|(k, v)| v.last().map(|m| (k.clone(), m.value)))
                        .collect();
                    rows.push(json!({
                        "run_id": r.run_id, "run_name": r.run_name, "experiment": experiment,
                        "status": r.status, "start_time": r.start_time, "end_time": r.end_time, "metrics": latest,
                    }));
                }
            }
            let value = json!({ "runs": rows });
            out.emit(&value, || {
                rows.iter()
                    .map(|r| {
                        format!(
                            "  {}  {:<9} {:<20} {}\n",
                            r["run_id"].as_str().unwrap_or(""),
                            r["status"].as_str().unwrap_or(""),
                            r["run_name"].as_str().unwrap_or(""),
                            r["experiment"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            });
        }
        RunsCommand::Show { run_id, tracking_uri } => {
            let rec = open_existing(tracking_uri.as_deref())?.run(run_id)?;
            let metrics: BTreeMap<&String, Vec<Value>> = rec
                .metrics
                .iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.iter()
                            .map(|m| json!({"step": m.step, "value": m.value, "timestamp": m.timestamp_ms}))
                            .collect(),
                    )
                })
                .collect();
            let value = json!({ "info": rec.info, "params": rec.params, "tags": rec.tags, "metrics": metrics });
            out.emit(&value, || {
                let mut rows = vec![
                    (
                        "run".to_string(),
                        format!("{} ({})", rec.info.run_id, rec.info.run_name),
                    ),
                    ("status".to_string(), format!("{:?}", rec.info.status)),
                ];
                rows.extend(rec.params.iter().map(|(k, v)| (format!("param {k}"), v.clone())));
                rows.extend(
                    rec.metrics
                        .iter()
                        .filter_map(|(k, v)| v.last().map(|m| (format!("metric {k}"), num(m.value)))),
                );
                table(&rows)
            });
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Registered model names.
    List {
        /// The MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlruns).
        #[arg(long)]
        tracking_uri: Option<String>,
    },
    /// The versions of a registered model, with their aliases.
    Versions {
        /// Registered model name.
        name: String,
        /// The MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlruns).
        #[arg(long)]
        tracking_uri: Option<String>,
    },
    /// Point an alias (e.g. champion) at a version.
    Alias {
        /// Registered model name.
        name: String,
        /// Alias.
        alias: String,
        /// Version number.
        version: u64,
        /// The MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlruns).
        #[arg(long)]
        tracking_uri: Option<String>,
    },
    /// The version an alias (or `latest`) points at.
    Resolve {
        /// Registered model name.
        name: String,
        /// Alias.
        alias: String,
        /// The MLflow store (default: $MLFLOW_TRACKING_URI, else ./mlruns).
        #[arg(long)]
        tracking_uri: Option<String>,
    },
}

fn version_json(v: &ml_sdk::track::ModelVersionInfo) -> Value {
    json!({"name": v.name, "version": v.version, "source": v.source, "run_id": v.run_id, "aliases": v.aliases})
}

pub fn models(cmd: &ModelsCommand, out: &Output) -> Result<()> {
    match cmd {
        ModelsCommand::List { tracking_uri } => {
            let names = open_existing(tracking_uri.as_deref())?.registered_models()?;
            out.emit(&json!({"models": names}), || {
                names.iter().map(|n| format!("  {n}\n")).collect()
            });
        }
        ModelsCommand::Versions { name, tracking_uri } => {
            let versions = open_existing(tracking_uri.as_deref())?.model_versions(name)?;
            let rows: Vec<Value> = versions.iter().map(version_json).collect();
            out.emit(&json!({"versions": rows}), || {
                versions
                    .iter()
                    .map(|v| format!("  {:>4}  {}  {}\n", v.version, v.source, v.aliases.join(",")))
                    .collect()
            });
        }
        ModelsCommand::Alias {
            name,
            alias,
            version,
            tracking_uri,
        } => {
            let store = open_existing(tracking_uri.as_deref())?;
            store.set_alias(name, alias, *version)?;
            let v = store.resolve_alias(name, alias)?;
            out.emit(&version_json(&v), || {
                format!("{name}@{alias} -> version {}\n", v.version)
            });
        }
        ModelsCommand::Resolve {
            name,
            alias,
            tracking_uri,
        } => {
            let v = open_existing(tracking_uri.as_deref())?.resolve_alias(name, alias)?;
            out.emit(&version_json(&v), || {
                format!("{name}@{alias} -> version {} ({})\n", v.version, v.source)
            });
        }
    }
    Ok(())
}
