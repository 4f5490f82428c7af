//! Explanations and fairness reports logged to a run through any
//! [`Tracker`]: summary numbers as metrics, the full result as a JSON
//! artifact.

use std::collections::BTreeMap;

use crate::Result;
use ml_core::{Explanation, MetricPoint, RunId, Tracker};

use crate::fairness::MetricFrame;

/// A metric key MLflow accepts: letters, digits, `_ - . / ` and space;
/// anything else becomes `_`.
pub fn metric_key(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-./ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn points(metrics: BTreeMap<String, f64>) -> Vec<MetricPoint> {
    let now = now_ms();
    metrics
        .into_iter()
        .map(|(key, value)| MetricPoint {
            key,
            value,
            step: 0,
            timestamp_ms: now,
        })
        .collect()
}

/// Log an explanation: per feature, the mean over rows of the absolute
/// value summed over outputs, as `<method>_mean_abs/<feature>` (for a
/// global method, its value), and the explanation as
/// `explanations/<method>.json`.
///
/// # Errors
/// The tracker's failures.
pub fn log_explanation(tracker: &dyn Tracker, run: &RunId, e: &Explanation) -> Result<()> {
    let method = metric_key(&e.method.replace([' ', '(', ')'], ""));
    let n = e.values.shape()[0].max(1) as f64;
    let metrics = e
        .feature_names
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let total: f64 = e
                .values
                .slice(ml_core::ndarray::s![.., j, ..])
                .iter()
                .map(|v| v.abs())
                .sum();
            (metric_key(&format!("{method}_mean_abs/{f}")), total / n)
        })
        .collect();
    tracker.log_metrics(run, &points(metrics))?;
    let json = serde_json::to_vec_pretty(e).map_err(|err| ml_core::Error::invalid("explanation", err.to_string()))?;
    Ok(tracker.log_artifact(run, &format!("explanations/{method}.json"), &json)?)
}

/// Log a fairness report: the parity measures as `fairness/<name>`, each
/// metric overall as `fairness/overall_<metric>`, and the frame and the
/// measures as `fairness/report.json`.
///
/// # Errors
/// The tracker's failures.
pub fn log_fairness(
    tracker: &dyn Tracker,
    run: &RunId,
    frame: &MetricFrame,
    parity: &BTreeMap<String, f64>,
) -> Result<()> {
    let mut metrics: BTreeMap<String, f64> = parity
        .iter()
        .map(|(k, v)| (metric_key(&format!("fairness/{k}")), *v))
        .collect();
    for (k, v) in &frame.overall {
        metrics.insert(metric_key(&format!("fairness/overall_{k}")), *v);
    }
    tracker.log_metrics(run, &points(metrics))?;
    let report = serde_json::json!({"metric_frame": frame, "parity": parity});
    let json = serde_json::to_vec_pretty(&report).map_err(|e| ml_core::Error::invalid("report", e.to_string()))?;
    Ok(tracker.log_artifact(run, "fairness/report.json", &json)?)
}
