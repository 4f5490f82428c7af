//! CI/CD for a model repository (`mlsdk ci init`, `mlsdk ci gate`): a GitHub
//! Actions workflow that trains on the repository's data, evaluates against
//! quality, fairness and privacy-budget gates, promotes the registered
//! version that passes, and writes the deploy artefacts.
//!
//! The workflow is rendered from a [`PipelineConfig`] (kept beside it as
//! `.mlsdk/pipeline.json`); its steps are plain `mlsdk` commands
//! ([`PipelineConfig::steps`]), so the same commands run in a shell script
//! as in the workflow. The gates read the JSON reports those commands write
//! ([`check_gates`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ml_core::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where `mlsdk ci init` writes the workflow, inside the repository.
pub const WORKFLOW_PATH: &str = ".github/workflows/ml-pipeline.yml";
/// Where it writes the configuration the workflow was rendered from.
pub const CONFIG_PATH: &str = ".mlsdk/pipeline.json";
/// The directory the steps write their JSON reports into.
pub const REPORTS_DIR: &str = "reports";

/// What the pipeline trains, how it is judged and what it deploys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Training data: a CSV file in the repository.
    pub data: String,
    /// Held-out data the gates judge the model on (a CSV with the same
    /// columns); the training data when absent.
    #[serde(default)]
    pub eval_data: Option<String>,
    /// The target column.
    pub target: String,
    /// The trainer (`mlsdk train --model`).
    pub model: String,
    /// Its parameters, `key=value` (`mlsdk train --param`).
    #[serde(default)]
    pub params: Vec<String>,
    /// The training seed.
    #[serde(default)]
    pub seed: u64,
    /// Sensitive columns for the fairness report and gates (comma-joined for
    /// `mlsdk fairness --sensitive`); none skips the fairness step.
    #[serde(default)]
    pub sensitive: Vec<String>,
    /// The MLflow store the run is logged to and the model registered in.
    pub tracking_uri: String,
    /// The experiment.
    pub experiment: String,
    /// The registered model's name.
    pub registered_model: String,
    /// The alias a version that passes the gates gets (the deploy artefacts
    /// serve `models:/NAME@ALIAS`).
    pub alias: String,
    /// The gates.
    pub gates: Gates,
    /// Which deploy artefacts to write.
    pub deploy: DeployTargets,
    /// The shell command that installs `mlsdk` on the runner.
    pub install: String,
}

/// Thresholds a trained model must meet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// Evaluation metrics (`mlsdk evaluate`'s names) and their minimums.
    #[serde(default)]
    pub min_metrics: BTreeMap<String, f64>,
    /// Evaluation metrics that must stay at or below a value (`log_loss`, `rmse`).
    #[serde(default)]
    pub max_metrics: BTreeMap<String, f64>,
    /// Parity measures (`mlsdk fairness`'s names, e.g.
    /// `demographic_parity_difference`) and their maximums.
    #[serde(default)]
    pub max_fairness: BTreeMap<String, f64>,
    /// The most ε a differentially private model may have spent; a model
    /// that reports no privacy loss fails this gate when it is set.
    #[serde(default)]
    pub max_epsilon: Option<f64>,
}

/// The deploy artefacts the pipeline writes for the promoted version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployTargets {
    /// A Triton model repository (`mlsdk deploy triton`).
    pub triton: bool,
    /// Kubernetes manifests (`mlsdk deploy k8s`).
    pub kubernetes: bool,
    /// A KServe InferenceService (`mlsdk deploy kserve`).
    pub kserve: bool,
    /// A container build context (`mlsdk deploy docker`).
    pub docker: bool,
}

impl Default for DeployTargets {
    fn default() -> Self {
        Self {
            triton: true,
            kubernetes: true,
            kserve: true,
            docker: true,
        }
    }
}

