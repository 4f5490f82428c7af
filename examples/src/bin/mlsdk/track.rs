//! Tracking for `mlsdk train`, and `mlsdk runs list | show`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use ml_sdk::core::{MetricPoint, RunId, Tracker};
use ml_sdk::track::{
    FanOutTracker, MlflowStore, RunGuard, TensorBoardWriter, experiment_name, now_ms, open_store, tracking_uri,
};
use serde_json::{Value, json};

use crate::output::{Output, num, table};

#[derive(Debug, Args)]
pub struct TrackingArgs {
    /// Log the run to this MLflow store: a path or file: URI (default: $MLFLOW_TRACKING_URI;
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
            || self.tensorboard.is_some()
            || std::env::var("MLFLOW_TRACKING_URI").is_ok_and(|v| !v.is_empty())
    }

    /// Start a run if tracking is on.
    pub fn start(&self) -> Result<Option<ActiveRun>> {
        if !self.enabled() {
            return Ok(None);
        }
        let uri = tracking_uri(self.tracking_uri.as_deref());
        let experiment = experiment_name(self.experiment.as_deref());
        let store = open_store(&uri).with_context(|| format!("opening tracking store {uri}"))?;
        let name = self.run_name.as_deref();
        let (tracker, run, mlflow_run): (Box<dyn Tracker>, RunId, RunId) = match &self.tensorboard {
            Some(dir) => {
                let fan = FanOutTracker::new(vec![Box::new(store), Box::new(TensorBoardWriter::new(dir)?)]);
                let run = fan.start_run(&experiment, name)?;
                let mlflow_run = fan.backend_runs(&run)?[0].clone();
                (Box::new(fan), run, mlflow_run)
            }
            None => {
                let run = store.start_run(&experiment, name)?;
                (Box::new(store), run.clone(), run)
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
    /// Metrics at step 0, now.
    pub fn log_map(&self, prefix: &str, metrics: &BTreeMap<String, f64>) -> Result<()> {
        let now = now_ms();
        let points: Vec<MetricPoint> = metrics
            .iter()
            .map(|(k, v)| MetricPoint {
                key: format!("{prefix}{k}"),
                value: *v,
                step: 0,
                timestamp_ms: now,
            })
            .collect();
        Ok(self.tracker.log_metrics(&self.run, &points)?)
    }

    /// A guard that marks the run FAILED unless finished.
    pub fn guard(&self) -> RunGuard<'_> {
        RunGuard::new(self.tracker.as_ref(), self.run.clone())
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

fn open_existing(uri: Option<&str>) -> Result<MlflowStore> {
    let uri = tracking_uri(uri);
    let path = uri
        .strip_prefix("file://")
        .or_else(|| uri.strip_prefix("file:"))
        .unwrap_or(&uri);
    if !std::path::Path::new(path).is_dir() {
        anyhow::bail!("no tracking store at '{uri}'");
    }
    Ok(open_store(&uri)?)
}

pub fn run(cmd: &RunsCommand, out: &Output) -> Result<()> {
    match cmd {
        RunsCommand::List {
            tracking_uri,
            experiment,
        } => {
            let store = open_existing(tracking_uri.as_deref())?;
            let wanted = experiment
                .clone()
                .or_else(|| std::env::var("MLFLOW_EXPERIMENT_NAME").ok().filter(|s| !s.is_empty()));
            let experiments = match &wanted {
                Some(name) => vec![
                    store
                        .experiment_by_name(name)?
                        .with_context(|| format!("no experiment named '{name}'"))?,
                ],
                None => store.experiments()?,
            };
            let mut rows = Vec::new();
            for e in &experiments {
                for r in store.runs(&e.experiment_id)? {
                    let rec = store.run(&r.run_id)?;
                    let latest: BTreeMap<String, f64> = rec
                        .metrics
                        .iter()
                        .filter_map(|(k, v)| v.last().map(|m| (k.clone(), m.value)))
                        .collect();
                    rows.push(json!({
                        "run_id": r.run_id, "run_name": r.run_name, "experiment": e.name,
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
            let store = open_existing(tracking_uri.as_deref())?;
            let rec = store.run(run_id)?;
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
