//! Group fairness metrics in the manner of Fairlearn's `MetricFrame`: any
//! metric overall and by sensitive group (one or several sensitive columns,
//! intersectional groups), with the group minimum and maximum, differences
//! and ratios between groups and to the overall value, and the parity
//! measures under Fairlearn's names.
//!
//! Binary metrics count `pos_label` as positive. A rate whose denominator
//! is zero is 0, as scikit-learn's and Fairlearn's defaults give.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::{Error, Result};
use serde::Serialize;

/// A metric of one group's `(y_true, y_pred)`.
pub type MetricFn = Arc<dyn Fn(&[usize], &[usize]) -> f64 + Send + Sync>;

/// A metric of `(y_true, y_pred)` evaluated overall and per group.
#[derive(Clone)]
pub enum GroupMetric {
    /// Number of rows.
    Count,
    /// Fraction of correct predictions.
    Accuracy,
    /// Fraction predicted positive.
    SelectionRate,
    /// TP / (TP + FN) (recall).
    TruePositiveRate,
    /// FP / (FP + TN).
    FalsePositiveRate,
    /// FN / (TP + FN).
    FalseNegativeRate,
    /// TN / (FP + TN).
    TrueNegativeRate,
    /// TP / (TP + FP).
    Precision,
    /// Harmonic mean of precision and recall.
    F1,
    /// Any function of the group's true and predicted labels.
    Custom(String, MetricFn),
}

impl fmt::Debug for GroupMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl GroupMetric {
    /// Every built-in metric.
    pub fn all() -> Vec<GroupMetric> {
        use GroupMetric::*;
        vec![
            Count,
            Accuracy,
            SelectionRate,
            TruePositiveRate,
            FalsePositiveRate,
            FalseNegativeRate,
            TrueNegativeRate,
            Precision,
            F1,
        ]
    }

    /// The metric's name (Fairlearn's and scikit-learn's function names).
    pub fn name(&self) -> String {
        match self {
            GroupMetric::Count => "count".into(),
            GroupMetric::Accuracy => "accuracy".into(),
            GroupMetric::SelectionRate => "selection_rate".into(),
            GroupMetric::TruePositiveRate => "true_positive_rate".into(),
            GroupMetric::FalsePositiveRate => "false_positive_rate".into(),
            GroupMetric::FalseNegativeRate => "false_negative_rate".into(),
            GroupMetric::TrueNegativeRate => "true_negative_rate".into(),
            GroupMetric::Precision => "precision".into(),
            GroupMetric::F1 => "f1".into(),
            GroupMetric::Custom(name, _) => name.clone(),
        }
    }

    /// Parse a built-in metric's name (`recall` and `tpr` are aliases).
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "count" => GroupMetric::Count,
            "accuracy" => GroupMetric::Accuracy,
            "selection_rate" => GroupMetric::SelectionRate,
            "true_positive_rate" | "tpr" | "recall" => GroupMetric::TruePositiveRate,
            "false_positive_rate" | "fpr" => GroupMetric::FalsePositiveRate,
            "false_negative_rate" | "fnr" => GroupMetric::FalseNegativeRate,
            "true_negative_rate" | "tnr" => GroupMetric::TrueNegativeRate,
            "precision" => GroupMetric::Precision,
            "f1" => GroupMetric::F1,
            _ => {
                return Err(Error::invalid(
                    "metric",
                    format!(
                        "unknown metric '{name}' (known: {})",
                        GroupMetric::all()
                            .iter()
                            .map(GroupMetric::name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        })
    }

    fn of_counts(&self, c: &Confusion) -> Option<f64> {
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Some(match self {
            GroupMetric::Count => c.n() as f64,
            GroupMetric::SelectionRate => ratio(c.tp + c.fp, c.n()),
            GroupMetric::TruePositiveRate => ratio(c.tp, c.tp + c.fn_),
            GroupMetric::FalsePositiveRate => ratio(c.fp, c.fp + c.tn),
            GroupMetric::FalseNegativeRate => ratio(c.fn_, c.tp + c.fn_),
            GroupMetric::TrueNegativeRate => ratio(c.tn, c.fp + c.tn),
            GroupMetric::Precision => ratio(c.tp, c.tp + c.fp),
            GroupMetric::F1 => ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn_),
            GroupMetric::Accuracy => ratio(c.correct, c.n()),
            GroupMetric::Custom(..) => return None,
        })
    }
}

/// Binary confusion counts with `pos_label` positive (on multi-class data
/// every other label is negative), and the exact agreements (accuracy
/// counts a wrong class as wrong even where both labels are negative).
#[derive(Debug, Clone, Copy, Default)]
struct Confusion {
    tp: u64,
    fp: u64,
    tn: u64,
    fn_: u64,
    correct: u64,
}

impl Confusion {
    fn n(&self) -> u64 {
        self.tp + self.fp + self.tn + self.fn_
    }

