//! Probability calibration, after scikit-learn's `CalibratedClassifierCV`
//! with `ensemble=False`: the classifier's scores on held-out folds
//! (cross-validated, stratified, unshuffled) fit one calibrator per class
//! (one for two classes), and the classifier refitted on every row keeps
//! them ([`ml_core::Estimator::Calibrated`]). With `ensemble=True` each
//! fold's classifier keeps the calibrators fitted on its own held-out
//! scores, and the model averages their probabilities
//! ([`ml_core::Estimator::Averaged`]).
//!
//! - `sigmoid`: Platt's `1 / (1 + exp(a·s + b))`, fitted by Newton's method
//!   on the log loss against Platt's smoothed targets (`(n₊ + 1) / (n₊ + 2)`
//!   for positives, `1 / (n₋ + 2)` for negatives), from scikit-learn's
//!   starting point; the loss is convex, so both reach the same optimum.
//! - `isotonic`: the non-decreasing fit of the 0/1 targets by pool
//!   adjacent violators, scores equal within `1e-15` pooled first, then
//!   interpolated linearly and held at the ends.

use ml_core::Calibrator;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// How scores become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Platt's sigmoid.
    Sigmoid,
    /// Isotonic regression.
    Isotonic,
}

impl CalibrationMethod {
    /// Parse `sigmoid` or `isotonic`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "sigmoid" => Ok(Self::Sigmoid),
            "isotonic" => Ok(Self::Isotonic),
            _ => Err(invalid("calibration", format!("'{s}': expected sigmoid or isotonic"))),
        }
    }

    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sigmoid => "sigmoid",
            Self::Isotonic => "isotonic",
        }
    }

    /// Fit a calibrator of `scores` to 0/1 `targets`.
    ///
    /// # Errors
    /// No scores, lengths that differ, or a non-finite score.
    pub fn fit(self, scores: &[f64], targets: &[bool]) -> Result<Calibrator> {
        if scores.is_empty() || scores.len() != targets.len() {
            return Err(invalid(
                "calibration",
                format!("{} scores for {} targets", scores.len(), targets.len()),
            ));
        }
        if scores.iter().any(|s| !s.is_finite()) {
            return Err(invalid("calibration", "a non-finite score"));
        }
        Ok(match self {
            Self::Sigmoid => fit_sigmoid(scores, targets),
            Self::Isotonic => fit_isotonic(scores, targets),
        })
    }
}

/// Cross-validated calibration of a pipeline's classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calibration {
    /// Sigmoid or isotonic.
    pub method: CalibrationMethod,
    /// Folds of the cross-validation (scikit-learn's `cv`, default 5).
    pub cv: usize,
    /// Keep one calibrated classifier per fold and average their
    /// probabilities (scikit-learn's `ensemble=True`, its default) instead
    /// of one classifier refitted on every row with calibrators fitted on
    /// all held-out scores (`ensemble=False`, the default here: one model
    /// to serve, a fifth of the size).
    #[serde(default)]
    pub ensemble: bool,
}

impl Calibration {
    /// Check the folds.
    ///
    /// # Errors
    /// Fewer than two folds.
    pub fn validate(&self) -> Result<()> {
        if self.cv < 2 {
            return Err(invalid("calibration_cv", "must be at least 2"));
        }
        Ok(())
    }
}

/// `ln(1 + e^r)` without overflow.
fn softplus(r: f64) -> f64 {
    if r > 0.0 {
        r + (-r).exp().ln_1p()
    } else {
        r.exp().ln_1p()
    }
}

