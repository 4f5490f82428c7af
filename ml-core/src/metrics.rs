//! Evaluation metrics with scikit-learn's definitions and edge cases.
//!
//! Checked against scikit-learn by `scripts/gen_metrics.py` (fixtures in
//! `testdata/metrics.json`).

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView1, ArrayView2};

use crate::{Dataset, Error, Predictions, Result, Target};

fn check_pair(op: &'static str, a: usize, b: usize) -> Result<()> {
    if a != b {
        return Err(Error::shape(op, format!("{a} predictions"), format!("{b}")));
    }
    if a == 0 {
        return Err(Error::Empty { op, what: "labels" });
    }
    Ok(())
}

/// Fraction of rows whose predicted label equals the true one.
///
/// # Errors
/// Length mismatch or no rows.
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check_pair("accuracy", y_true.len(), y_pred.len())?;
    Ok(y_true.iter().zip(y_pred).filter(|(a, b)| a == b).count() as f64 / y_true.len() as f64)
}

/// `n_classes × n_classes` counts, rows true labels, columns predicted labels.
///
/// # Errors
/// Length mismatch, no rows, a label `>= n_classes`.
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Array2<usize>> {
    check_pair("confusion_matrix", y_true.len(), y_pred.len())?;
    let mut m = Array2::zeros((n_classes, n_classes));
    for (&t, &p) in y_true.iter().zip(y_pred) {
        if t >= n_classes || p >= n_classes {
            return Err(Error::invalid(
                "labels",
                format!("label {} but {n_classes} classes", t.max(p)),
            ));
        }
        m[[t, p]] += 1;
    }
    Ok(m)
}

/// How per-class scores are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Average {
    /// The score of one positive class.
    Binary {
        /// The positive label.
        positive: usize,
    },
    /// Unweighted mean over classes.
    Macro,
    /// Global counts of true/false positives.
    Micro,
    /// Mean weighted by class support.
    Weighted,
}

/// Precision, recall and F1 (a class with no predicted or no true rows scores
/// 0, scikit-learn's `zero_division` default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrecisionRecallF1 {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

fn f1_of(p: f64, r: f64) -> f64 {
    if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
}

/// Precision, recall and F1 under an [`Average`].
///
/// # Errors
/// As [`confusion_matrix`].
pub fn precision_recall_f1(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
    average: Average,
) -> Result<PrecisionRecallF1> {
    let cm = confusion_matrix(y_true, y_pred, n_classes)?;
    let tp: Vec<f64> = (0..n_classes).map(|c| cm[[c, c]] as f64).collect();
    let pred: Vec<f64> = (0..n_classes).map(|c| cm.column(c).sum() as f64).collect();
    let truth: Vec<f64> = (0..n_classes).map(|c| cm.row(c).sum() as f64).collect();
    let per_class = |c: usize| {
        let p = ratio(tp[c], pred[c]);
        let r = ratio(tp[c], truth[c]);
        (p, r, f1_of(p, r))
    };
    Ok(match average {
        Average::Binary { positive } => {
            if positive >= n_classes {
                return Err(Error::invalid(
                    "positive",
                    format!("label {positive} but {n_classes} classes"),
                ));
            }
            let (precision, recall, f1) = per_class(positive);
            PrecisionRecallF1 { precision, recall, f1 }
        }
        Average::Micro => {
            let t: f64 = tp.iter().sum();
            let precision = ratio(t, pred.iter().sum());
            let recall = ratio(t, truth.iter().sum());
            PrecisionRecallF1 {
                precision,
                recall,
                f1: f1_of(precision, recall),
            }
        }
        Average::Macro | Average::Weighted => {
            // scikit-learn averages over the labels present in y_true or y_pred.
            let labels: Vec<usize> = (0..n_classes).filter(|&c| truth[c] + pred[c] > 0.0).collect();
            let weights: Vec<f64> = labels
                .iter()
                .map(|&c| if average == Average::Macro { 1.0 } else { truth[c] })
                .collect();
            let total: f64 = weights.iter().sum();
            let mut out = PrecisionRecallF1 {
                precision: 0.0,
                recall: 0.0,
                f1: 0.0,
            };
            for (&c, w) in labels.iter().zip(&weights) {
                let (p, r, f) = per_class(c);
                out.precision += w * p / total;
                out.recall += w * r / total;
                out.f1 += w * f / total;
            }
            out
        }
    })
}

