//! Fairness mitigation by post-processing: Fairlearn's `ThresholdOptimizer`
//! (Hardt, Price, Srebro, "Equality of Opportunity in Supervised
//! Learning", NeurIPS 2016), computed as Fairlearn computes it.
//!
//! For each group, every threshold on the model's scores gives a point
//! (x, y): for a parity constraint x is the constrained rate (selection
//! rate for demographic parity) and y the objective (accuracy); for
//! equalized odds x is the false- and y the true-positive rate. The upper
//! convex hull of the points is interpolated on a grid of `grid_size + 1`
//! values of x in [0, 1]. A parity constraint takes the x that maximizes
//! the groups' objective weighted by their sizes, equalized odds the best
//! point under every group's ROC hull; each group then predicts with a
//! random mix of two thresholds (and, for equalized odds, a constant).

use std::collections::BTreeMap;

use crate::{Error, Result};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// What the optimizer equalizes across groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParityConstraint {
    /// Equal selection rates.
    DemographicParity,
    /// Equal true- and false-positive rates.
    EqualizedOdds,
    /// Equal true-positive rates (equal opportunity).
    TruePositiveRateParity,
    /// Equal false-positive rates.
    FalsePositiveRateParity,
    /// Equal true-negative rates.
    TrueNegativeRateParity,
    /// Equal false-negative rates.
    FalseNegativeRateParity,
}

impl ParityConstraint {
    /// Parse Fairlearn's name of a constraint.
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "demographic_parity" | "selection_rate_parity" => ParityConstraint::DemographicParity,
            "equalized_odds" => ParityConstraint::EqualizedOdds,
            "true_positive_rate_parity" | "equal_opportunity" => ParityConstraint::TruePositiveRateParity,
            "false_positive_rate_parity" => ParityConstraint::FalsePositiveRateParity,
            "true_negative_rate_parity" => ParityConstraint::TrueNegativeRateParity,
            "false_negative_rate_parity" => ParityConstraint::FalseNegativeRateParity,
            _ => {
                return Err(Error::invalid(
                    "constraint",
                    format!(
                        "unknown constraint '{s}' (known: demographic_parity, equalized_odds, true_positive_rate_parity, \
                         false_positive_rate_parity, true_negative_rate_parity, false_negative_rate_parity)"
                    ),
                ));
            }
        })
    }
}

/// Confusion counts at one threshold.
#[derive(Debug, Clone, Copy)]
struct Counts {
    tp: f64,
    fp: f64,
    tn: f64,
    fn_: f64,
}

impl Counts {
    fn n(&self) -> f64 {
        self.tp + self.fp + self.tn + self.fn_
    }
    fn selection_rate(&self) -> f64 {
        (self.tp + self.fp) / self.n()
    }
    fn tpr(&self) -> f64 {
        self.tp / (self.tp + self.fn_)
    }
    fn fpr(&self) -> f64 {
        self.fp / (self.fp + self.tn)
    }
    fn accuracy(&self) -> f64 {
        (self.tp + self.tn) / self.n()
    }
}

fn x_metric(c: ParityConstraint, k: &Counts) -> f64 {
    match c {
        ParityConstraint::DemographicParity => k.selection_rate(),
        ParityConstraint::EqualizedOdds | ParityConstraint::FalsePositiveRateParity => k.fpr(),
        ParityConstraint::TruePositiveRateParity => k.tpr(),
        ParityConstraint::TrueNegativeRateParity => 1.0 - k.fpr(),
        ParityConstraint::FalseNegativeRateParity => 1.0 - k.tpr(),
    }
}

fn y_metric(c: ParityConstraint, k: &Counts) -> f64 {
    match c {
        ParityConstraint::EqualizedOdds => k.tpr(),
        _ => k.accuracy(),
    }
}

/// "Predict positive when the score is above (`greater`) or below the
/// threshold."
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// `>` (true) or `<`.
    pub greater: bool,
    /// The threshold (may be infinite).
    pub threshold: f64,
}

impl Threshold {
    fn apply(&self, s: f64) -> f64 {
        let hit = if self.greater {
            s > self.threshold
        } else {
            s < self.threshold
        };
        f64::from(u8::from(hit))
    }
}

/// One group's randomized rule: positive with probability
/// `p_ignore · constant + (1 - p_ignore) (p0 [op0(s)] + p1 [op1(s)])`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupRule {
    /// Weight of the first threshold.
    pub p0: f64,
    /// The first threshold.
    pub op0: Threshold,
    /// Weight of the second threshold.
    pub p1: f64,
    /// The second threshold.
    pub op1: Threshold,
    /// Probability of ignoring the score (equalized odds; 0 otherwise).
    pub p_ignore: f64,
    /// The positive probability used when ignoring the score.
    pub constant: f64,
}