impl DeployTargets {
    /// Leave one artefact out by name: `triton`, `k8s` (or `kubernetes`),
    /// `kserve`, `docker`.
    ///
    /// # Errors
    /// Another name.
    pub fn skip(&mut self, name: &str) -> Result<()> {
        match name {
            "triton" => self.triton = false,
            "k8s" | "kubernetes" => self.kubernetes = false,
            "kserve" => self.kserve = false,
            "docker" => self.docker = false,
            other => {
                return Err(Error::invalid(
                    "deploy",
                    format!("{other:?}: known are triton, k8s, kserve, docker"),
                ));
            }
        }
        Ok(())
    }
}

/// Read `NAME=VALUE` thresholds (the gates as `mlsdk ci init` takes them);
/// `what` names them in errors.
///
/// # Errors
/// An item without `=`, or whose value is not a number.
pub fn parse_thresholds(what: &str, items: &[String]) -> Result<BTreeMap<String, f64>> {
    items
        .iter()
        .map(|item| {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| Error::invalid(what, format!("{item:?}: expected NAME=VALUE")))?;
            let v: f64 = v
                .parse()
                .map_err(|_| Error::invalid(what, format!("{item:?}: {v:?} is not a number")))?;
            Ok((k.to_string(), v))
        })
        .collect()
}

