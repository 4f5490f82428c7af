//! `mlsdk explain` and `mlsdk fairness`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use ml_sdk::core::io::StagedDir;
use ml_sdk::core::{Dataset, Explainer, Model, Predictions, Target, Task};
use ml_sdk::interpret::charts::Chart;
use ml_sdk::interpret::{
    FairnessReport, GroupMetric, KernelShap, Lime, LinearShap, MetricFrame, PartialDependence, PermutationImportance,
    SavedMitigation, TreeShap, binary_outcome, draw_labels, explained_values, explanation_charts, explanation_json,
    fairness_summary, group_keys, log_explanation, log_fairness, mean_abs_importance, parity_measures,
    sensitive_columns,
};
use serde_json::{Value, json};

use crate::output::{Output, grid, num, table};
use crate::track::TrackingArgs;
use crate::train::{RuntimeArg, load_any, read_csv};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Method {
    /// Exact TreeSHAP: path-dependent, or interventional with --background.
    TreeShap,
    /// KernelSHAP on the model's outputs (any model).
    KernelShap,
    /// Closed-form SHAP of a linear model's margin.
    LinearShap,
    /// Permutation importance (needs --target).
    Permutation,
    /// Partial dependence and ICE curves.
    Pdp,
    /// LIME: local weighted ridge on quartile bins (--background: the
    /// training rows whose bins it samples; default --data).
    Lime,
    /// Shape functions of an additive model (an EBM): the global explanation.
    Shape,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Model directory or file, models:/ or runs:/ URI, or an ONNX file.
    #[arg(long)]
    model: PathBuf,
    /// The rows to explain: CSV with a header.
    #[arg(long)]
    data: PathBuf,
    /// Background rows (CSV): interventional TreeSHAP, linear and kernel SHAP
    /// (default for those two: up to 100 rows of --data, evenly spaced).
    #[arg(long)]
    background: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "tree-shap")]
    method: Method,
    /// Explain only the first N rows.
    #[arg(long)]
    rows: Option<usize>,
    /// The target column: permutation importance scores against it; the other
    /// methods skip it (a model reading columns by position needs to be told).
    #[arg(long)]
    target: Option<String>,
    /// Features for partial dependence (comma separated; default: all).
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// Grid points for partial dependence.
    #[arg(long, default_value_t = 100)]
    grid_resolution: usize,
    /// Coalitions per row for KernelSHAP (default 2M + 2048), perturbations
    /// for LIME (default 5000).
    #[arg(long)]
    n_samples: Option<usize>,
    /// Keep at most K features per KernelSHAP explanation.
    #[arg(long)]
    max_features: Option<usize>,
    /// Shuffles per feature for permutation importance.
    #[arg(long, default_value_t = 5)]
    n_repeats: usize,
    /// Seed of the sampling methods.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Runtime for ONNX models.
    #[arg(long, value_enum, default_value_t)]
    runtime: RuntimeArg,
    /// Write charts (SVG and PNG) into this directory: SHAP summary, bar and
    /// the first row's waterfall per output; importances; PDP/ICE per feature.
    #[arg(long)]
    plot: Option<PathBuf>,
    #[command(flatten)]
    tracking: TrackingArgs,
}

/// Move staged files into place and give `paths` (a JSON list of staged
/// paths, or null) their final names.
fn commit_charts(staged: Option<StagedDir>, paths: &mut Value) -> Result<()> {
    let Some(staged) = staged else { return Ok(()) };
    if let Value::Array(list) = paths {
        for p in list.iter_mut() {
            if let Some(text) = p.as_str() {
                *p = json!(staged.final_path(std::path::Path::new(text)));
            }
        }
    }
    staged.commit()?;
    Ok(())
}

/// Log to a run, when tracking is asked for: `log` writes the results; the
/// run's description goes into the JSON output.
fn with_run(
    tracking: &TrackingArgs,
    log: impl FnOnce(&dyn ml_sdk::core::Tracker, &ml_sdk::core::RunId) -> ml_sdk::core::Result<()>,
) -> Result<Option<Value>> {
    let Some(active) = tracking.start()? else {
        return Ok(None);
    };
    let guard = active.guard();
    log(active.tracker.as_ref(), &active.run)?;
    guard.end(ml_sdk::core::RunStatus::Finished)?;
    Ok(Some(active.describe()))
}