/// The fitted post-processing: a rule per group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairThresholds {
    /// The constraint it satisfies.
    pub constraint: ParityConstraint,
    /// The chosen x (the common rate).
    pub x_best: f64,
    /// The objective (or, for equalized odds, the true-positive rate) there.
    pub y_best: f64,
    /// Each group's rule.
    pub rules: BTreeMap<String, GroupRule>,
}

impl FairThresholds {
    /// The probability of predicting positive for a score in a group.
    ///
    /// # Errors
    /// A group not seen in fitting.
    pub fn positive_probability(&self, score: f64, group: &str) -> Result<f64> {
        let r = self
            .rules
            .get(group)
            .ok_or_else(|| Error::invalid("group", format!("'{group}' was not seen when fitting the thresholds")))?;
        let inner = r.p0 * r.op0.apply(score) + r.p1 * r.op1.apply(score);
        Ok(r.p_ignore * r.constant + (1.0 - r.p_ignore) * inner)
    }

    /// Randomized predictions (1 positive, 0 negative).
    ///
    /// # Errors
    /// Lengths that differ, unseen groups.
    pub fn predict(&self, scores: &[f64], groups: &[String], rng: &mut impl rand::Rng) -> Result<Vec<usize>> {
        if scores.len() != groups.len() {
            return Err(Error::invalid("groups", "one group per score"));
        }
        scores
            .iter()
            .zip(groups)
            .map(|(&s, g)| Ok(usize::from(rng.random::<f64>() < self.positive_probability(s, g)?)))
            .collect()
    }
}

/// Fairlearn's `ThresholdOptimizer` with objective accuracy and without
/// flipping.
#[derive(Debug, Clone)]
pub struct ThresholdOptimizer {
    /// The constraint.
    pub constraint: ParityConstraint,
    /// Grid steps over [0, 1], 1 to [`ThresholdOptimizer::MAX_GRID`].
    pub grid_size: usize,
}

impl ThresholdOptimizer {
    /// The most grid steps.
    pub const MAX_GRID: usize = 1_000_000;

    /// With Fairlearn's grid of 1000 steps.
    pub fn new(constraint: ParityConstraint) -> Self {
        ThresholdOptimizer {
            constraint,
            grid_size: 1000,
        }
    }

    /// Fit on scores (higher: more likely positive), labels 0/1 and groups.
    ///
    /// # Errors
    /// Empty or mismatched inputs, non-finite scores, labels other than
    /// 0/1, a group whose labels are all the same (no trade-off to draw).
    pub fn fit(&self, scores: &[f64], labels: &[usize], groups: &[String]) -> Result<FairThresholds> {
        let n = scores.len();
        if n == 0 || labels.len() != n || groups.len() != n {
            return Err(Error::invalid(
                "data",
                "scores, labels and groups must be non-empty and of one length",
            ));
        }
        if let Some(s) = scores.iter().find(|s| !s.is_finite()) {
            return Err(Error::invalid("scores", format!("non-finite score {s}")));
        }
        if let Some(l) = labels.iter().find(|&&l| l > 1) {
            return Err(Error::invalid(
                "labels",
                format!("label {l}: the labels must be 0 or 1"),
            ));
        }
        ml_core::limits::check_count("grid_size", self.grid_size, 1..=Self::MAX_GRID)?;
        let mut by_group: BTreeMap<&str, Vec<(f64, usize)>> = BTreeMap::new();
        for ((&s, &l), g) in scores.iter().zip(labels).zip(groups) {
            by_group.entry(g.as_str()).or_default().push((s, l));
        }
        let grid: Vec<f64> = (0..=self.grid_size)
            .map(|i| {
                // numpy's linspace
                if i == self.grid_size {
                    1.0
                } else {
                    i as f64 * (1.0 / self.grid_size as f64)
                }
            })
            .collect();
        let mut curves = Vec::new();
        for (g, rows) in &by_group {
            let hull = hull(&tradeoff_points(rows, self.constraint, g)?);
            curves.push((g.to_string(), rows.len(), interpolate(&hull, &grid)?));
        }
        let (best, x_best, y_best) = match self.constraint {
            ParityConstraint::EqualizedOdds => {
                let n_pos = labels.iter().filter(|&&l| l == 1).count() as f64;
                let n_neg = n as f64 - n_pos;
                let y_min: Vec<f64> = (0..grid.len())
                    .map(|i| curves.iter().map(|(_, _, c)| c[i].y).fold(f64::INFINITY, f64::min))
                    .collect();
                let objective: Vec<f64> = (0..grid.len())
                    .map(|i| round15((n_pos * y_min[i] + n_neg * (1.0 - grid[i])) / n as f64))
                    .collect();
                let best = argmax_first(&objective);
                (best, grid[best], y_min[best])
            }
            _ => {
                let overall: Vec<f64> = (0..grid.len())
                    .map(|i| curves.iter().map(|(_, size, c)| *size as f64 / n as f64 * c[i].y).sum())
                    .collect();
                let best = argmax_first(&overall);
                (best, grid[best], overall[best])
            }
        };
        let rules = curves
            .into_iter()
            .map(|(g, _, c)| {
                let p = &c[best];
                let p_ignore = if self.constraint != ParityConstraint::EqualizedOdds || p.y == p.x {
                    0.0
                } else {
                    (p.y - y_best) / (p.y - p.x)
                };
                (
                    g,
                    GroupRule {
                        p0: p.p0,
                        op0: p.op0,
                        p1: p.p1,
                        op1: p.op1,
                        p_ignore,
                        constant: if self.constraint == ParityConstraint::EqualizedOdds {
                            x_best
                        } else {
                            0.0
                        },
                    },
                )
            })
            .collect();
        Ok(FairThresholds {
            constraint: self.constraint,
            x_best,
            y_best,
            rules,
        })
    }
}

