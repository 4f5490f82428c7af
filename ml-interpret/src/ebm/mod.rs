//! An explainable boosting machine (Lou, Caruana, Gehrke, Hooker, KDD 2013;
//! Nori et al., InterpretML 2019): a generalized additive model
//! `link⁻¹(b + Σ_j f_j(x_j))` whose shape functions `f_j` are learned by
//! cyclic gradient boosting on binned features, one small tree (by
//! default one split of the feature's bins) per feature per round, with a
//! low learning rate, early stopping on a held-out part of the data and
//! averaging over bags. As InterpretML (0.7) does, the first rounds place
//! their split at random among the allowed cut points ("smoothing rounds",
//! for smoother shapes) and later rounds greedily.
//!
//! The fitted model describes itself as a [`ModelSpec`]: a sum of one
//! tree per feature whose leaves are the feature's bins (node covers are
//! the training counts), with the intercept as base value and the logistic
//! link for two classes. So it predicts, exports to ONNX and explains
//! (TreeSHAP gives `f_j(x_j)` minus its mean) like any tree ensemble here.
//! Classification (two classes: one logistic score; more: one score per
//! class, softmax cross-entropy, each boosting step's split chosen by its
//! gain summed over the classes) and regression; optional pairwise
//! interactions (`interactions`): pairs ranked by FAST on the main effects'
//! residuals, then boosted as tables over coarse bins (a value per class
//! for more than two classes), each exported as a two-feature tree.

use crate::{Error, Result};
use ml_core::ndarray::{Array2, ArrayView2};
use ml_core::{
    Aggregation, Dataset, Estimator, FeatureKind, Link, Model, ModelSpec, Predictions, Signature, Split, Target, Task,
    Trainer, Tree, TreeNode,
};
use ml_core::{SeededRng, seeded_rng};
use rand::seq::SliceRandom;
use serde::Serialize;

mod binning;
mod boost;
mod model;
mod pairs;
mod shapes;

use binning::*;
use boost::*;
use model::*;
use pairs::*;

pub use binning::FeatureBins;
pub use model::EbmModel;
pub use pairs::PairTerm;
pub use shapes::{AdditiveTerms, ShapeFunction, shape_functions, shape_functions_by_output, shape_functions_of};

/// The trainer, with InterpretML 0.7's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Ebm {
    /// Bins per numeric feature at most (quantile edges), 2 to [`Ebm::MAX_BINS`].
    pub max_bins: usize,
    /// Shrinkage of each boosting step (`None`: 0.015 for classification,
    /// 0.04 for regression).
    pub learning_rate: Option<f64>,
    /// Leaves of each boosting step's tree over the bins (2 or 3).
    pub max_leaves: usize,
    /// Rounds whose splits are placed at random (`None`: 75 for
    /// classification, 500 for regression).
    pub smoothing_rounds: Option<usize>,
    /// Relative improvement of the validation loss that counts (in the
    /// interaction stage, relative to at least the intercept-only model's
    /// loss, so a loss driven towards zero still stops).
    pub early_stopping_tolerance: f64,
    /// Boosting rounds at most (each round visits every feature), 1 to
    /// [`Ebm::MAX_ROUNDS`].
    pub max_rounds: usize,
    /// Stop when the validation loss has not improved for this many rounds.
    pub early_stopping_rounds: usize,
    /// Fraction of each bag held out for early stopping.
    pub validation_size: f64,
    /// Bags averaged, 1 to [`Ebm::MAX_OUTER_BAGS`].
    pub outer_bags: usize,
    /// Rows a leaf of a boosting step needs at least.
    pub min_samples_leaf: usize,
    /// Seed of the bags' splits.
    pub seed: u64,
    /// Pairwise interaction terms to add (0: none), the pairs ranked by
    /// FAST (Lou et al. 2013) on the main effects' residuals; more than
    /// there are pairs means all of them.
    pub interactions: usize,
    /// Bins per feature in an interaction term at most, 2 to
    /// [`Ebm::MAX_INTERACTION_BINS`].
    pub max_interaction_bins: usize,
}

impl Default for Ebm {
    fn default() -> Self {
        Ebm {
            max_bins: 1024,
            learning_rate: None,
            max_leaves: 2,
            smoothing_rounds: None,
            early_stopping_tolerance: 1e-5,
            max_rounds: 50_000,
            early_stopping_rounds: 100,
            validation_size: 0.15,
            outer_bags: 14,
            min_samples_leaf: 4,
            seed: 0,
            interactions: 0,
            max_interaction_bins: 32,
        }
    }
}