/// Read a CSV as the model's inputs, and the target where `with_target`
/// (a model that reads columns by position skips the target column
/// either way, where the file has it).
fn read_for(
    model: &ml_sdk::LoadedModel,
    path: &std::path::Path,
    target: Option<&str>,
    with_target: bool,
) -> Result<Dataset> {
    let frame = read_csv(path)?;
    let present = target.filter(|t| frame.names().iter().any(|n| n == t));
    let signature = model.signature_for(&frame, present)?;
    Ok(frame.dataset_for(&signature, if with_target { target } else { None }, &[])?)
}

fn first_rows(data: Dataset, rows: Option<usize>) -> Result<Dataset> {
    match rows {
        Some(0) => bail!("--rows must be at least 1"),
        Some(n) if n < data.n_samples() => Ok(data.select_rows(&(0..n).collect::<Vec<_>>())?),
        _ => Ok(data),
    }
}

pub fn explain(args: &ExplainArgs, out: &Output) -> Result<()> {
    args.tracking.check()?;
    // Charts are written aside and moved into --plot only when everything,
    // the tracked run included, has worked.
    let staged = args.plot.as_deref().map(StagedDir::new).transpose()?;
    let plot_dir = staged.as_ref().map(|s| s.path().to_path_buf());
    let loaded = load_any(&args.model, args.runtime, args.tracking.tracking_uri.as_deref())?;
    let model: &dyn Model = &loaded;
    let target = match args.method {
        Method::Permutation => Some(args.target.as_deref().context("--method permutation needs --target")?),
        _ => args.target.as_deref(),
    };
    // Only permutation importance scores against the target; the others
    // merely skip its column.
    let scored = matches!(args.method, Method::Permutation);
    let data = first_rows(read_for(&loaded, &args.data, target, scored)?, args.rows)?;
    let background = match &args.background {
        Some(p) => Some(read_for(&loaded, p, target, false)?.features().to_owned()),
        None => None,
    };
    let value = match args.method {
        Method::TreeShap | Method::KernelShap | Method::LinearShap | Method::Lime => {
            let explainer: Box<dyn Explainer> = match args.method {
                Method::TreeShap => Box::new(TreeShap { background }),
                Method::LinearShap => Box::new(LinearShap { background }),
                Method::Lime => Box::new(Lime {
                    n_samples: args.n_samples.unwrap_or(5000),
                    seed: args.seed,
                    ..Lime::new(match background {
                        Some(b) => b,
                        None => read_for(&loaded, &args.data, target, false)?.features().to_owned(),
                    })
                }),
                _ => Box::new(KernelShap {
                    n_samples: args.n_samples,
                    max_features: args.max_features,
                    seed: args.seed,
                    ..match background {
                        Some(b) => KernelShap::new(b),
                        None => KernelShap::with_background_from(data.features(), 100),
                    }
                }),
            };
            let e = explainer.explain(model, &data)?;
            let mut value = explanation_json(&e);
            if let Some(dir) = &plot_dir {
                let x = explained_values(&e, model, &data)?;
                value["charts"] = json!(explanation_charts(dir, &e, x.view())?);
            }
            value["run"] = json!(with_run(&args.tracking, |t, r| Ok(log_explanation(t, r, &e)?))?);
            commit_charts(staged, &mut value["charts"])?;
            out.emit(&value, || {
                format!(
                    "{} on {} rows; mean |value| per feature ({}):\n{}",
                    e.method,
                    data.n_samples(),
                    e.output_names.join(", "),
                    table(
                        &mean_abs_importance(&e)
                            .into_iter()
                            .map(|(f, v)| (f, v.iter().map(|x| num(*x)).collect::<Vec<_>>().join(", ")))
                            .collect::<Vec<_>>()
                    )
                )
            });
            return Ok(());
        }
        Method::Permutation => {
            let imp = PermutationImportance {
                n_repeats: args.n_repeats,
                seed: args.seed,
            }
            .importances(model, &data)?;
            let e = imp.to_explanation(data.feature_names());
            let run = with_run(&args.tracking, |t, r| Ok(log_explanation(t, r, &e)?))?;
            let charts = match &plot_dir {
                Some(dir) => Chart::importances(&imp, &e.feature_names, 20).save_in(dir, "permutation_importance")?,
                None => Vec::new(),
            };
            json!({
                "run": run,
                "charts": charts,
                "method": "permutation", "feature_names": data.feature_names(),
                "baseline": imp.baseline, "base_values": [imp.baseline], "values": [imp.mean],
                "importances_mean": imp.mean, "importances_std": imp.std, "importances": imp.all,
            })
        }
        Method::Shape => {
            let by_output = ml_sdk::interpret::shape_functions_by_output(&model.describe()?)?;
            let outputs = by_output.len();
            let (names, terms): (Vec<String>, Vec<_>) = by_output.into_iter().unzip();
            let mut charts = Vec::new();
            if let Some(dir) = &plot_dir {
                for (t, name) in terms.iter().zip(&names) {
                    for sf in &t.shapes {
                        let file = if outputs == 1 {
                            format!("shape_{}", sf.feature)
                        } else {
                            format!("shape_{name}_{}", sf.feature)
                        };
                        charts.extend(Chart::shape(sf)?.save_in(dir, &file)?);
                    }
                }
            }
            let first = &terms[0];
            let features: Vec<String> = first.shapes.iter().map(|s| s.feature.clone()).collect();
            if outputs == 1 {
                json!({
                    "method": "shape_functions", "feature_names": features,
                    "intercept": first.intercept, "shapes": first.shapes, "interactions": first.interactions,
                    "charts": charts,
                })
            } else {
                json!({
                    "method": "shape_functions", "feature_names": features, "output_names": names,
                    "intercept": terms.iter().map(|t| t.intercept).collect::<Vec<_>>(),
                    "shapes": terms.iter().map(|t| &t.shapes).collect::<Vec<_>>(),
                    "interactions": first.interactions, "charts": charts,
                })
            }
        }
        Method::Pdp => {
            let curves = PartialDependence {
                grid_resolution: args.grid_resolution,
                ..Default::default()
            }
            .curves_of(model, &data, &args.features)?;
            let run = with_run(&args.tracking, |t, r| {
                let bytes =
                    serde_json::to_vec(&curves).map_err(|e| ml_sdk::core::Error::invalid("curves", e.to_string()))?;
                t.log_artifact(r, "explanations/pdp.json", &bytes)
            })?;
            let mut charts = Vec::new();
            if let Some(dir) = &plot_dir {
                for c in &curves {
                    for (o, out_name) in c.outputs.iter().enumerate().take(10) {
                        charts.extend(Chart::pdp(c, o, 100)?.save_in(dir, &format!("pdp_{}_{out_name}", c.feature))?);
                    }
                }
            }
            json!({
                "method": "pdp",
                "feature_names": curves.iter().map(|c| c.feature.clone()).collect::<Vec<_>>(),
                "curves": curves,
                "run": run,
                "charts": charts,
            })
        }
    };
    let mut value = value;
    commit_charts(staged, &mut value["charts"])?;
    out.emit(&value, || match args.method {
        Method::Permutation => {
            let mut rows: Vec<(String, String)> = value["feature_names"]
                .as_array()
                .into_iter()
                .flatten()
                .zip(value["importances_mean"].as_array().into_iter().flatten())
                .zip(value["importances_std"].as_array().into_iter().flatten())
                .map(|((f, m), s)| {
                    (
                        f.as_str().unwrap_or("").to_string(),
                        format!(
                            "{} ± {}",
                            num(m.as_f64().unwrap_or(f64::NAN)),
                            num(s.as_f64().unwrap_or(f64::NAN))
                        ),
                    )
                })
                .collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1));
            format!(
                "baseline score {}; drop when shuffled:\n{}",
                num(value["baseline"].as_f64().unwrap_or(f64::NAN)),
                table(&rows)
            )
        }
        Method::Shape => {
            let intercepts: Vec<String> = match &value["intercept"] {
                Value::Array(v) => v.iter().map(|x| num(x.as_f64().unwrap_or(f64::NAN))).collect(),
                x => vec![num(x.as_f64().unwrap_or(f64::NAN))],
            };
            format!(
                "additive model: intercept {}, shape functions of {} feature(s) (use --json for the values)\n",
                intercepts.join(", "),
                chosen_len(&value)
            )
        }
        _ => format!(
            "partial dependence of {} feature(s) over {} rows (use --json for the curves)\n",
            chosen_len(&value),
            data.n_samples()
        ),
    });
    Ok(())
}