    fn add(&mut self, t: usize, p: usize, pos: usize) {
        self.correct += u64::from(t == p);
        match (t == pos, p == pos) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }
}

/// How differences and ratios compare groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Largest minus smallest group value; smallest over largest.
    BetweenGroups,
    /// Largest distance of a group to the overall value; smallest ratio of a
    /// group and the overall value (either way round).
    ToOverall,
}

/// Metrics overall and by group.
#[derive(Debug, Clone, Serialize)]
pub struct MetricFrame {
    /// Names of the sensitive columns, in the order of each group key.
    pub sensitive_names: Vec<String>,
    /// Metric names, in order.
    pub metrics: Vec<String>,
    /// Each metric over all rows.
    pub overall: BTreeMap<String, f64>,
    /// Each group (its values of the sensitive columns, sorted) and its metrics.
    pub by_group: Vec<(Vec<String>, BTreeMap<String, f64>)>,
}

impl MetricFrame {
    /// Evaluate `metrics` on labels `y_true` and `y_pred` (class indices),
    /// grouped by the `sensitive` columns (name, one value per row).
    ///
    /// # Errors
    /// Empty data, lengths that differ, no sensitive column.
    pub fn new(
        metrics: &[GroupMetric],
        y_true: &[usize],
        y_pred: &[usize],
        sensitive: &[(&str, &[String])],
        pos_label: usize,
    ) -> Result<Self> {
        let n = y_true.len();
        if n == 0 {
            return Err(Error::invalid("data", "no rows"));
        }
        if y_pred.len() != n {
            return Err(Error::invalid(
                "y_pred",
                format!("{} predictions for {n} labels", y_pred.len()),
            ));
        }
        if sensitive.is_empty() {
            return Err(Error::invalid("sensitive", "no sensitive column"));
        }
        if let Some((name, v)) = sensitive.iter().find(|(_, v)| v.len() != n) {
            return Err(Error::invalid(
                "sensitive",
                format!("column '{name}' has {} values for {n} rows", v.len()),
            ));
        }
        if metrics.is_empty() {
            return Err(Error::invalid("metrics", "no metric"));
        }
        // Group index of every row, groups numbered in sorted key order.
        let mut keys: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
        let mut row_key = Vec::with_capacity(n);
        for i in 0..n {
            let key: Vec<&str> = sensitive.iter().map(|(_, v)| v[i].as_str()).collect();
            let next = keys.len();
            row_key.push(*keys.entry(key).or_insert(next));
        }
        let mut order = vec![0; keys.len()];
        for (rank, (_, &id)) in keys.iter().enumerate() {
            order[id] = rank;
        }
        let group: Vec<usize> = row_key.iter().map(|&id| order[id]).collect();
        let n_groups = keys.len();
        let mut counts = vec![Confusion::default(); n_groups];
        let mut overall_c = Confusion::default();
        for i in 0..n {
            counts[group[i]].add(y_true[i], y_pred[i], pos_label);
            overall_c.add(y_true[i], y_pred[i], pos_label);
        }
        let eval = |m: &GroupMetric, c: &Confusion, rows: Option<&[usize]>| -> f64 {
            match m {
                GroupMetric::Custom(_, f) => match rows {
                    Some(r) => {
                        let t: Vec<usize> = r.iter().map(|&i| y_true[i]).collect();
                        let p: Vec<usize> = r.iter().map(|&i| y_pred[i]).collect();
                        f(&t, &p)
                    }
                    None => f(y_true, y_pred),
                },
                other => other.of_counts(c).unwrap_or(f64::NAN),
            }
        };
        let custom = metrics.iter().any(|m| matches!(m, GroupMetric::Custom(..)));
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); if custom { n_groups } else { 0 }];
        if custom {
            for (i, &g) in group.iter().enumerate() {
                members[g].push(i);
            }
        }
        let overall = metrics.iter().map(|m| (m.name(), eval(m, &overall_c, None))).collect();
        let by_group = keys
            .keys()
            .enumerate()
            .map(|(g, key)| {
                let vals = metrics
                    .iter()
                    .map(|m| {
                        let rows = members.get(g).map(Vec::as_slice);
                        (m.name(), eval(m, &counts[g], rows))
                    })
                    .collect();
                (key.iter().map(|s| s.to_string()).collect(), vals)
            })
            .collect();
        Ok(MetricFrame {
            sensitive_names: sensitive.iter().map(|(n, _)| n.to_string()).collect(),
            metrics: metrics.iter().map(GroupMetric::name).collect(),
            overall,
            by_group,
        })
    }

    fn column(&self, metric: &str) -> Result<Vec<f64>> {
        self.by_group
            .iter()
            .map(|(_, m)| {
                m.get(metric)
                    .copied()
                    .ok_or_else(|| Error::invalid("metric", format!("'{metric}' is not in the frame")))
            })
            .collect()
    }

    /// The smallest group value of `metric`.
    ///
    /// # Errors
    /// A metric not in the frame.
    pub fn group_min(&self, metric: &str) -> Result<f64> {
        Ok(self.column(metric)?.into_iter().fold(f64::INFINITY, f64::min))
    }

    /// The largest group value of `metric`.
    ///
    /// # Errors
    /// A metric not in the frame.
    pub fn group_max(&self, metric: &str) -> Result<f64> {
        Ok(self.column(metric)?.into_iter().fold(f64::NEG_INFINITY, f64::max))
    }

    /// The difference of `metric` (see [`Comparison`]).
    ///
    /// # Errors
    /// A metric not in the frame.
    pub fn difference(&self, metric: &str, how: Comparison) -> Result<f64> {
        Ok(match how {
            Comparison::BetweenGroups => self.group_max(metric)? - self.group_min(metric)?,
            Comparison::ToOverall => {
                let o = self.overall[metric];
                self.column(metric)?
                    .into_iter()
                    .map(|g| (g - o).abs())
                    .fold(0.0, f64::max)
            }
        })
    }

    /// The ratio of `metric` (see [`Comparison`]); 0/0 counts as 1 (equal
    /// groups), x/0 as 0.
    ///
    /// # Errors
    /// A metric not in the frame.
    pub fn ratio(&self, metric: &str, how: Comparison) -> Result<f64> {
        let r = |a: f64, b: f64| {
            if b == 0.0 {
                if a == 0.0 { 1.0 } else { 0.0 }
            } else {
                a / b
            }
        };
        Ok(match how {
            Comparison::BetweenGroups => r(self.group_min(metric)?, self.group_max(metric)?),
            Comparison::ToOverall => {
                let o = self.overall[metric];
                self.column(metric)?
                    .into_iter()
                    .map(|g| r(g, o).min(r(o, g)))
                    .fold(f64::INFINITY, f64::min)
            }
        })
    }
}

