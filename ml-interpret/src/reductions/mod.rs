//! Fairness mitigation by reduction: the exponentiated-gradient algorithm
//! of Agarwal, Beygelzimer, Dudík, Langford, Wallach ("A Reductions
//! Approach to Fair Classification", ICML 2018), in the form of Fairlearn's
//! `ExponentiatedGradient`: a zero-sum game between a learner that fits any
//! [`Trainer`] to reweighted, relabelled data (the best response to the
//! current Lagrange multipliers) and multipliers updated by exponentiated
//! gradient on the constraint violations. The result is a randomized
//! classifier: a distribution over the fitted models.
//!
//! As Fairlearn does, each iteration after the first also solves the
//! linear program for the best mix of the learners found so far (least
//! error plus `B` times the largest violation) and keeps whichever of that
//! mix and the averaged play has the smaller duality gap. Difference from
//! Fairlearn: a trainer that cannot take sample weights is fitted on a
//! weighted resample instead of being refused.

use crate::{Error, Result};
use ml_core::ndarray::{Array1, Array2, ArrayView2};
use ml_core::{Dataset, Model, ModelSpec, Predictions, Signature, Target, Task, Trainer};
use ml_core::{SeededRng, seeded_rng};
use rand::RngExt;
use serde::{Deserialize, Serialize};

mod expgrad;
mod grid;
mod mix;

use expgrad::*;

pub use expgrad::ExponentiatedGradient;
pub use grid::{GridPoint, GridSearch, GridSearchResult};
pub use mix::{MitigatedClassifier, MixMember, SavedMix};

/// The constraint, as a moment of the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// Selection rate equal across groups.
    DemographicParity,
    /// True- and false-positive rates equal across groups.
    EqualizedOdds,
    /// True-positive rate equal across groups.
    TruePositiveRateParity,
    /// False-positive rate equal across groups.
    FalsePositiveRateParity,
    /// Error rate equal across groups.
    ErrorRateParity,
}

impl Moment {
    /// Parse Fairlearn's name.
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "demographic_parity" => Moment::DemographicParity,
            "equalized_odds" => Moment::EqualizedOdds,
            "true_positive_rate_parity" | "equal_opportunity" => Moment::TruePositiveRateParity,
            "false_positive_rate_parity" => Moment::FalsePositiveRateParity,
            "error_rate_parity" => Moment::ErrorRateParity,
            _ => {
                return Err(Error::invalid(
                    "constraint",
                    format!(
                        "unknown constraint '{s}' (known: demographic_parity, equalized_odds, \
                         true_positive_rate_parity, false_positive_rate_parity, error_rate_parity)"
                    ),
                ));
            }
        })
    }

    /// The event of a row with label `y` (`None`: the row is in no constraint).
    fn event(&self, y: usize) -> Option<usize> {
        match self {
            Moment::DemographicParity | Moment::ErrorRateParity => Some(0),
            Moment::EqualizedOdds => Some(y),
            Moment::TruePositiveRateParity => (y == 1).then_some(0),
            Moment::FalsePositiveRateParity => (y == 0).then_some(0),
        }
    }
}

/// The problem's fixed parts: labels, groups, events and their sizes.
struct Problem {
    moment: Moment,
    y: Vec<usize>,
    group: Vec<usize>,
    event: Vec<Option<usize>>,
    n_groups: usize,
    n_events: usize,
    /// Rows per (event, group) and per event.
    n_ge: Vec<f64>,
    n_e: Vec<f64>,
    bound: f64,
}