fn chosen_len(v: &Value) -> usize {
    v["feature_names"].as_array().map_or(0, Vec::len)
}

#[derive(Debug, Args)]
pub struct FairnessArgs {
    /// Model directory or file, models:/ or runs:/ URI, or an ONNX file.
    #[arg(long)]
    model: PathBuf,
    /// Labelled data: CSV with a header, holding the sensitive columns.
    #[arg(long)]
    data: PathBuf,
    /// The target column.
    #[arg(long)]
    target: String,
    /// Sensitive columns (comma separated; several give intersectional groups).
    #[arg(long, value_delimiter = ',', required = true)]
    sensitive: Vec<String>,
    /// Metrics (comma separated; default: all of count, accuracy,
    /// selection_rate, true/false positive/negative rates, precision, f1).
    #[arg(long, value_delimiter = ',')]
    metrics: Vec<String>,
    /// The positive class (default: the second of two classes).
    #[arg(long)]
    pos_label: Option<String>,
    /// Runtime for ONNX models.
    #[arg(long, value_enum, default_value_t)]
    runtime: RuntimeArg,
    /// Write a report (report.md, report.html and per-group charts) into this directory.
    #[arg(long)]
    report: Option<PathBuf>,
    #[command(flatten)]
    tracking: TrackingArgs,
}