/// The parity measures under Fairlearn's names, between groups:
/// `demographic_parity_*` (selection rate), `equalized_odds_*` (the worse
/// of true- and false-positive rates), `equal_opportunity_*` (true-positive
/// rate), each `_difference` and `_ratio`.
///
/// # Errors
/// As [`MetricFrame::new`].
pub fn parity_measures(
    y_true: &[usize],
    y_pred: &[usize],
    sensitive: &[(&str, &[String])],
    pos_label: usize,
) -> Result<BTreeMap<String, f64>> {
    let f = MetricFrame::new(
        &[
            GroupMetric::SelectionRate,
            GroupMetric::TruePositiveRate,
            GroupMetric::FalsePositiveRate,
        ],
        y_true,
        y_pred,
        sensitive,
        pos_label,
    )?;
    let b = Comparison::BetweenGroups;
    let d = |m: &str| f.difference(m, b);
    let r = |m: &str| f.ratio(m, b);
    Ok(BTreeMap::from([
        ("demographic_parity_difference".into(), d("selection_rate")?),
        ("demographic_parity_ratio".into(), r("selection_rate")?),
        (
            "equalized_odds_difference".into(),
            d("true_positive_rate")?.max(d("false_positive_rate")?),
        ),
        (
            "equalized_odds_ratio".into(),
            r("true_positive_rate")?.min(r("false_positive_rate")?),
        ),
        ("equal_opportunity_difference".into(), d("true_positive_rate")?),
        ("equal_opportunity_ratio".into(), r("true_positive_rate")?),
    ]))
}