impl Problem {
    fn new(moment: Moment, y: Vec<usize>, groups: &[String], bound: f64) -> Self {
        let mut keys: Vec<&String> = groups.iter().collect();
        keys.sort();
        keys.dedup();
        let group: Vec<usize> = groups.iter().map(|g| keys.binary_search(&g).unwrap_or(0)).collect();
        let n_events = if moment == Moment::EqualizedOdds { 2 } else { 1 };
        let event: Vec<Option<usize>> = y.iter().map(|&l| moment.event(l)).collect();
        let mut n_ge = vec![0.0; n_events * keys.len()];
        let mut n_e = vec![0.0; n_events];
        for i in 0..y.len() {
            if let Some(e) = event[i] {
                n_ge[e * keys.len() + group[i]] += 1.0;
                n_e[e] += 1.0;
            }
        }
        Problem {
            moment,
            y,
            group,
            event,
            n_groups: keys.len(),
            n_events,
            n_ge,
            n_e,
            bound,
        }
    }

    fn k(&self) -> usize {
        self.n_events * self.n_groups * 2
    }

    fn idx(&self, e: usize, g: usize, plus: bool) -> usize {
        (e * self.n_groups + g) * 2 + usize::from(!plus)
    }

    /// The utility of row i under prediction h: the prediction, or the error.
    fn utility(&self, i: usize, h: f64) -> f64 {
        match self.moment {
            Moment::ErrorRateParity => {
                if self.y[i] == 1 {
                    1.0 - h
                } else {
                    h
                }
            }
            _ => h,
        }
    }

    /// Error and constraint values (`γ - bound`) of predictions in [0, 1].
    fn evaluate(&self, h: &[f64]) -> (f64, Vec<f64>) {
        let n = h.len() as f64;
        let error = h
            .iter()
            .zip(&self.y)
            .map(|(&p, &y)| if y == 1 { 1.0 - p } else { p })
            .sum::<f64>()
            / n;
        let mut sum_ge = vec![0.0; self.n_events * self.n_groups];
        let mut sum_e = vec![0.0; self.n_events];
        for i in 0..h.len() {
            if let Some(e) = self.event[i] {
                let u = self.utility(i, h[i]);
                sum_ge[e * self.n_groups + self.group[i]] += u;
                sum_e[e] += u;
            }
        }
        let mut gamma = vec![0.0; self.k()];
        for e in 0..self.n_events {
            let mu_e = if self.n_e[e] > 0.0 { sum_e[e] / self.n_e[e] } else { 0.0 };
            for g in 0..self.n_groups {
                let c = self.n_ge[e * self.n_groups + g];
                let d = if c > 0.0 {
                    sum_ge[e * self.n_groups + g] / c - mu_e
                } else {
                    0.0
                };
                gamma[self.idx(e, g, true)] = d - self.bound;
                gamma[self.idx(e, g, false)] = -d - self.bound;
            }
        }
        (error, gamma)
    }