/// Platt scaling: `(a, b)` minimizing the log loss of
/// `p = 1 / (1 + exp(a·s + b))` against the smoothed targets.
fn fit_sigmoid(scores: &[f64], targets: &[bool]) -> Calibrator {
    // Large scores are scaled to at most 1 while fitting (as scikit-learn
    // does, for the optimizer's sake); the slope is scaled back.
    let max = scores.iter().fold(0.0f64, |m, s| m.max(s.abs()));
    let scale = if max >= 30.0 { max } else { 1.0 };
    let f: Vec<f64> = scores.iter().map(|s| s / scale).collect();
    let negatives = targets.iter().filter(|&&t| !t).count() as f64;
    let positives = targets.len() as f64 - negatives;
    let (hi, lo) = ((positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0));
    let t: Vec<f64> = targets.iter().map(|&y| if y { hi } else { lo }).collect();
    // The raw prediction is r = -(a·f + b); loss softplus(r) - t·r.
    let loss = |a: f64, b: f64| -> f64 {
        f.iter()
            .zip(&t)
            .map(|(&fi, &ti)| {
                let r = -(a * fi + b);
                softplus(r) - ti * r
            })
            .sum()
    };
    let (mut a, mut b) = (0.0, ((negatives + 1.0) / (positives + 1.0)).ln());
    let mut current = loss(a, b);
    for _ in 0..200 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&fi, &ti) in f.iter().zip(&t) {
            let r = -(a * fi + b);
            let p = 1.0 / (1.0 + (-r).exp());
            let (d, w) = (p - ti, p * (1.0 - p));
            ga -= d * fi;
            gb -= d;
            haa += w * fi * fi;
            hab += w * fi;
            hbb += w;
        }
        if ga.abs().max(gb.abs()) <= 1e-12 * f.len() as f64 {
            break;
        }
        // Newton's step, halved until the loss falls (a damped step when
        // the Hessian is singular: every score the same).
        let det = haa * hbb - hab * hab;
        let (da, db) = if det > 1e-300 {
            ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det)
        } else {
            (0.0, gb / hbb.max(1e-12))
        };
        let mut step = 1.0;
        let mut moved = false;
        while step > 1e-10 {
            let (na, nb) = (a - step * da, b - step * db);
            let next = loss(na, nb);
            if next <= current {
                moved = (na, nb) != (a, b);
                (a, b, current) = (na, nb, next);
                break;
            }
            step /= 2.0;
        }
        if !moved {
            break;
        }
    }
    Calibrator::Sigmoid { a: a / scale, b }
}

/// Isotonic regression of the targets on the scores.
fn fit_isotonic(scores: &[f64], targets: &[bool]) -> Calibrator {
    // Sorted by score, then target (scikit-learn's lexsort).
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]).then(targets[i].cmp(&targets[j])));
    // Scores within the resolution of a double pooled: (x, mean y, weight).
    const RESOLUTION: f64 = 1e-15;
    let mut points: Vec<(f64, f64, f64)> = Vec::new();
    for &i in &order {
        let y = f64::from(u8::from(targets[i]));
        match points.last_mut() {
            Some(last) if scores[i] - last.0 < RESOLUTION => {
                last.1 += y;
                last.2 += 1.0;
            }
            _ => points.push((scores[i], y, 1.0)),
        }
    }
    for p in &mut points {
        p.1 /= p.2;
    }
    // Pool adjacent violators: blocks of (mean, weight, points).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(points.len());
    for &(_, y, w) in &points {
        blocks.push((y, w, 1));
        while blocks.len() > 1 {
            let (y2, w2, n2) = blocks[blocks.len() - 1];
            let (y1, w1, n1) = blocks[blocks.len() - 2];
            if y1 < y2 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = ((y1 * w1 + y2 * w2) / (w1 + w2), w1 + w2, n1 + n2);
        }
    }
    let fitted: Vec<f64> = blocks.iter().flat_map(|&(y, _, n)| std::iter::repeat_n(y, n)).collect();
    // Points inside a flat run add nothing to the interpolation.
    let n = points.len();
    let keep = |i: usize| i == 0 || i + 1 == n || fitted[i] != fitted[i - 1] || fitted[i] != fitted[i + 1];
    let (x, y) = (0..n).filter(|&i| keep(i)).map(|i| (points[i].0, fitted[i])).unzip();
    Calibrator::Isotonic { x, y }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_violators_and_interpolates() {
        let cal = CalibrationMethod::Isotonic
            .fit(&[1.0, 2.0, 3.0, 4.0, 5.0], &[false, true, false, true, true])
            .unwrap();
        // 2 and 3 pool to 0.5.
        assert_eq!(
            cal,
            Calibrator::Isotonic {
                x: vec![1.0, 2.0, 3.0, 4.0, 5.0],
                y: vec![0.0, 0.5, 0.5, 1.0, 1.0]
            }
        );
        assert_eq!(cal.apply(0.0), 0.0);
        assert_eq!(cal.apply(1.5), 0.25);
        assert_eq!(cal.apply(9.0), 1.0);
    }

    #[test]
    fn sigmoid_separates_and_refuses_bad_scores() {
        let scores = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0];
        let targets = [false, false, true, false, true, true];
        let Calibrator::Sigmoid { a, .. } = CalibrationMethod::Sigmoid.fit(&scores, &targets).unwrap() else {
            panic!("a sigmoid")
        };
        // Higher scores, higher probabilities: a negative slope.
        assert!(a < 0.0, "{a}");
        assert!(CalibrationMethod::Sigmoid.fit(&[f64::NAN], &[true]).is_err());
        assert!(CalibrationMethod::Isotonic.fit(&[], &[]).is_err());
    }
}