pub fn fairness(args: &FairnessArgs, out: &Output) -> Result<()> {
    args.tracking.check()?;
    let model = load_any(&args.model, args.runtime, args.tracking.tracking_uri.as_deref())?;
    let Task::Classification { classes } = &model.signature().task else {
        bail!("fairness metrics need a classifier");
    };
    let frame = read_csv(&args.data)?;
    let columns = sensitive_columns(&frame, &args.sensitive)?;
    let signature = model.signature_for(&frame, Some(&args.target))?;
    let data = frame.dataset_for(&signature, Some(&args.target), &[])?;
    let Some(Target::Classes { labels, .. }) = data.target() else {
        bail!("the target '{}' is not read as classes", args.target);
    };
    let y_true = labels.to_vec();
    let Predictions::Classification { labels: pred, .. } = model.predict(data.features())? else {
        bail!("the model does not predict classes");
    };
    let y_pred = pred.to_vec();
    let pos = match &args.pos_label {
        Some(p) => classes
            .iter()
            .position(|c| c == p)
            .with_context(|| format!("--pos-label '{p}' is not a class ({})", classes.join(", ")))?,
        None if classes.len() == 2 => 1,
        None => bail!("{} classes: name the positive one with --pos-label", classes.len()),
    };
    let metrics = if args.metrics.is_empty() {
        GroupMetric::all()
    } else {
        args.metrics
            .iter()
            .map(|m| GroupMetric::parse(m))
            .collect::<ml_sdk::interpret::Result<_>>()?
    };
    let f = MetricFrame::new(&metrics, &y_true, &y_pred, &columns, pos)?;
    let parity = parity_measures(&y_true, &y_pred, &columns, pos)?;
    let mut value = fairness_summary(&f, &parity)?;
    value["sensitive"] = json!(args.sensitive);
    value["positive_class"] = json!(classes[pos]);
    value["rows"] = json!(y_true.len());
    let staged = args.report.as_deref().map(StagedDir::new).transpose()?;
    value["run"] = json!(with_run(&args.tracking, |t, r| Ok(log_fairness(t, r, &f, &parity)?))?);
    if let Some(staged) = staged {
        let dir = staged.path().to_path_buf();
        let report = FairnessReport {
            title: format!("Fairness report: {} on {}", args.model.display(), args.data.display()),
            target: args.target.clone(),
            positive_class: classes[pos].clone(),
            sensitive: args.sensitive.clone(),
            frame: &f,
            parity: &parity,
        };
        value["report"] = json!(report.write(&dir)?);
        commit_charts(Some(staged), &mut value["report"])?;
    }
    out.emit(&value, || {
        let header = std::iter::once("group".to_string())
            .chain(f.metrics.iter().cloned())
            .collect::<Vec<_>>();
        // Counts are whole numbers; every other metric is a rate or score.
        let cell = |m: &String, v: f64| if m == "count" { format!("{v:.0}") } else { num(v) };
        let row = |name: String, vals: &BTreeMap<String, f64>| {
            std::iter::once(name)
                .chain(f.metrics.iter().map(|m| cell(m, vals[m])))
                .collect::<Vec<_>>()
        };
        let mut rows = vec![row("(overall)".into(), &f.overall)];
        for (key, vals) in &f.by_group {
            rows.push(row(key.join(", "), vals));
        }
        let mut s = grid(&header, &rows);
        s += "\n";
        s += &table(&parity.iter().map(|(k, v)| (k.clone(), num(*v))).collect::<Vec<_>>());
        s
    });
    Ok(())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MitigationMethod {
    /// Post-process a fitted classifier's scores (needs --model).
    ThresholdOptimizer,
    /// Refit a trainer by reductions (needs --trainer).
    ExponentiatedGradient,
    /// Best response to a grid of multipliers (needs --trainer).
    GridSearch,
}

#[derive(Debug, Args)]
pub struct MitigateArgs {
    #[arg(long, value_enum, default_value = "threshold-optimizer")]
    method: MitigationMethod,
    /// The classifier to post-process (saved model, URI or ONNX file).
    #[arg(long, required_if_eq("method", "threshold-optimizer"))]
    model: Option<PathBuf>,
    /// The algorithm to refit by exponentiated gradient (as `train --model`).
    #[arg(long, required_if_eq_any([("method", "exponentiated-gradient"), ("method", "grid-search")]))]
    trainer: Option<String>,
    /// The trainer's hyper-parameters as key=value (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Labelled data holding the sensitive column.
    #[arg(long)]
    data: PathBuf,
    /// The target column.
    #[arg(long)]
    target: String,
    /// The sensitive column (comma separated: intersectional groups).
    #[arg(long, value_delimiter = ',', required = true)]
    sensitive: Vec<String>,
    /// demographic_parity | equalized_odds | true_positive_rate_parity |
    /// false_positive_rate_parity | true_negative_rate_parity (threshold
    /// optimizer) | false_negative_rate_parity (threshold optimizer) |
    /// error_rate_parity (exponentiated gradient)
    #[arg(long, default_value = "demographic_parity")]
    constraint: String,
    /// Grid steps over [0, 1] (threshold optimizer, default 1000), or
    /// multiplier grid points, one model trained for each (grid search, default 10).
    #[arg(long)]
    grid_size: Option<usize>,
    /// Seed of the randomized predictions reported (and of the resampling).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory to write the mitigation (`mitigation.json`) to.
    #[arg(long)]
    out: PathBuf,
    /// Runtime for ONNX models.
    #[arg(long, value_enum, default_value_t)]
    runtime: RuntimeArg,
    /// The store a models:/ or runs:/ --model resolves against (default:
    /// $MLFLOW_TRACKING_URI, else ./mlruns).
    #[arg(long)]
    tracking_uri: Option<String>,
}

pub fn mitigate(args: &MitigateArgs, out: &Output) -> Result<()> {
    // Written aside (proving the destination writable before any work) and
    // moved into --out at the end.
    let staged = StagedDir::new(&args.out)?;
    let frame = read_csv(&args.data)?;
    let columns = sensitive_columns(&frame, &args.sensitive)?;
    let mut rng = ml_sdk::core::seeded_rng(args.seed);
    // (labels, predictions before, randomized predictions after, what to save, what to print)
    let (y, base_pred, mitigated, saved, extra) = match args.method {
        MitigationMethod::ThresholdOptimizer => {
            let path = args.model.as_ref().context("--model is required")?;
            let model = load_any(path, args.runtime, args.tracking_uri.as_deref())?;
            let (data, base) = ml_sdk::binary_scores(&model, &frame, Some(&args.target))?;
            let Some(Target::Classes { labels, .. }) = data.target() else {
                bail!("the target '{}' is not read as classes", args.target);
            };
            let y = labels.to_vec();
            let (classes, scores, base_pred) = (&base.classes, &base.scores, &base.labels);
            let groups = group_keys(&columns, y.len());
            let thresholds = ml_sdk::interpret::ThresholdOptimizer {
                constraint: ml_sdk::interpret::ParityConstraint::parse(&args.constraint)?,
                grid_size: args.grid_size.unwrap_or(1000),
            }
            .fit(scores, &y, &groups)?;
            let mitigated = thresholds.predict(scores, &groups, &mut rng)?;
            let extra = json!({"x_best": thresholds.x_best, "rules": thresholds.rules});
            let saved = SavedMitigation::ThresholdOptimizer {
                base_model: path.to_string_lossy().into_owned(),
                sensitive: args.sensitive.clone(),
                positive_class: classes[1].clone(),
                thresholds,
            };
            (y, base_pred.to_vec(), mitigated, saved, extra)
        }
        MitigationMethod::ExponentiatedGradient | MitigationMethod::GridSearch => {
            let name = args.trainer.as_deref().context("--trainer is required")?;
            let trainer =
                ml_sdk::trainer_from_params(name, &crate::train::parse_params(&args.params)?, Some(args.seed))?;
            let data = frame.to_dataset(&ml_sdk::core::LoadOptions {
                target: Some(args.target.clone()),
                task: Some(ml_sdk::core::TaskKind::Classification),
                sensitive: args.sensitive.clone(),
                ..Default::default()
            })?;
            let Some(Target::Classes { labels, .. }) = data.target() else {
                bail!("the target '{}' is not read as classes", args.target);
            };
            let y = labels.to_vec();
            let groups = group_keys(&columns, y.len());
            let base = ml_sdk::core::Trainer::fit(&trainer, &data)?;
            let Predictions::Classification { labels: base_pred, .. } = base.predict(data.features())? else {
                bail!("'{name}' is not a classifier");
            };
            let moment = ml_sdk::interpret::Moment::parse(&args.constraint)?;
            let (mixed, grid, extra) = if matches!(args.method, MitigationMethod::GridSearch) {
                let default = ml_sdk::interpret::GridSearch::new(moment);
                let r = ml_sdk::interpret::GridSearch {
                    seed: args.seed,
                    grid_size: args.grid_size.unwrap_or(default.grid_size),
                    ..default
                }
                .fit(&trainer, &data, &groups)?;
                let extra = json!({"grid": r.points, "best": r.best});
                (r.model, true, extra)
            } else {
                let eg = ml_sdk::interpret::ExponentiatedGradient {
                    seed: args.seed,
                    ..ml_sdk::interpret::ExponentiatedGradient::new(moment)
                }
                .fit(&trainer, &data, &groups)?;
                let extra = json!({"iterations": eg.iterations, "gap": eg.best_gap});
                (eg, false, extra)
            };
            let mitigated = draw_labels(&mixed.positive_probability(data.features())?, &mut rng);
            let mix = mixed.to_saved()?;
            let mut extra = extra;
            extra["members"] = json!(mix.members.len());
            let (trainer, params, sensitive) = (name.to_string(), args.params.clone(), args.sensitive.clone());
            let saved = if grid {
                SavedMitigation::GridSearch {
                    trainer,
                    params,
                    sensitive,
                    mix,
                }
            } else {
                SavedMitigation::ExponentiatedGradient {
                    trainer,
                    params,
                    sensitive,
                    mix,
                }
            };
            (y, base_pred.to_vec(), mitigated, saved, extra)
        }
    };
    let before = json!(binary_outcome(&y, &base_pred, &columns)?);
    let after = json!(binary_outcome(&y, &mitigated, &columns)?);
    let path = staged.final_path(&saved.save(staged.path())?);
    staged.commit()?;
    let mut value = json!({
        "method": saved.method(), "constraint": args.constraint, "before": before, "after": after, "saved": path,
    });
    if let (Some(v), Some(e)) = (value.as_object_mut(), extra.as_object()) {
        v.extend(e.clone());
    }
    out.emit(&value, || {
        let row = |name: &str, v: &Value| {
            (
                name.to_string(),
                format!(
                    "accuracy {}  selection rate {}  demographic parity difference {}  equalized odds difference {}",
                    num(v["accuracy"].as_f64().unwrap_or(f64::NAN)),
                    num(v["selection_rate"].as_f64().unwrap_or(f64::NAN)),
                    num(v["demographic_parity_difference"].as_f64().unwrap_or(f64::NAN)),
                    num(v["equalized_odds_difference"].as_f64().unwrap_or(f64::NAN)),
                ),
            )
        };
        format!(
            "{}saved to {}\n",
            table(&[row("before", &before), row("after", &after)]),
            path.display()
        )
    });
    Ok(())
}