impl PipelineConfig {
    /// A pipeline for `model` on `data` predicting `target`, with the
    /// defaults: store `mlruns`, experiment `ml-pipeline`, registered model
    /// `model`, alias `champion`, every deploy artefact, no gates.
    pub fn new(data: impl Into<String>, target: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            data: data.into(),
            eval_data: None,
            target: target.into(),
            model: model.into(),
            params: Vec::new(),
            seed: 0,
            sensitive: Vec::new(),
            tracking_uri: "mlruns".into(),
            experiment: "ml-pipeline".into(),
            registered_model: "model".into(),
            alias: "champion".into(),
            gates: Gates::default(),
            deploy: DeployTargets::default(),
            install: "cargo install --locked ml-sdk-cli".into(),
        }
    }

    /// Check what can be checked without running anything.
    ///
    /// # Errors
    /// Empty names, parameters without `=`, thresholds that are not finite,
    /// a registered-model name or alias MLflow would refuse.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("data", &self.data),
            ("target", &self.target),
            ("model", &self.model),
            ("tracking_uri", &self.tracking_uri),
            ("experiment", &self.experiment),
            ("install", &self.install),
        ] {
            if v.trim().is_empty() {
                return Err(Error::invalid(what, "must not be empty"));
            }
        }
        if let Some(p) = self.params.iter().find(|p| !p.contains('=')) {
            return Err(Error::invalid("params", format!("{p:?} is not key=value")));
        }
        let simple = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !simple(&self.registered_model) || !simple(&self.alias) {
            return Err(Error::invalid(
                "registered_model",
                format!(
                    "{:?}@{:?}: names of letters, digits, '-', '_' and '.' only",
                    self.registered_model, self.alias
                ),
            ));
        }
        let g = &self.gates;
        for (k, v) in g.min_metrics.iter().chain(&g.max_metrics).chain(&g.max_fairness) {
            if !v.is_finite() {
                return Err(Error::invalid("gates", format!("{k}: {v} is not a finite threshold")));
            }
        }
        if g.max_epsilon.is_some_and(|e| !e.is_finite() || e < 0.0) {
            return Err(Error::invalid("gates.max_epsilon", "must be a finite ε ≥ 0"));
        }
        if !self.sensitive.is_empty() && self.sensitive.iter().any(|s| s.is_empty() || s.contains(',')) {
            return Err(Error::invalid(
                "sensitive",
                "column names must be non-empty and without ','",
            ));
        }
        if self.sensitive.is_empty() && !g.max_fairness.is_empty() {
            return Err(Error::invalid(
                "gates.max_fairness",
                "fairness gates need sensitive columns",
            ));
        }
        Ok(())
    }

    /// The pipeline's steps after checkout, as (name, shell command): what
    /// the workflow runs, in order. Commands run from the repository root;
    /// the config is at [`CONFIG_PATH`].
    pub fn steps(&self) -> Vec<(String, String)> {
        let q = shell_quote;
        let eval = self.eval_data.as_deref().unwrap_or(&self.data);
        let uri = q(&self.tracking_uri);
        let mut train = format!(
            "mlsdk train --data {} --target {} --model {} --seed {}",
            q(&self.data),
            q(&self.target),
            q(&self.model),
            self.seed
        );
        for p in &self.params {
            train += &format!(" --param {}", q(p));
        }
        train += &format!(
            " --out model --tracking-uri {uri} --experiment {} --register {} --json > {REPORTS_DIR}/train.json",
            q(&self.experiment),
            q(&self.registered_model)
        );
        let mut steps = vec![
            ("Install mlsdk".to_string(), self.install.clone()),
            ("Train".to_string(), format!("mkdir -p {REPORTS_DIR}\n{train}")),
            (
                "Evaluate".to_string(),
                format!(
                    "mlsdk evaluate --model model --data {} --target {} --json > {REPORTS_DIR}/metrics.json",
                    q(eval),
                    q(&self.target)
                ),
            ),
        ];
        if !self.sensitive.is_empty() {
            steps.push((
                "Fairness".to_string(),
                format!(
                    "mlsdk fairness --model model --data {} --target {} --sensitive {} --report {REPORTS_DIR}/fairness --json > {REPORTS_DIR}/fairness.json",
                    q(eval),
                    q(&self.target),
                    q(&self.sensitive.join(","))
                ),
            ));
        }
        steps.push((
            "Quality, fairness and privacy gates; promote the version that passes".to_string(),
            format!("mlsdk ci gate --config {CONFIG_PATH} --reports {REPORTS_DIR}"),
        ));
        let model = q(&format!(
            "{}=models:/{}@{}",
            self.registered_model, self.registered_model, self.alias
        ));
        let mut deploy = Vec::new();
        for (on, cmd) in [
            (self.deploy.triton, "triton --model {m} --out deploy/triton"),
            (self.deploy.kubernetes, "k8s --model {m} --out deploy/kubernetes"),
            (self.deploy.kserve, "kserve --model {m} --out deploy/kserve"),
            (self.deploy.docker, "docker --model {m} --out deploy/docker"),
        ] {
            if on {
                deploy.push(format!(
                    "mlsdk deploy {} --tracking-uri {uri}",
                    cmd.replace("{m}", &model)
                ));
            }
        }
        if !deploy.is_empty() {
            steps.push(("Deploy artefacts".to_string(), deploy.join("\n")));
        }
        steps
    }

    /// The GitHub Actions workflow: on pushes to `main`, pull requests and
    /// by hand; checkout, the [`steps`](Self::steps), and the store, reports
    /// and deploy artefacts uploaded (also when a gate fails, to see why).
    pub fn workflow_yaml(&self) -> String {
        let mut y = String::from(
            "# Written by `mlsdk ci init` from .mlsdk/pipeline.json; edit that file and\n\
             # run `mlsdk ci init` again rather than editing this one.\n\
             name: ml-pipeline\n\
             on:\n  push:\n    branches: [main]\n  pull_request:\n  workflow_dispatch:\n\
             jobs:\n  pipeline:\n    runs-on: ubuntu-latest\n    timeout-minutes: 60\n    steps:\n\
             \x20     - uses: actions/checkout@v4\n",
        );
        for (name, run) in self.steps() {
            y += &format!("      - name: {}\n        run: |\n", yaml_string(&name));
            for line in run.lines() {
                y += &format!("          {line}\n");
            }
        }
        y += "      - name: Keep the run, the reports and the deploy artefacts\n\
              \x20       if: always()\n\
              \x20       uses: actions/upload-artifact@v4\n\
              \x20       with:\n\
              \x20         name: ml-pipeline\n\
              \x20         if-no-files-found: ignore\n\
              \x20         path: |\n";
        let store = if crate::track::is_remote_uri(&self.tracking_uri) {
            String::new()
        } else {
            format!("            {}\n", self.tracking_uri.trim_start_matches("file:"))
        };
        y += &store;
        y += &format!("            {REPORTS_DIR}\n            deploy\n");
        y
    }

    /// Write the workflow and the config under `dir` (a repository root);
    /// returns their paths. Existing files are not overwritten unless
    /// `force`.
    ///
    /// # Errors
    /// An invalid config; a file that exists (without `force`); write failures.
    pub fn write(&self, dir: &Path, force: bool) -> Result<Vec<PathBuf>> {
        self.validate()?;
        let config = serde_json::to_string_pretty(self).map_err(|e| Error::invalid("config", e.to_string()))? + "\n";
        let files = [
            (dir.join(WORKFLOW_PATH), self.workflow_yaml()),
            (dir.join(CONFIG_PATH), config),
        ];
        if !force && let Some((p, _)) = files.iter().find(|(p, _)| p.exists()) {
            return Err(Error::invalid(
                "out",
                format!("{} exists (--force replaces it)", p.display()),
            ));
        }
        for (path, text) in &files {
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                continue;
            };
            ml_core::io::save_in_dir(parent, &name.to_string_lossy(), text.as_bytes())?;
        }
        Ok(files.into_iter().map(|(p, _)| p).collect())
    }

    /// Read a config written by [`write`](Self::write).
    ///
    /// # Errors
    /// A missing or unreadable file, JSON that is not a valid config.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        let config: Self = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(format!("pipeline config {}", path.display()), e.to_string()))?;
        config.validate()?;
        Ok(config)
    }
}