/// Mean negative log-likelihood of the true classes, probabilities clipped to
/// `[ε, 1-ε]` with ε the `f64` machine epsilon (scikit-learn's `log_loss`).
///
/// # Errors
/// Length mismatch, a label outside the probability columns, non-finite or
/// negative probabilities.
pub fn log_loss(y_true: &[usize], probabilities: ArrayView2<'_, f64>) -> Result<f64> {
    check_pair("log_loss", y_true.len(), probabilities.nrows())?;
    let eps = f64::EPSILON;
    let mut total = 0.0;
    for (i, (&t, row)) in y_true.iter().zip(probabilities.outer_iter()).enumerate() {
        if t >= row.len() {
            return Err(Error::invalid(
                "labels",
                format!("row {i}: label {t} but {} probability columns", row.len()),
            ));
        }
        if row.iter().any(|p| !p.is_finite() || *p < 0.0) {
            return Err(Error::invalid(
                "probabilities",
                format!("row {i} is not a probability vector"),
            ));
        }
        total -= row[t].clamp(eps, 1.0 - eps).ln();
    }
    Ok(total / y_true.len() as f64)
}

/// Area under the ROC curve for binary labels (`true` = positive), ties
/// counted half, as the trapezoidal rule over scikit-learn's ROC curve gives.
///
/// # Errors
/// Length mismatch, non-finite scores, or only one class present (the AUC is
/// undefined then).
pub fn roc_auc(y_true: &[bool], scores: ArrayView1<'_, f64>) -> Result<f64> {
    check_pair("roc_auc", y_true.len(), scores.len())?;
    if scores.iter().any(|s| !s.is_finite()) {
        return Err(Error::invalid("scores", "non-finite score"));
    }
    let n_pos = y_true.iter().filter(|&&y| y).count() as f64;
    let n_neg = y_true.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return Err(Error::invalid("y_true", "ROC AUC needs both classes present"));
    }
    let mut order: Vec<usize> = (0..y_true.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mann-Whitney U with mid-ranks for ties.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += order[i..=j].iter().filter(|&&k| y_true[k]).count() as f64 * mid_rank;
        i = j + 1;
    }
    Ok((rank_sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// One-vs-rest ROC AUC averaged over classes (scikit-learn's
/// `roc_auc_score(multi_class="ovr", average="macro")`).
///
/// # Errors
/// As [`roc_auc`] for any class.
pub fn roc_auc_ovr(y_true: &[usize], probabilities: ArrayView2<'_, f64>) -> Result<f64> {
    check_pair("roc_auc", y_true.len(), probabilities.nrows())?;
    let k = probabilities.ncols();
    let mut sum = 0.0;
    for c in 0..k {
        let yc: Vec<bool> = y_true.iter().map(|&t| t == c).collect();
        sum += roc_auc(&yc, probabilities.column(c))?;
    }
    Ok(sum / k as f64)
}

fn check_values(op: &'static str, a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> Result<()> {
    check_pair(op, a.len(), b.len())?;
    if a.iter().chain(b.iter()).any(|v| !v.is_finite()) {
        return Err(Error::invalid(op, "non-finite value"));
    }
    Ok(())
}

/// Mean squared error.
///
/// # Errors
/// Length mismatch, no rows, non-finite values.
pub fn mean_squared_error(y_true: ArrayView1<'_, f64>, y_pred: ArrayView1<'_, f64>) -> Result<f64> {
    check_values("mean_squared_error", y_true, y_pred)?;
    Ok(y_true.iter().zip(y_pred).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / y_true.len() as f64)
}

/// Mean absolute error.
///
/// # Errors
/// Length mismatch, no rows, non-finite values.
pub fn mean_absolute_error(y_true: ArrayView1<'_, f64>, y_pred: ArrayView1<'_, f64>) -> Result<f64> {
    check_values("mean_absolute_error", y_true, y_pred)?;
    Ok(y_true.iter().zip(y_pred).map(|(a, b)| (a - b).abs()).sum::<f64>() / y_true.len() as f64)
}

/// Coefficient of determination. A constant target gives 1 for a perfect fit
/// and 0 otherwise (scikit-learn's `force_finite=True`).
///
/// # Errors
/// Length mismatch, no rows, non-finite values.
pub fn r2_score(y_true: ArrayView1<'_, f64>, y_pred: ArrayView1<'_, f64>) -> Result<f64> {
    check_values("r2_score", y_true, y_pred)?;
    let mean = y_true.mean().unwrap_or(0.0);
    let ss_res: f64 = y_true.iter().zip(y_pred).map(|(a, b)| (a - b) * (a - b)).sum();
    let ss_tot: f64 = y_true.iter().map(|a| (a - mean) * (a - mean)).sum();
    Ok(if ss_tot == 0.0 {
        if ss_res == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - ss_res / ss_tot
    })
}

/// Sum of squared distances of each row to its nearest centroid
/// (scikit-learn's `inertia_`).
pub fn inertia(x: ArrayView2<'_, f64>, centroids: ArrayView2<'_, f64>) -> f64 {
    x.outer_iter()
        .map(|row| {
            centroids
                .outer_iter()
                .map(|c| row.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
                .fold(f64::INFINITY, f64::min)
        })
        .sum()
}

/// A model's metrics on a data set, whatever its task: [`evaluate`]'s for
/// classifiers and regressors (the data set needs a target), and `inertia`
/// in the model's preprocessed space for a clustering model.
///
/// # Errors
/// As [`evaluate`]; a clustering model that does not describe itself as
/// centroids.
pub fn score_model(model: &dyn crate::Model, data: &Dataset) -> Result<BTreeMap<String, f64>> {
    let data = data.aligned_to(&model.signature().inputs)?;
    let data = data.as_ref();
    let pred = model.predict(data.features())?;
    if let Predictions::Clustering { .. } = pred {
        let spec = model.describe()?;
        let crate::Estimator::Centroids { centroids } = &spec.estimator else {
            return Err(Error::Unsupported("a clustering model without centroids".into()));
        };
        let design = spec.transform(data.features())?;
        return Ok(BTreeMap::from([(
            "inertia".to_string(),
            inertia(design.view(), centroids.view()),
        )]));
    }
    evaluate(data, &pred)
}

/// The standard metrics of a task, by name: for classification `accuracy`,
/// `precision`, `recall`, `f1` (binary for two classes, macro otherwise),
/// `f1_macro`, and with probabilities `log_loss` and `roc_auc` (one-vs-rest
/// macro for several classes); for regression `r2`, `mse`, `mae`.
///
/// # Errors
/// Predictions whose kind or length does not match the data set's target.
pub fn evaluate(data: &Dataset, predictions: &Predictions) -> Result<BTreeMap<String, f64>> {
    let mut m = BTreeMap::new();
    match (data.target(), predictions) {
        (
            Some(Target::Classes { labels, names }),
            Predictions::Classification {
                labels: pred,
                probabilities,
                ..
            },
        ) => {
            let (t, p) = (labels.to_vec(), pred.to_vec());
            let k = names.len();
            m.insert("accuracy".into(), accuracy(&t, &p)?);
            let avg = if k == 2 {
                Average::Binary { positive: 1 }
            } else {
                Average::Macro
            };
            let prf = precision_recall_f1(&t, &p, k, avg)?;
            m.insert("precision".into(), prf.precision);
            m.insert("recall".into(), prf.recall);
            m.insert("f1".into(), prf.f1);
            m.insert("f1_macro".into(), precision_recall_f1(&t, &p, k, Average::Macro)?.f1);
            if let Some(proba) = probabilities {
                if proba.ncols() != k {
                    return Err(Error::shape(
                        "evaluate",
                        format!("{k} probability columns"),
                        proba.ncols(),
                    ));
                }
                m.insert("log_loss".into(), log_loss(&t, proba.view())?);
                let auc = if k == 2 {
                    let yb: Vec<bool> = t.iter().map(|&l| l == 1).collect();
                    roc_auc(&yb, proba.column(1))
                } else {
                    roc_auc_ovr(&t, proba.view())
                };
                // Undefined when a class is absent from this sample: leave it out.
                if let Ok(a) = auc {
                    m.insert("roc_auc".into(), a);
                }
            }
        }
        (Some(Target::Values { values }), Predictions::Regression { values: pred }) => {
            m.insert("r2".into(), r2_score(values.view(), pred.view())?);
            m.insert("mse".into(), mean_squared_error(values.view(), pred.view())?);
            m.insert("mae".into(), mean_absolute_error(values.view(), pred.view())?);
        }
        (None, _) => return Err(Error::Unsupported("evaluation needs a target column".into())),
        _ => {
            return Err(Error::Unsupported(
                "the predictions do not match the target's task".into(),
            ));
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn auc_with_ties() {
        let y = [false, false, true, true];
        assert_eq!(roc_auc(&y, array![0.1, 0.4, 0.35, 0.8].view()).unwrap(), 0.75);
        assert_eq!(roc_auc(&y, array![0.5, 0.5, 0.5, 0.5].view()).unwrap(), 0.5);
        assert!(roc_auc(&[true, true], array![0.1, 0.2].view()).is_err());
    }

    #[test]
    fn r2_constant_target() {
        assert_eq!(r2_score(array![1.0, 1.0].view(), array![1.0, 1.0].view()).unwrap(), 1.0);
        assert_eq!(r2_score(array![1.0, 1.0].view(), array![1.0, 2.0].view()).unwrap(), 0.0);
    }

    #[test]
    fn empty_and_mismatched_inputs_are_errors() {
        assert!(accuracy(&[], &[]).is_err());
        assert!(accuracy(&[1], &[1, 0]).is_err());
        assert!(confusion_matrix(&[3], &[0], 2).is_err());
    }
}