impl Ebm {
    /// The most bags.
    pub const MAX_OUTER_BAGS: usize = 1_000;
    /// The most boosting rounds.
    pub const MAX_ROUNDS: usize = 10_000_000;
    /// The most bins per numeric feature.
    pub const MAX_BINS: usize = 65_536;
    /// The most bins per feature of an interaction term.
    pub const MAX_INTERACTION_BINS: usize = 1_024;

    /// Hyper-parameters by name, as `mlsdk train --model ebm --param K=V`
    /// takes them and [`Trainer::params`] lists them (`auto` for the
    /// learning rate and smoothing rounds means InterpretML's default);
    /// `seed` from the argument unless a `seed` param is given.
    ///
    /// # Errors
    /// An unknown key or a value that does not parse
    /// ([`Error::InvalidParameter`] naming it).
    pub fn from_params(params: &[(String, String)], seed: Option<u64>) -> Result<Self> {
        let mut e = Ebm {
            seed: seed.unwrap_or(0),
            ..Default::default()
        };
        for (k, v) in params {
            let (k, v) = (k.trim(), v.trim());
            let bad = || Error::invalid(k, format!("'{v}' is not a valid value"));
            let auto = v.eq_ignore_ascii_case("auto");
            match k {
                "max_bins" => e.max_bins = v.parse().map_err(|_| bad())?,
                "learning_rate" if auto => e.learning_rate = None,
                "learning_rate" => e.learning_rate = Some(v.parse().map_err(|_| bad())?),
                "max_leaves" => e.max_leaves = v.parse().map_err(|_| bad())?,
                "smoothing_rounds" if auto => e.smoothing_rounds = None,
                "smoothing_rounds" => e.smoothing_rounds = Some(v.parse().map_err(|_| bad())?),
                "max_rounds" => e.max_rounds = v.parse().map_err(|_| bad())?,
                "early_stopping_rounds" => e.early_stopping_rounds = v.parse().map_err(|_| bad())?,
                "early_stopping_tolerance" => e.early_stopping_tolerance = v.parse().map_err(|_| bad())?,
                "validation_size" => e.validation_size = v.parse().map_err(|_| bad())?,
                "outer_bags" => e.outer_bags = v.parse().map_err(|_| bad())?,
                "min_samples_leaf" => e.min_samples_leaf = v.parse().map_err(|_| bad())?,
                "interactions" => e.interactions = v.parse().map_err(|_| bad())?,
                "max_interaction_bins" => e.max_interaction_bins = v.parse().map_err(|_| bad())?,
                "seed" => e.seed = v.parse().map_err(|_| bad())?,
                _ => return Err(Error::invalid(k, "not a parameter of 'ebm'")),
            }
        }
        Ok(e)
    }
}