    /// Fairlearn's projection of the multipliers: within an event,
    /// `Σ_g P(g|e) γ_(e,g)` is 0, so shifting `λ+ - λ-` by a multiple of
    /// `P(g|e)` keeps `λ·γ`; the weighted median shift has the least L1
    /// norm, which removes the bound's cost of multipliers that cancel.
    fn project(&self, lambda: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.k()];
        for e in 0..self.n_events {
            let groups: Vec<usize> = (0..self.n_groups)
                .filter(|&g| self.n_ge[e * self.n_groups + g] > 0.0)
                .collect();
            let prob: Vec<f64> = groups
                .iter()
                .map(|&g| self.n_ge[e * self.n_groups + g] / self.n_e[e])
                .collect();
            let mut signed: Vec<f64> = groups
                .iter()
                .map(|&g| lambda[self.idx(e, g, true)] - lambda[self.idx(e, g, false)])
                .collect();
            if groups.is_empty() {
                continue;
            }
            let normalized: Vec<f64> = signed.iter().zip(&prob).map(|(s, p)| s / p).collect();
            let mut order: Vec<usize> = (0..groups.len()).collect();
            order.sort_by(|&a, &b| normalized[a].total_cmp(&normalized[b]));
            let half = prob.iter().sum::<f64>() / 2.0;
            let mut cum = 0.0;
            let mut at = order[order.len() - 1];
            for &o in &order {
                cum += prob[o];
                if cum >= half {
                    at = o;
                    break;
                }
            }
            let shift = normalized[at];
            for (s, p) in signed.iter_mut().zip(&prob) {
                *s -= p * shift;
            }
            for (&g, s) in groups.iter().zip(signed) {
                out[self.idx(e, g, true)] = s.max(0.0);
                out[self.idx(e, g, false)] = (-s).max(0.0);
            }
        }
        out
    }

    /// Per row, the gain of predicting 1 over 0 in the Lagrangian
    /// `error + λ·γ` (positive: predicting 1 is better).
    fn signed_weights(&self, lambda: &[f64]) -> Vec<f64> {
        let n = self.y.len() as f64;
        let mut per_event = vec![0.0; self.n_events];
        for (e, pe) in per_event.iter_mut().enumerate() {
            if self.n_e[e] > 0.0 {
                *pe = (0..self.n_groups)
                    .map(|g| lambda[self.idx(e, g, true)] - lambda[self.idx(e, g, false)])
                    .sum::<f64>()
                    / self.n_e[e];
            }
        }
        (0..self.y.len())
            .map(|i| {
                let err_cost = if self.y[i] == 1 { -1.0 / n } else { 1.0 / n };
                let fair_cost = match self.event[i] {
                    Some(e) => {
                        let g = self.group[i];
                        let c = self.n_ge[e * self.n_groups + g];
                        let du = if self.moment == Moment::ErrorRateParity && self.y[i] == 1 {
                            -1.0
                        } else {
                            1.0
                        };
                        let own = (lambda[self.idx(e, g, true)] - lambda[self.idx(e, g, false)]) / c;
                        du * (own - per_event[e])
                    }
                    None => 0.0,
                };
                -(err_cost + fair_cost)
            })
            .collect()
    }
}

/// The labels and class names of a two-class target, with one group per row.
fn binary_target<'a>(data: &'a Dataset, groups: &[String]) -> Result<(Vec<usize>, &'a Vec<String>)> {
    let Some(Target::Classes { labels, names }) = data.target() else {
        return Err(Error::invalid("target", "fairness reductions need class labels"));
    };
    if names.len() != 2 {
        return Err(Error::invalid(
            "target",
            format!("fairness reductions are binary; the target has {} classes", names.len()),
        ));
    }
    if groups.len() != data.n_samples() {
        return Err(Error::invalid(
            "sensitive",
            format!("{} group values for {} rows", groups.len(), data.n_samples()),
        ));
    }
    Ok((labels.to_vec(), names))
}

/// One fitted learner: a model, or a constant where the reweighted labels
/// were all one class.
#[derive(Debug)]
enum Learner {
    Model(Box<dyn Model>),
    Constant(usize),
}

impl Learner {
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        Ok(match self {
            Learner::Constant(c) => vec![*c as f64; x.nrows()],
            Learner::Model(m) => match m.predict(x)? {
                Predictions::Classification { labels, .. } => labels.iter().map(|&l| l as f64).collect(),
                _ => {
                    return Err(Error::Unsupported("the trainer did not fit a classifier".into()));
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_parse_fairlearns_names_and_pick_their_rows() {
        assert_eq!(
            Moment::parse("equal_opportunity").unwrap(),
            Moment::TruePositiveRateParity
        );
        assert!(Moment::parse("parity").is_err());
        // Equal opportunity constrains the positive rows only, equalized
        // odds both labels as separate events, demographic parity all rows
        // as one.
        assert_eq!([0, 1].map(|y| Moment::TruePositiveRateParity.event(y)), [None, Some(0)]);
        assert_eq!([0, 1].map(|y| Moment::EqualizedOdds.event(y)), [Some(0), Some(1)]);
        assert_eq!([0, 1].map(|y| Moment::DemographicParity.event(y)), [Some(0), Some(0)]);
    }
}