/// One gate's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    /// What was checked (`accuracy >= 0.7`).
    pub gate: String,
    /// The measured value (`None`: missing from the reports).
    pub value: Option<f64>,
    /// Whether it passed.
    pub passed: bool,
}

/// The reports the steps wrote: `train.json`, `metrics.json` and (with
/// sensitive columns) `fairness.json` in `dir`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reports {
    /// `mlsdk train --json`.
    pub train: Value,
    /// `mlsdk evaluate --json`.
    pub metrics: Value,
    /// `mlsdk fairness --json`, if run.
    pub fairness: Option<Value>,
}

impl Reports {
    /// Read the reports from `dir`.
    ///
    /// # Errors
    /// A missing `train.json` or `metrics.json`, a report that is not JSON.
    pub fn read(dir: &Path) -> Result<Self> {
        let read = |name: &str| -> Result<Option<Value>> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| Error::invalid(format!("report {}", path.display()), e.to_string())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(Error::Io {
                    op: "read",
                    path,
                    source,
                }),
            }
        };
        let missing = |name: &str| Error::invalid("reports", format!("no {name} in {}", dir.display()));
        Ok(Self {
            train: read("train.json")?.ok_or_else(|| missing("train.json"))?,
            metrics: read("metrics.json")?.ok_or_else(|| missing("metrics.json"))?,
            fairness: read("fairness.json")?,
        })
    }
}

/// Check `reports` against the config's gates: every gate's outcome, in the
/// order min metrics, max metrics, fairness, privacy. A metric the reports
/// lack fails its gate.
pub fn check_gates(config: &PipelineConfig, reports: &Reports) -> Vec<GateResult> {
    let g = &config.gates;
    let mut out = Vec::new();
    let metric = |k: &str| reports.metrics["metrics"][k].as_f64();
    for (k, min) in &g.min_metrics {
        let value = metric(k);
        out.push(GateResult {
            gate: format!("{k} >= {min}"),
            value,
            passed: value.is_some_and(|v| v >= *min),
        });
    }
    for (k, max) in &g.max_metrics {
        let value = metric(k);
        out.push(GateResult {
            gate: format!("{k} <= {max}"),
            value,
            passed: value.is_some_and(|v| v <= *max),
        });
    }
    for (k, max) in &g.max_fairness {
        let value = reports.fairness.as_ref().and_then(|f| f[k].as_f64());
        out.push(GateResult {
            gate: format!("{k} <= {max}"),
            value,
            passed: value.is_some_and(|v| v <= *max),
        });
    }
    if let Some(max) = g.max_epsilon {
        let value = reports.train["privacy"]["epsilon"].as_f64();
        out.push(GateResult {
            gate: format!("privacy epsilon <= {max}"),
            value,
            passed: value.is_some_and(|v| v <= max),
        });
    }
    out
}