impl Ebm {
    /// The interaction stage: rank every pair by FAST on the main effects'
    /// residuals, boost the best `interactions` pairs' tables in each bag,
    /// average and centre them.
    #[allow(clippy::too_many_arguments)]
    fn fit_pairs(
        &self,
        data: &Dataset,
        binned: &[Vec<usize>],
        shapes: &[Vec<f64>],
        intercepts: &[f64],
        y: &[f64],
        objective: Objective,
        lr: f64,
        bags: &[(Vec<usize>, Vec<usize>, u64)],
    ) -> Result<Vec<PairTerm>> {
        let n = data.n_samples();
        let m = binned.len();
        let k = objective.k();
        let (coarse_bins, coarse, n_coarse) = binning(data, self.max_interaction_bins.max(2));
        let base: Vec<f64> = (0..n)
            .flat_map(|i| {
                (0..k).map(move |c| intercepts[c] + (0..m).map(|j| shapes[j][binned[j][i] * k + c]).sum::<f64>())
            })
            .collect();
        let (g, h) = grad_hess(&base, y, objective);
        let all: Vec<usize> = (0..n).collect();
        // The scale of the problem: the intercept-only model's loss.
        let null: Vec<f64> = (0..n).flat_map(|_| intercepts.iter().copied()).collect();
        let floor = objective.mean_loss(&null, y, &all).abs();
        let mut ranked: Vec<(f64, (usize, usize))> = (0..m)
            .flat_map(|a| (a + 1..m).map(move |b| (a, b)))
            .map(|(a, b)| {
                (
                    pair_gain(&coarse[a], &coarse[b], n_coarse[a], n_coarse[b], k, &g, &h, &all).0,
                    (a, b),
                )
            })
            .collect();
        ranked.sort_by(|p, q| q.0.total_cmp(&p.0));
        let chosen: Vec<(usize, usize)> = ranked.iter().take(self.interactions).map(|r| r.1).collect();
        let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
        let mut tables: Vec<Vec<f64>> = chosen
            .iter()
            .map(|&(a, b)| vec![0.0; n_coarse[a] * n_coarse[b] * k])
            .collect();
        for chunk in bags.chunks(threads) {
            let done: Vec<Vec<Vec<f64>>> = std::thread::scope(|s| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|(t, v, _)| {
                        let (chosen, coarse, n_coarse, base) = (&chosen, &coarse, &n_coarse, &base);
                        s.spawn(move || {
                            boost_pairs(self, lr, chosen, coarse, n_coarse, y, objective, base, (t, v), floor)
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            for bag in done {
                for (t, b) in tables.iter_mut().zip(bag) {
                    t.iter_mut().zip(b).for_each(|(a, v)| *a += v / bags.len() as f64);
                }
            }
        }
        Ok(chosen
            .iter()
            .zip(tables)
            .map(|(&(a, b), table)| {
                let row = n_coarse[b] * k;
                // The tables stay as boosted: moving their mean into the
                // intercept would change no prediction.
                let values = (0..n_coarse[a])
                    .map(|xa| table[xa * row..(xa + 1) * row].to_vec())
                    .collect();
                PairTerm {
                    features: (a, b),
                    bins: (coarse_bins[a].clone(), coarse_bins[b].clone()),
                    values,
                }
            })
            .collect())
    }

    /// Fit, returning the concrete model.
    ///
    /// # Errors
    /// Bad parameters, no rows, no target.
    pub fn fit_ebm(&self, data: &Dataset) -> Result<EbmModel> {
        data.require_complete("ebm")?;
        use ml_core::limits::check_count;
        check_count("outer_bags", self.outer_bags, 1..=Self::MAX_OUTER_BAGS)?;
        check_count("max_rounds", self.max_rounds, 1..=Self::MAX_ROUNDS)?;
        check_count("max_bins", self.max_bins, 2..=Self::MAX_BINS)?;
        check_count(
            "max_interaction_bins",
            self.max_interaction_bins,
            2..=Self::MAX_INTERACTION_BINS,
        )?;
        if self.learning_rate.is_some_and(|l| !(l > 0.0 && l.is_finite())) || !(2..=3).contains(&self.max_leaves) {
            return Err(Error::invalid("ebm", "needs learning_rate > 0, max_leaves 2 or 3"));
        }
        if !(self.validation_size > 0.0 && self.validation_size < 1.0) {
            return Err(Error::invalid("validation_size", "must be in (0, 1)"));
        }
        let n = data.n_samples();
        if n < 4 {
            return Err(Error::invalid("data", "an EBM needs at least 4 rows"));
        }
        let (y, objective, task, link): (Vec<f64>, Objective, Task, Link) = match data.target() {
            Some(Target::Classes { labels, names }) if names.len() >= 2 => (
                labels.iter().map(|&l| l as f64).collect(),
                if names.len() == 2 {
                    Objective::Logistic
                } else {
                    Objective::Softmax(names.len())
                },
                Task::Classification { classes: names.clone() },
                if names.len() == 2 {
                    Link::Logistic
                } else {
                    Link::Softmax
                },
            ),
            Some(Target::Classes { .. }) => {
                return Err(Error::invalid("target", "an EBM classifier needs two classes or more"));
            }
            Some(Target::Values { values }) => (values.to_vec(), Objective::Squared, Task::Regression, Link::Identity),
            None => return Err(Error::invalid("target", "an EBM needs a target")),
        };
        let k = objective.k();
        let classification = objective != Objective::Squared;
        let lr = self.learning_rate.unwrap_or(if classification { 0.015 } else { 0.04 });
        let smoothing = self.smoothing_rounds.unwrap_or(if classification { 75 } else { 500 });
        let x = data.features();
        let columns = data.columns();
        let (bins, binned, n_bins) = binning(data, self.max_bins);
        let mean = y.iter().sum::<f64>() / n as f64;
        // Starting scores: the log-odds or mean, or each class's log prior.
        let intercepts0: Vec<f64> = match objective {
            Objective::Logistic => {
                let p = mean.clamp(1e-6, 1.0 - 1e-6);
                vec![(p / (1.0 - p)).ln()]
            }
            Objective::Squared => vec![mean],
            Objective::Softmax(k) => (0..k)
                .map(|c| {
                    let share = y.iter().filter(|&&t| t as usize == c).count() as f64 / n as f64;
                    share.max(1e-6).ln()
                })
                .collect(),
        };
        let mut rng = seeded_rng(self.seed);
        let n_valid = ((n as f64 * self.validation_size).round() as usize).clamp(1, n - 1);
        let bags: Vec<(Vec<usize>, Vec<usize>, u64)> = (0..self.outer_bags)
            .map(|b| {
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut rng);
                let (v, t) = order.split_at(n_valid);
                (t.to_vec(), v.to_vec(), self.seed.wrapping_add(b as u64 + 1))
            })
            .collect();
        // Bags in parallel, at most one per core: each is independent given its split.
        let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
        let mut results: Vec<(Vec<Vec<f64>>, usize)> = Vec::new();
        for chunk in bags.chunks(threads) {
            let done: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|(t, v, seed)| {
                        s.spawn(|| {
                            boost_bag(
                                self,
                                (lr, smoothing, *seed),
                                &binned,
                                &n_bins,
                                &y,
                                objective,
                                &intercepts0,
                                t,
                                v,
                            )
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            results.extend(done);
        }
        if results.len() != self.outer_bags {
            return Err(Error::invalid("ebm", "a bag's worker thread panicked"));
        }
        let mut shapes: Vec<Vec<f64>> = n_bins.iter().map(|&b| vec![0.0; b * k]).collect();
        for (bag, _) in &results {
            for (s, b) in shapes.iter_mut().zip(bag) {
                s.iter_mut().zip(b).for_each(|(a, v)| *a += v / self.outer_bags as f64);
            }
        }
        let counts: Vec<Vec<f64>> = binned
            .iter()
            .zip(&n_bins)
            .map(|(col, &nb)| {
                let mut c = vec![0.0; nb];
                col.iter().for_each(|&b| c[b] += 1.0);
                c
            })
            .collect();
        // Centre each shape (per score) on the training rows; the means join
        // the intercepts.
        let mut intercepts = intercepts0;
        for (s, c) in shapes.iter_mut().zip(&counts) {
            for (class, intercept) in intercepts.iter_mut().enumerate() {
                let m = (0..c.len()).map(|b| s[b * k + class] * c[b]).sum::<f64>() / n as f64;
                (0..c.len()).for_each(|b| s[b * k + class] -= m);
                *intercept += m;
            }
        }
        let mut trees: Vec<Tree> = (0..bins.len())
            .map(|j| shape_tree(j, &bins[j], &shapes[j], &counts[j], k))
            .collect();
        let pairs = if self.interactions > 0 && bins.len() >= 2 {
            self.fit_pairs(data, &binned, &shapes, &intercepts, &y, objective, lr, &bags)?
        } else {
            Vec::new()
        };
        for p in &pairs {
            let (a, b) = p.features;
            let mut cell = vec![vec![0.0; p.bins.1.n_bins()]; p.bins.0.n_bins()];
            for i in 0..n {
                cell[p.bins.0.of(x[[i, a]])][p.bins.1.of(x[[i, b]])] += 1.0;
            }
            trees.push(pair_tree(p, &cell));
        }
        let spec = ModelSpec {
            signature: Signature {
                inputs: columns.to_vec(),
                unknown_category: Default::default(),
                task,
                accepts_missing: false,
            },
            preprocessing: vec![],
            estimator: Estimator::TreeEnsemble {
                trees,
                aggregation: Aggregation::Sum,
                base_values: intercepts.clone(),
                link,
            },
        };
        Ok(EbmModel {
            spec,
            intercepts,
            bins,
            shapes,
            counts,
            rounds: results.iter().map(|r| r.1).collect(),
            pairs,
        })
    }
}

impl Trainer for Ebm {
    fn name(&self) -> &str {
        "ebm"
    }

    fn params(&self) -> Vec<(String, String)> {
        vec![
            ("max_bins".into(), self.max_bins.to_string()),
            (
                "learning_rate".into(),
                self.learning_rate.map_or("auto".into(), |l| l.to_string()),
            ),
            ("max_leaves".into(), self.max_leaves.to_string()),
            (
                "smoothing_rounds".into(),
                self.smoothing_rounds.map_or("auto".into(), |r| r.to_string()),
            ),
            ("max_rounds".into(), self.max_rounds.to_string()),
            ("early_stopping_rounds".into(), self.early_stopping_rounds.to_string()),
            ("validation_size".into(), self.validation_size.to_string()),
            ("outer_bags".into(), self.outer_bags.to_string()),
            ("min_samples_leaf".into(), self.min_samples_leaf.to_string()),
            ("interactions".into(), self.interactions.to_string()),
            ("max_interaction_bins".into(), self.max_interaction_bins.to_string()),
            ("seed".into(), self.seed.to_string()),
        ]
    }

    fn fit(&self, data: &Dataset) -> ml_core::Result<Box<dyn Model>> {
        Ok(Box::new(self.fit_ebm(data)?))
    }
}