/// The sensitive columns of a frame by name, with their values (one group
/// label per row).
///
/// # Errors
/// [`ml_core::Error::UnknownColumn`] for a name that is not a column of `frame`.
pub fn sensitive_columns<'a>(frame: &'a ml_core::Frame, names: &'a [String]) -> Result<Vec<(&'a str, &'a [String])>> {
    names
        .iter()
        .map(|s| Ok((s.as_str(), frame.complete_column(s)?)))
        .collect()
}

/// The group key of each of the first `n` rows: the sensitive columns'
/// values joined by `|` (the keys [`crate::ThresholdOptimizer`] and the
/// reductions take).
pub fn group_keys(columns: &[(&str, &[String])], n: usize) -> Vec<String> {
    (0..n)
        .map(|i| columns.iter().map(|(_, v)| v[i].as_str()).collect::<Vec<_>>().join("|"))
        .collect()
}

/// A metric frame and its parity measures as one JSON object: `overall`,
/// `by_group` (keys joined by `|`), `group_min`, `group_max`,
/// `difference`, `difference_to_overall`, `ratio`, `ratio_to_overall` per
/// metric, and each parity measure under its Fairlearn name.
///
/// # Errors
/// None in practice: every metric named by the frame is in it.
pub fn fairness_summary(f: &MetricFrame, parity: &BTreeMap<String, f64>) -> Result<serde_json::Value> {
    use serde_json::json;
    let per = |g: &dyn Fn(&str) -> Result<f64>| -> Result<BTreeMap<String, f64>> {
        f.metrics.iter().map(|m| Ok((m.clone(), g(m)?))).collect()
    };
    let by_group: serde_json::Map<String, serde_json::Value> = f
        .by_group
        .iter()
        .map(|(key, vals)| (key.join("|"), json!(vals)))
        .collect();
    let mut value = json!({
        "overall": f.overall, "by_group": by_group,
        "group_min": per(&|m| f.group_min(m))?, "group_max": per(&|m| f.group_max(m))?,
        "difference": per(&|m| f.difference(m, Comparison::BetweenGroups))?,
        "difference_to_overall": per(&|m| f.difference(m, Comparison::ToOverall))?,
        "ratio": per(&|m| f.ratio(m, Comparison::BetweenGroups))?,
        "ratio_to_overall": per(&|m| f.ratio(m, Comparison::ToOverall))?,
    });
    for (k, v) in parity {
        value[k] = json!(v);
    }
    Ok(value)
}

/// Accuracy, selection rate and the parity measures of binary predictions
/// (class 1 positive): the before/after figures of a mitigation.
///
/// # Errors
/// Mismatched lengths, no rows.
pub fn binary_outcome(
    y_true: &[usize],
    y_pred: &[usize],
    columns: &[(&str, &[String])],
) -> Result<BTreeMap<String, f64>> {
    let f = MetricFrame::new(
        &[GroupMetric::Accuracy, GroupMetric::SelectionRate],
        y_true,
        y_pred,
        columns,
        1,
    )?;
    let mut out = BTreeMap::from([
        ("accuracy".to_string(), f.overall["accuracy"]),
        ("selection_rate".to_string(), f.overall["selection_rate"]),
    ]);
    out.extend(parity_measures(y_true, y_pred, columns, 1)?);
    Ok(out)
}
