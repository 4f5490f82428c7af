//! `mlsdk ci`: CI/CD for a model repository, thin over `ml_sdk::ci`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use ml_sdk::ci::{CONFIG_PATH, PipelineConfig, Reports, check_gates, parse_thresholds, promote, require_passed};
use serde_json::json;

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Write a GitHub Actions workflow (.github/workflows/ml-pipeline.yml) and the config it was rendered from (.mlsdk/pipeline.json) into a model repository.
    Init(Box<InitArgs>),
    /// Check the reports of a pipeline run against the config's gates; promote the registered version when all pass, fail otherwise.
    Gate(GateArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The repository root to write into.
    #[arg(long)]
    out: PathBuf,
    /// Training data: a CSV file, relative to the repository root.
    #[arg(long)]
    data: String,
    /// Held-out data the gates judge the model on (default: the training data).
    #[arg(long)]
    eval_data: Option<String>,
    /// The target column.
    #[arg(long)]
    target: String,
    /// The trainer (as `mlsdk train --model`).
    #[arg(long, default_value = "logistic")]
    model: String,
    /// A trainer parameter, key=value (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// The training seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sensitive columns for the fairness report and gates (comma separated).
    #[arg(long, value_delimiter = ',')]
    sensitive: Vec<String>,
    /// The registered model's name.
    #[arg(long, default_value = "model")]
    registered_model: String,
    /// The alias a version that passes the gates gets.
    #[arg(long, default_value = "champion")]
    alias: String,
    /// The MLflow store the pipeline logs to (a path in the repository, or an MLflow server).
    #[arg(long, default_value = "mlruns")]
    tracking_uri: String,
    /// The experiment.
    #[arg(long, default_value = "ml-pipeline")]
    experiment: String,
    /// A quality gate: an evaluation metric's minimum, METRIC=VALUE (repeatable).
    #[arg(long = "min", value_name = "METRIC=VALUE")]
    min: Vec<String>,
    /// A quality gate: an evaluation metric's maximum, METRIC=VALUE (repeatable; log_loss, rmse, …).
    #[arg(long = "max", value_name = "METRIC=VALUE")]
    max: Vec<String>,
    /// A fairness gate: a parity measure's maximum, MEASURE=VALUE (repeatable; demographic_parity_difference, …).
    #[arg(long = "max-fairness", value_name = "MEASURE=VALUE")]
    max_fairness: Vec<String>,
    /// A privacy-budget gate: the most ε the model may have spent (a model without a privacy guarantee fails it).
    #[arg(long)]
    max_epsilon: Option<f64>,
    /// Deploy artefacts to leave out (comma separated: triton, k8s, kserve, docker).
    #[arg(long, value_delimiter = ',')]
    skip_deploy: Vec<String>,
    /// The command that installs mlsdk on the runner.
    #[arg(long)]
    install: Option<String>,
    /// Replace an existing workflow or config.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The pipeline config.
    #[arg(long, default_value = CONFIG_PATH)]
    config: PathBuf,
    /// The directory holding train.json, metrics.json and fairness.json.
    #[arg(long, default_value = ml_sdk::ci::REPORTS_DIR)]
    reports: PathBuf,
    /// Check only: do not promote the registered version.
    #[arg(long)]
    no_promote: bool,
}

pub fn run(command: &CiCommand, out: &Output) -> Result<()> {
    match command {
        CiCommand::Init(a) => init(a, out),
        CiCommand::Gate(a) => gate(a, out),
    }
}

fn init(a: &InitArgs, out: &Output) -> Result<()> {
    let mut config = PipelineConfig::new(&a.data, &a.target, &a.model);
    config.eval_data = a.eval_data.clone();
    config.params = a.params.clone();
    config.seed = a.seed;
    config.sensitive = a.sensitive.clone();
    config.registered_model = a.registered_model.clone();
    config.alias = a.alias.clone();
    config.tracking_uri = a.tracking_uri.clone();
    config.experiment = a.experiment.clone();
    config.gates.min_metrics = parse_thresholds("--min", &a.min)?;
    config.gates.max_metrics = parse_thresholds("--max", &a.max)?;
    config.gates.max_fairness = parse_thresholds("--max-fairness", &a.max_fairness)?;
    config.gates.max_epsilon = a.max_epsilon;
    for skip in &a.skip_deploy {
        config.deploy.skip(skip)?;
    }
    if let Some(install) = &a.install {
        config.install = install.clone();
    }
    let files = config.write(&a.out, a.force)?;
    out.emit(
        &json!({"files": files, "steps": config.steps().into_iter().map(|(n, _)| n).collect::<Vec<_>>()}),
        || {
            let mut s: String = files.iter().map(|f| format!("wrote {}\n", f.display())).collect();
            s += "steps after checkout:\n";
            for (name, _) in config.steps() {
                s += &format!("  {name}\n");
            }
            s
        },
    );
    Ok(())
}

fn gate(a: &GateArgs, out: &Output) -> Result<()> {
    let config = PipelineConfig::load(&a.config)?;
    let reports = Reports::read(&a.reports)?;
    let results = check_gates(&config, &reports);
    let outcome = if a.no_promote {
        require_passed(&results).map(|()| None)
    } else {
        promote(&config, &reports, &results).map(Some)
    };
    let value = json!({
        "gates": results,
        "passed": outcome.is_ok(),
        "promoted": outcome.as_ref().ok().copied().flatten().map(|v| json!({"name": config.registered_model, "alias": config.alias, "version": v})),
    });
    out.emit(&value, || {
        let mut s = String::new();
        for r in &results {
            let measured = r.value.map_or("not measured".to_string(), |v| format!("{v:.4}"));
            s += &format!(
                "  {:<4} {:<44} {measured}\n",
                if r.passed { "pass" } else { "FAIL" },
                r.gate
            );
        }
        if let Ok(Some(v)) = &outcome {
            s += &format!(
                "promoted {} version {v} to @{}\n",
                config.registered_model, config.alias
            );
        }
        s
    });
    outcome?;
    Ok(())
}
