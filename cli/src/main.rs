//! `mlsdk`: the command-line face of ml-sdk.
//!
//! Every subcommand prints a human-readable table, or JSON with `--json`; bad
//! input ends with a one-line `error: ...` on stderr and a non-zero exit code.

mod ci;
mod data;
mod he;
mod interpret;
mod output;
mod privacy;
mod rl;
mod serve;
mod track;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "mlsdk", version, about = "Train, evaluate and use models with ml-sdk")]
struct Cli {
    /// Print JSON on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fit a pipeline (one-hot encoding, scaling, model) on a CSV file and save it.
    Train(Box<train::TrainArgs>),
    /// Search hyper-parameters by cross-validation (grid or randomized), refit the best on all rows and save it; with tracking, one child run per candidate.
    Tune(Box<train::TuneArgs>),
    /// Score a saved model on a labelled CSV file.
    Evaluate(train::EvaluateArgs),
    /// Write predictions (and class probabilities) for a CSV file.
    Predict(train::PredictArgs),
    /// Show a saved model's signature, preprocessing and estimator.
    Inspect(train::InspectArgs),
    /// Export a saved model to ONNX (opset 17 and ai.onnx.ml).
    ExportOnnx(train::ExportOnnxArgs),
    /// Explain a model's predictions: SHAP values, permutation importance, partial dependence.
    Explain(Box<interpret::ExplainArgs>),
    /// Group fairness metrics and parity measures of a classifier.
    Fairness(interpret::FairnessArgs),
    /// Post-process a classifier for a fairness constraint (ThresholdOptimizer).
    Mitigate(interpret::MitigateArgs),
    /// The bundled data sets.
    #[command(subcommand)]
    Datasets(data::DatasetsCommand),
    /// Runs logged to an MLflow store.
    #[command(subcommand)]
    Runs(track::RunsCommand),
    /// The model registry of an MLflow store.
    #[command(subcommand)]
    Models(track::ModelsCommand),
    /// Differential privacy: private statistics of a column, DP-SGD accounting.
    #[command(subcommand)]
    Privacy(privacy::PrivacyCommand),
    /// Reinforcement learning: environments and rollouts.
    #[command(subcommand)]
    Rl(rl::RlCommand),
    /// Serve models over the Open Inference Protocol (KServe, Triton) and MLflow's scoring protocol.
    Serve(Box<serve::ServeArgs>),
    /// Write what other serving systems run: a Triton model repository, a container, Kubernetes manifests.
    #[command(subcommand)]
    Deploy(serve::DeployCommand),
    /// Encrypted inference: keys, encryption, scoring on ciphertexts, decryption.
    #[command(subcommand)]
    He(he::HeCommand),
    /// Ask a server's health route; exit 0 on 200 (container health checks).
    Probe(serve::ProbeArgs),
    /// CI/CD for a model repository: a GitHub Actions workflow that trains, gates, registers and writes deploy artefacts.
    #[command(subcommand)]
    Ci(ci::CiCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output { json: cli.json };
    let result = match cli.command {
        Command::Train(a) => train::train(&a, &out),
        Command::Tune(a) => train::tune(&a, &out),
        Command::Evaluate(a) => train::evaluate(&a, &out),
        Command::Predict(a) => train::predict(&a, &out),
        Command::Inspect(a) => train::inspect(&a, &out),
        Command::ExportOnnx(a) => train::export_onnx(&a, &out),
        Command::Explain(a) => interpret::explain(&a, &out),
        Command::Fairness(a) => interpret::fairness(&a, &out),
        Command::Mitigate(a) => interpret::mitigate(&a, &out),
        Command::Datasets(c) => data::run(&c, &out),
        Command::Runs(c) => track::run(&c, &out),
        Command::Models(c) => track::models(&c, &out),
        Command::Privacy(c) => privacy::run(&c, &out),
        Command::Rl(c) => rl::run(&c, &out),
        Command::Serve(a) => serve::serve(&a, &out),
        Command::Deploy(c) => serve::deploy(&c, &out),
        Command::Probe(a) => serve::probe(&a),
        Command::He(c) => he::run(&c, &out),
        Command::Ci(c) => ci::run(&c, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Each cause once: some errors repeat their source in their own message.
            let mut message = String::new();
            for cause in e.chain() {
                let text = cause.to_string();
                if !message.contains(&text) {
                    if !message.is_empty() {
                        message.push_str(": ");
                    }
                    message.push_str(&text);
                }
            }
            let mut message = message.replace('\n', " ");
            // One readable line, however much the error carries.
            const MAX: usize = 1000;
            if message.chars().count() > MAX {
                let more = message.chars().count() - MAX;
                message = format!(
                    "{}… ({more} more characters)",
                    message.chars().take(MAX).collect::<String>()
                );
            }
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