fn round15(v: f64) -> f64 {
    (v * 1e15).round() / 1e15
}

fn argmax_first(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[derive(Debug, Clone, Copy)]
struct Point {
    x: f64,
    y: f64,
    op: Threshold,
}

/// Every threshold's point, sorted by (x, y): thresholds halfway between
/// consecutive distinct scores, from +inf (nothing positive) to -inf.
fn tradeoff_points(rows: &[(f64, usize)], c: ParityConstraint, group: &str) -> Result<Vec<Point>> {
    let mut sorted = rows.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = sorted.len();
    let n_pos = sorted.iter().filter(|r| r.1 == 1).count() as f64;
    let n_neg = n as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return Err(Error::invalid(
            "labels",
            format!("group '{group}' has only one label value; no trade-off to optimize"),
        ));
    }
    let mut points = Vec::new();
    let mut count = [0.0f64; 2];
    let mut i = 0;
    let score = |i: usize| if i < n { sorted[i].0 } else { f64::NEG_INFINITY };
    let mut first = true;
    while i < n {
        let threshold = if first {
            first = false;
            f64::INFINITY
        } else {
            let t = score(i);
            while i < n && score(i) == t {
                count[sorted[i].1] += 1.0;
                i += 1;
            }
            (t + score(i)) / 2.0
        };
        let k = Counts {
            fp: count[0],
            tp: count[1],
            tn: n_neg - count[0],
            fn_: n_pos - count[1],
        };
        points.push(Point {
            x: x_metric(c, &k),
            y: y_metric(c, &k),
            op: Threshold {
                greater: true,
                threshold,
            },
        });
    }
    points.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    Ok(points)
}

/// The upper convex hull (Andrew's monotone chain over sorted points).
fn hull(points: &[Point]) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    for &p2 in points {
        while out.len() >= 2 {
            let (p0, p1) = (out[out.len() - 2], out[out.len() - 1]);
            if (p1.y - p0.y) * (p2.x - p0.x) <= (p2.y - p0.y) * (p1.x - p0.x) {
                out.pop();
            } else {
                break;
            }
        }
        out.push(p2);
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Interp {
    x: f64,
    y: f64,
    p0: f64,
    op0: Threshold,
    p1: f64,
    op1: Threshold,
}

fn interpolate(hull: &[Point], grid: &[f64]) -> Result<Vec<Interp>> {
    if hull.len() < 2 {
        return Err(Error::invalid(
            "scores",
            "a group's scores give fewer than two trade-off points",
        ));
    }
    let xs: Vec<f64> = hull.iter().map(|p| p.x).collect();
    grid.iter()
        .enumerate()
        .map(|(gi, &xg)| {
            // numpy searchsorted(side="right") - 1, stepped back where the
            // grid meets a hull point (except at the first grid point).
            let mut idx = xs.partition_point(|&x| x <= xg) as isize - 1;
            if gi > 0 && idx >= 0 && xg == xs[idx as usize] {
                idx -= 1;
            }
            let idx = idx.clamp(0, xs.len() as isize - 2) as usize;
            let (a, b) = (hull[idx], hull[idx + 1]);
            let p0 = (b.x - xg) / (b.x - a.x);
            let p1 = 1.0 - p0;
            Ok(Interp {
                x: xg,
                y: p0 * a.y + p1 * b.y,
                p0,
                op0: a.op,
                p1,
                op1: b.op,
            })
        })
        .collect()
}

/// Labels drawn with each row's positive probability, one draw per row in
/// order, as Fairlearn's randomized `predict` draws them. Seed `rng` with
/// [`ml_core::seeded_rng`] for draws that repeat across releases.
pub fn draw_labels(p: &[f64], rng: &mut impl rand::Rng) -> Vec<usize> {
    use rand::RngExt;
    p.iter().map(|&pi| usize::from(rng.random::<f64>() < pi)).collect()
}