/// The registered version `train.json` reports.
///
/// # Errors
/// A training report without a registered version.
pub fn registered_version(reports: &Reports) -> Result<u64> {
    reports.train["registered"]["version"].as_u64().ok_or_else(|| {
        Error::invalid(
            "train.json",
            "no registered version (train with --tracking-uri and --register)",
        )
    })
}

/// Every gate passed; else an error naming each failed gate with what was
/// measured.
///
/// # Errors
/// At least one failed gate.
pub fn require_passed(results: &[GateResult]) -> Result<()> {
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| match r.value {
            Some(v) => format!("{} (measured {v:.4})", r.gate),
            None => format!("{} (not measured)", r.gate),
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid("gates", format!("failed: {}", failed.join("; "))))
    }
}

/// Point the config's alias at the version `train.json` registered, once
/// every gate has passed (`mlsdk ci gate` calls it); returns the version.
///
/// # Errors
/// A failed gate (named), a report without a registered version or for
/// another registered model, store failures.
pub fn promote(config: &PipelineConfig, reports: &Reports, results: &[GateResult]) -> Result<u64> {
    require_passed(results)?;
    let version = registered_version(reports)?;
    let name = reports.train["registered"]["name"].as_str().unwrap_or_default();
    if name != config.registered_model {
        return Err(Error::invalid(
            "train.json",
            format!("registered {name:?}, the config names {:?}", config.registered_model),
        ));
    }
    let store = crate::track::open_tracking_store(&config.tracking_uri)?;
    store.set_alias(&config.registered_model, &config.alias, version)?;
    Ok(version)
}

/// Quote a word for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A YAML double-quoted string.
fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PipelineConfig {
        let mut c = PipelineConfig::new("data/credit.csv", "risk", "logistic");
        c.sensitive = vec!["sex".into()];
        c.gates.min_metrics.insert("accuracy".into(), 0.7);
        c.gates.max_fairness.insert("demographic_parity_difference".into(), 0.2);
        c
    }

    #[test]
    fn gates_pass_fail_and_missing() {
        let c = config();
        let reports = Reports {
            train: serde_json::json!({"registered": {"name": "model", "version": 3}}),
            metrics: serde_json::json!({"metrics": {"accuracy": 0.75}}),
            fairness: Some(serde_json::json!({"demographic_parity_difference": 0.25})),
        };
        let r = check_gates(&c, &reports);
        assert_eq!(r.len(), 2);
        assert!(r[0].passed && r[0].value == Some(0.75));
        assert!(!r[1].passed && r[1].value == Some(0.25));
        assert_eq!(registered_version(&reports).unwrap(), 3);
        let mut c2 = c.clone();
        c2.gates.max_epsilon = Some(1.0);
        let r = check_gates(&c2, &reports);
        assert!(!r[2].passed && r[2].value.is_none(), "{r:?}");
        let err = promote(&c2, &reports, &r).unwrap_err().to_string();
        assert!(
            err.contains("demographic_parity_difference <= 0.2 (measured 0.2500)") && err.contains("not measured"),
            "{err}"
        );
        let none = Reports {
            fairness: None,
            ..reports
        };
        assert!(!check_gates(&c, &none)[1].passed);
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut c = config();
        c.params = vec!["C".into()];
        assert!(c.validate().is_err());
        let mut c = config();
        c.registered_model = "a b".into();
        assert!(c.validate().is_err());
        let mut c = config();
        c.sensitive.clear();
        assert!(c.validate().unwrap_err().to_string().contains("sensitive"));
        let mut c = config();
        c.gates.min_metrics.insert("f1".into(), f64::NAN);
        assert!(c.validate().is_err());
        assert!(serde_json::from_str::<PipelineConfig>(r#"{"data": "x"}"#).is_err());
    }

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("data/credit.csv"), "data/credit.csv");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        let steps = config().steps();
        assert!(
            steps[1].1.contains("--register model --json > reports/train.json"),
            "{steps:?}"
        );
        assert!(steps.iter().any(|(_, c)| c.contains("--sensitive sex")));
    }
}
