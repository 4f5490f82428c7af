//! [`Pipeline`]: one-hot encoding, scaling and an estimator fitted as one unit.

use linfa::prelude::*;
use ml_core::ndarray::{Array2, ArrayView2};
use ml_core::{
    CalibrationInput, Dataset, Estimator, Model, ModelSpec, NeighborSearch, Predictions, Preprocess, Signature, Target,
    Task, Trainer, UnknownCategory,
};
use serde::{Deserialize, Serialize};

use crate::boosting::{BoostTarget, CategoricalFeatures, EarlyStopping, HistGradientBoosting};
use crate::bridge::{contiguous, view16};
use crate::calibration::{Calibration, CalibrationMethod};
use crate::error::{Error, Result, invalid};
use crate::kmeans::KMeans;
use crate::linear::{LinearRegression, LogisticRegression, Ridge, binary_spec, multinomial_spec, ols_spec};
use crate::naive_bayes::{NaiveBayes, design_names};
use crate::neighbors::KNeighbors;
use crate::preprocess::{
    ImputeStrategy, MinMaxScaler, OneHotEncoder, Pca, PolynomialFeatures, Scaling, SimpleImputer, StandardScaler,
};
#[cfg(feature = "privacy")]
use crate::private::{DpLogistic, parse_bounds, privacy_error, spent};
use crate::selection::PermutationSelection;
use crate::svm::{LinearSvm, SvmLoss};
use crate::tree::{DecisionTree, MaxFeatures, RandomForest, TreeTarget, fit_forest, fit_tree};

/// [`HistGradientBoosting`]'s parameters under scikit-learn's names.
const BOOSTING_PARAMS: &[&str] = &[
    "learning_rate",
    "max_iter",
    "max_leaf_nodes",
    "max_depth",
    "min_samples_leaf",
    "l2_regularization",
    "max_bins",
    "early_stopping",
    "validation_fraction",
    "n_iter_no_change",
    "tol",
    "n_threads",
    "categorical_features",
];

/// The estimator at the end of a pipeline, with its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum Algorithm {
    /// [`LogisticRegression`] (classification).
    Logistic(LogisticRegression),
    /// [`LinearRegression`] (regression).
    Linear(LinearRegression),
    /// [`Ridge`] (regression).
    Ridge(Ridge),
    /// [`DecisionTree`] (classification or regression).
    Tree(DecisionTree),
    /// [`RandomForest`] (classification or regression).
    Forest(RandomForest),
    /// [`HistGradientBoosting`] (classification or regression; missing
    /// values in the data are learned, not refused).
    Boosting(HistGradientBoosting),
    /// [`KMeans`] (clustering; the target, if any, is ignored).
    KMeans(KMeans),
    /// [`KNeighbors`] (classification or regression).
    Knn(KNeighbors),
    /// [`NaiveBayes`] (classification).
    NaiveBayes(NaiveBayes),
    /// [`LinearSvm`] (classification).
    LinearSvm(LinearSvm),
    /// [`DpLogistic`] (binary classification with differential privacy;
    /// feature `privacy`).
    #[cfg(feature = "privacy")]
    DpLogistic(DpLogistic),
}

impl Algorithm {
    /// The names the CLI and [`Pipeline::from_params`] accept.
    #[cfg(not(feature = "privacy"))]
    pub const NAMES: &'static [&'static str] = &[
        "logistic",
        "linear",
        "ridge",
        "tree",
        "forest",
        "hgb",
        "kmeans",
        "knn",
        "naive_bayes",
        "linear_svm",
    ];
    /// The names the CLI and [`Pipeline::from_params`] accept.
    #[cfg(feature = "privacy")]
    pub const NAMES: &'static [&'static str] = &[
        "logistic",
        "linear",
        "ridge",
        "tree",
        "forest",
        "hgb",
        "kmeans",
        "knn",
        "naive_bayes",
        "linear_svm",
        "dp_logistic",
    ];

    /// The algorithm's name.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Logistic(_) => "logistic",
            Algorithm::Linear(_) => "linear",
            Algorithm::Ridge(_) => "ridge",
            Algorithm::Tree(_) => "tree",
            Algorithm::Forest(_) => "forest",
            Algorithm::Boosting(_) => "hgb",
            Algorithm::KMeans(_) => "kmeans",
            Algorithm::Knn(_) => "knn",
            Algorithm::NaiveBayes(_) => "naive_bayes",
            Algorithm::LinearSvm(_) => "linear_svm",
            #[cfg(feature = "privacy")]
            Algorithm::DpLogistic(_) => "dp_logistic",
        }
    }

    /// The hyper-parameters [`Pipeline::from_params`] takes for this
    /// algorithm, besides `scale` and `unknown`, which every one takes.
    pub fn param_names(&self) -> &'static [&'static str] {
        const TREE: &[&str] = &["max_depth", "min_samples_split", "min_samples_leaf", "max_features"];
        match self {
            Algorithm::Logistic(_) => &["c", "max_iter", "tol"],
            Algorithm::Linear(_) => &[],
            Algorithm::Ridge(_) => &["alpha"],
            Algorithm::Tree(_) => TREE,
            Algorithm::Boosting(_) => BOOSTING_PARAMS,
            Algorithm::Forest(_) => &[
                "n_trees",
                "bootstrap",
                "max_depth",
                "min_samples_split",
                "min_samples_leaf",
                "max_features",
            ],
            Algorithm::KMeans(_) => &["n_clusters", "n_init", "max_iter", "tol"],
            Algorithm::Knn(_) => &["n_neighbors", "weights", "algorithm", "leaf_size"],
            Algorithm::NaiveBayes(_) => &["distribution", "var_smoothing", "alpha"],
            Algorithm::LinearSvm(_) => &["c", "loss", "tol", "max_iter"],
            #[cfg(feature = "privacy")]
            Algorithm::DpLogistic(_) => &[
                "epsilon",
                "delta",
                "lambda",
                "bounds",
                "bounds.COLUMN",
                "row_scale",
                "insecure_seed",
            ],
        }
    }

    /// The scaling a pipeline uses unless told otherwise: standard for linear
    /// models (it conditions the solver), none for trees (splits are scale-free)
    /// and k-means (scaling would change the clustering objective), none for
    /// private models (they scale by public bounds; scaling fitted on the
    /// data would not be private).
    pub fn default_scaling(&self) -> Scaling {
        match self {
            Algorithm::Logistic(_) | Algorithm::Linear(_) | Algorithm::Ridge(_) | Algorithm::LinearSvm(_) => {
                Scaling::Standard
            }
            _ => Scaling::None,
        }
    }
}

/// The keys every algorithm takes in [`Pipeline::from_params`].
const COMMON_PARAMS: &[&str] = &[
    "scale",
    "unknown",
    "impute",
    "fill_value",
    "add_indicator",
    "pca",
    "polynomial",
    "interaction_only",
    "columns",
    "calibration",
    "calibration_cv",
    "calibration_ensemble",
    "select_features",
    "select_repeats",
    "select_cv",
];

/// A pipeline trainer: optional imputation of missing values, one-hot
/// encoding of categorical columns, optional scaling, and an [`Algorithm`].
///
/// Data with missing values (NaN) is refused, naming the column, unless the
/// pipeline imputes them ([`Pipeline::impute`]) or the algorithm takes them
/// (`hgb`, which learns a direction for them at each split).
///
/// ```
/// use ml_learn::{Algorithm, LogisticRegression, Pipeline};
/// use ml_core::{Model, Trainer};
/// let data = ml_datasets::load("iris")?;
/// let model = Pipeline::new(Algorithm::Logistic(LogisticRegression::default())).fit(&data)?;
/// let pred = model.predict(data.features())?;
/// assert_eq!(pred.len(), 150);
/// # Ok::<(), ml_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// The estimator.
    pub algorithm: Algorithm,
    /// The scaler, applied after one-hot encoding (indicator columns pass through).
    pub scaling: Scaling,
    /// What prediction does with a category unseen in training.
    pub unknown_category: UnknownCategory,
    /// The imputer in front of everything, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impute: Option<SimpleImputer>,
    /// Principal components after scaling, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pca: Option<Pca>,
    /// Polynomial features after one-hot encoding (before scaling), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polynomial: Option<PolynomialFeatures>,
    /// The feature columns the model takes, by name, in this order (a
    /// column selector; `None`: all of them). The model's signature lists
    /// only these, so prediction needs only these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// Cross-validated probability calibration of the classifier, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// Feature selection by permutation importance before the final fit,
    /// if any (it chooses `columns` among the candidates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<PermutationSelection>,
}

/// A parameter `key` that configures `what` is refused without the one
/// that turns it on (`main`).
fn configures(main_given: bool, given: bool, key: &str, what: &str, main: &str) -> Result<()> {
    if given && !main_given {
        return Err(invalid(key, format!("configures {what}: give {main} too")));
    }
    Ok(())
}

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| invalid(key, format!("'{value}' is not a valid value")))
}

impl Pipeline {
    /// A pipeline with the algorithm's default scaling.
    pub fn new(algorithm: Algorithm) -> Self {
        Self {
            scaling: algorithm.default_scaling(),
            algorithm,
            unknown_category: UnknownCategory::Error,
            impute: None,
            pca: None,
            polynomial: None,
            columns: None,
            calibration: None,
            select: None,
        }
    }

    /// Build from an algorithm name and `key=value` parameters, as the CLI
    /// takes them. Keys: `scale` (none|standard|minmax), `unknown`
    /// (error|ignore), `impute` (mean|median|most_frequent|constant, a
    /// [`SimpleImputer`] in front), `fill_value` (for `constant`, default 0)
    /// `add_indicator` (true|false), `polynomial` (a degree: products of
    /// the columns after one-hot encoding, as [`PolynomialFeatures`]) with
    /// `interaction_only` (true|false), `pca` (a number of principal
    /// components, taken after scaling) and `columns` (`a,b,c`: the feature
    /// columns the model takes), `calibration` (sigmoid|isotonic) with
    /// `calibration_cv`, and `select_features` (keep that many columns, by
    /// permutation importance, [`crate::select_features`]) with
    /// `select_repeats` and `select_cv` for every model; `c`, `max_iter`, `tol` (logistic);
    /// `alpha` (ridge); `max_depth`, `min_samples_split`, `min_samples_leaf`,
    /// `max_features` (tree, forest); `n_trees` (alias `n_estimators`),
    /// `bootstrap` (forest); `n_clusters` (alias `k`), `n_init`, `max_iter`,
    /// `tol` (kmeans); with feature `privacy`, `epsilon`, `delta`, `lambda`,
    /// `row_scale`, `insecure_seed`, `bounds=LO:HI` (every numeric column)
    /// and `bounds.COLUMN=LO:HI` (dp_logistic). `seed` sets the seed of the
    /// random algorithms (never a private model's noise).
    ///
    /// # Errors
    /// An unknown algorithm or key, a value that does not parse or is out of range.
    pub fn from_params(name: &str, params: &[(String, String)], seed: Option<u64>) -> Result<Self> {
        let seed = seed.unwrap_or(0);
        let mut algorithm = match name {
            "logistic" => Algorithm::Logistic(LogisticRegression::default()),
            "linear" => Algorithm::Linear(LinearRegression::default()),
            "ridge" => Algorithm::Ridge(Ridge::default()),
            "tree" => Algorithm::Tree(DecisionTree {
                seed,
                ..DecisionTree::default()
            }),
            "forest" => Algorithm::Forest(RandomForest {
                seed,
                ..RandomForest::default()
            }),
            "kmeans" => Algorithm::KMeans(KMeans {
                seed,
                ..KMeans::default()
            }),
            "hgb" => Algorithm::Boosting(HistGradientBoosting {
                seed,
                ..HistGradientBoosting::default()
            }),
            "knn" => Algorithm::Knn(KNeighbors::default()),
            // The distribution is read first: `alpha` and `var_smoothing`
            // belong to one of them.
            "naive_bayes" => Algorithm::NaiveBayes(match params.iter().find(|(k, _)| k == "distribution") {
                None => NaiveBayes::default(),
                Some((_, d)) if d == "gaussian" => NaiveBayes::default(),
                Some((_, d)) if d == "multinomial" => NaiveBayes::Multinomial { alpha: 1.0 },
                Some((_, d)) => {
                    return Err(invalid(
                        "distribution",
                        format!("'{d}': expected gaussian or multinomial"),
                    ));
                }
            }),
            "linear_svm" => Algorithm::LinearSvm(LinearSvm {
                seed,
                ..LinearSvm::default()
            }),
            // `seed` does not reach the noise: a private model's noise is
            // seeded only by the explicit `insecure_seed`.
            #[cfg(feature = "privacy")]
            "dp_logistic" | "dp-logistic" => Algorithm::DpLogistic(DpLogistic::default()),
            _ => {
                return Err(invalid(
                    "model",
                    format!("unknown model '{name}' (known: {})", Algorithm::NAMES.join(", ")),
                ));
            }
        };
        let mut scaling = None;
        let mut unknown_category = UnknownCategory::Error;
        let (mut impute, mut fill_value, mut add_indicator) = (None, None, None);
        let mut pca = None;
        let (mut degree, mut interaction_only, mut columns) = (None, None, None);
        let (mut calibration, mut calibration_cv, mut calibration_ensemble) = (None, None, None);
        let (mut select_features, mut select_repeats, mut select_cv) = (None, None, None);
        for (key, value) in params {
            let (k, v) = (key.as_str(), value.as_str());
            match (&mut algorithm, k) {
                (_, "scale") => scaling = Some(Scaling::parse(v)?),
                (_, "impute") => impute = Some(v),
                (_, "fill_value") => fill_value = Some(parse::<f64>(k, v)?),
                (_, "add_indicator") => add_indicator = Some(parse::<bool>(k, v)?),
                (_, "polynomial") => degree = Some(parse::<usize>(k, v)?),
                (_, "calibration") => calibration = Some(CalibrationMethod::parse(v)?),
                (_, "calibration_cv") => calibration_cv = Some(parse::<usize>(k, v)?),
                (_, "calibration_ensemble") => calibration_ensemble = Some(parse::<bool>(k, v)?),
                (_, "select_features") => select_features = Some(parse::<usize>(k, v)?),
                (_, "select_repeats") => select_repeats = Some(parse::<usize>(k, v)?),
                (_, "select_cv") => select_cv = Some(parse::<usize>(k, v)?),
                (_, "interaction_only") => interaction_only = Some(parse::<bool>(k, v)?),
                (_, "columns") => {
                    columns = Some(v.split(',').map(|c| c.trim().to_string()).collect::<Vec<_>>());
                }
                (_, "pca") => {
                    pca = Some(Pca {
                        n_components: parse(k, v)?,
                    });
                }
                (_, "unknown") => {
                    unknown_category = match v {
                        "error" => UnknownCategory::Error,
                        "ignore" => UnknownCategory::Ignore,
                        _ => return Err(invalid("unknown", format!("'{v}': expected error or ignore"))),
                    }
                }
                (Algorithm::Logistic(p), "c") => p.c = parse(k, v)?,
                (Algorithm::Logistic(p), "max_iter") => p.max_iter = parse(k, v)?,
                (Algorithm::Logistic(p), "tol") => p.tol = parse(k, v)?,
                (Algorithm::Ridge(p), "alpha") => p.alpha = parse(k, v)?,
                (Algorithm::Tree(t) | Algorithm::Forest(RandomForest { tree: t, .. }), _)
                    if matches!(
                        k,
                        "max_depth" | "min_samples_split" | "min_samples_leaf" | "max_features"
                    ) =>
                {
                    match k {
                        "max_depth" => t.max_depth = if v == "none" { None } else { Some(parse(k, v)?) },
                        "min_samples_split" => t.min_samples_split = parse(k, v)?,
                        "min_samples_leaf" => t.min_samples_leaf = parse(k, v)?,
                        _ => t.max_features = Some(MaxFeatures::parse(v)?),
                    }
                }
                (Algorithm::Forest(f), "n_trees" | "n_estimators") => f.n_trees = parse(k, v)?,
                (Algorithm::Boosting(b), _) if BOOSTING_PARAMS.contains(&k) => match k {
                    "learning_rate" => b.learning_rate = parse(k, v)?,
                    "max_iter" => b.max_iter = parse(k, v)?,
                    "max_leaf_nodes" => b.max_leaf_nodes = if v == "none" { None } else { Some(parse(k, v)?) },
                    "max_depth" => b.max_depth = if v == "none" { None } else { Some(parse(k, v)?) },
                    "min_samples_leaf" => b.min_samples_leaf = parse(k, v)?,
                    "l2_regularization" => b.l2_regularization = parse(k, v)?,
                    "max_bins" => b.max_bins = parse(k, v)?,
                    "early_stopping" => b.early_stopping = EarlyStopping::parse(v)?,
                    "validation_fraction" => b.validation_fraction = parse(k, v)?,
                    "n_iter_no_change" => b.n_iter_no_change = parse(k, v)?,
                    "n_threads" => b.n_threads = parse(k, v)?,
                    "categorical_features" => b.categorical_features = CategoricalFeatures::parse(v)?,
                    _ => b.tol = parse(k, v)?,
                },
                (Algorithm::Forest(f), "bootstrap") => f.bootstrap = parse(k, v)?,
                (Algorithm::Knn(m), "n_neighbors" | "k") => m.n_neighbors = parse(k, v)?,
                (Algorithm::Knn(m), "leaf_size") => m.leaf_size = parse(k, v)?,
                (Algorithm::Knn(m), "algorithm") => {
                    m.search = NeighborSearch::parse(v)
                        .ok_or_else(|| invalid(k, format!("'{v}': expected auto, kd_tree or brute")))?;
                }
                (Algorithm::Knn(m), "weights") => {
                    m.distance_weighted = match v {
                        "uniform" => false,
                        "distance" => true,
                        _ => return Err(invalid(k, format!("'{v}': expected uniform or distance"))),
                    }
                }
                (Algorithm::NaiveBayes(_), "distribution") => {}
                (Algorithm::NaiveBayes(NaiveBayes::Gaussian { var_smoothing }), "var_smoothing") => {
                    *var_smoothing = parse(k, v)?;
                }
                (Algorithm::NaiveBayes(NaiveBayes::Multinomial { alpha }), "alpha") => *alpha = parse(k, v)?,
                (Algorithm::NaiveBayes(_), "var_smoothing" | "alpha") => {
                    return Err(invalid(
                        k,
                        "var_smoothing belongs to distribution=gaussian, alpha to distribution=multinomial",
                    ));
                }
                (Algorithm::LinearSvm(m), "c") => m.c = parse(k, v)?,
                (Algorithm::LinearSvm(m), "tol") => m.tol = parse(k, v)?,
                (Algorithm::LinearSvm(m), "max_iter") => m.max_iter = parse(k, v)?,
                (Algorithm::LinearSvm(m), "loss") => {
                    m.loss = match v {
                        "hinge" => SvmLoss::Hinge,
                        "squared_hinge" => SvmLoss::SquaredHinge,
                        _ => return Err(invalid(k, format!("'{v}': expected hinge or squared_hinge"))),
                    }
                }
                (Algorithm::KMeans(m), "n_clusters" | "k") => m.n_clusters = parse(k, v)?,
                (Algorithm::KMeans(m), "n_init") => m.n_init = parse(k, v)?,
                (Algorithm::KMeans(m), "max_iter") => m.max_iter = parse(k, v)?,
                (Algorithm::KMeans(m), "tol") => m.tol = parse(k, v)?,
                #[cfg(feature = "privacy")]
                (Algorithm::DpLogistic(p), _) if k == "bounds" || k.starts_with("bounds.") => {
                    match k.strip_prefix("bounds.") {
                        Some(col) => {
                            p.bounds.insert(col.to_string(), parse_bounds(k, v)?);
                        }
                        None => p.default_bounds = Some(parse_bounds(k, v)?),
                    }
                }
                #[cfg(feature = "privacy")]
                (Algorithm::DpLogistic(p), "epsilon") => p.epsilon = parse(k, v)?,
                #[cfg(feature = "privacy")]
                (Algorithm::DpLogistic(p), "delta") => p.delta = parse(k, v)?,
                #[cfg(feature = "privacy")]
                (Algorithm::DpLogistic(p), "lambda") => p.lambda = parse(k, v)?,
                #[cfg(feature = "privacy")]
                (Algorithm::DpLogistic(p), "row_scale") => p.row_scale = Some(parse(k, v)?),
                #[cfg(feature = "privacy")]
                (Algorithm::DpLogistic(p), "insecure_seed") => p.insecure_seed = Some(parse(k, v)?),
                (a, _) => {
                    return Err(invalid(
                        k,
                        format!(
                            "not a parameter of '{}' (known: {})",
                            a.name(),
                            COMMON_PARAMS
                                .iter()
                                .chain(a.param_names())
                                .copied()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
        }
        let mut p = Self::new(algorithm);
        if let Some(s) = scaling {
            p.scaling = s;
        }
        p.unknown_category = unknown_category;
        p.pca = pca;
        p.columns = columns;
        configures(
            calibration.is_some(),
            calibration_cv.is_some(),
            "calibration_cv",
            "calibration",
            "calibration=sigmoid|isotonic",
        )?;
        configures(
            calibration.is_some(),
            calibration_ensemble.is_some(),
            "calibration_ensemble",
            "calibration",
            "calibration=sigmoid|isotonic",
        )?;
        p.calibration = calibration.map(|method| Calibration {
            method,
            cv: calibration_cv.unwrap_or(5),
            ensemble: calibration_ensemble.unwrap_or(false),
        });
        for (given, key) in [
            (select_repeats.is_some(), "select_repeats"),
            (select_cv.is_some(), "select_cv"),
        ] {
            configures(
                select_features.is_some(),
                given,
                key,
                "feature selection",
                "select_features=K",
            )?;
        }
        p.select = select_features.map(|n| PermutationSelection {
            n_features: n,
            n_repeats: select_repeats.unwrap_or(5),
            cv: select_cv.unwrap_or(5),
            seed,
        });
        configures(
            degree.is_some(),
            interaction_only.is_some(),
            "interaction_only",
            "polynomial features",
            "polynomial=DEGREE",
        )?;
        p.polynomial = degree.map(|degree| PolynomialFeatures {
            degree,
            interaction_only: interaction_only.unwrap_or(false),
        });
        p.impute = match (impute, fill_value, add_indicator) {
            (Some(s), fill, indicator) => Some(SimpleImputer {
                strategy: ImputeStrategy::parse(s, fill)?,
                add_indicator: indicator.unwrap_or(false),
            }),
            (None, None, None) => None,
            (None, ..) => {
                return Err(invalid(
                    "impute",
                    "fill_value and add_indicator configure the imputer: give impute=mean|median|most_frequent|constant too",
                ));
            }
        };
        p.validate().map_err(|e| match e {
            // A refusal names the key as the user spelled it (`k` for
            // `n_clusters` or `n_neighbors`).
            crate::Error::Core(ml_core::Error::InvalidParameter { name, reason })
                if (name == "n_clusters" || name == "n_neighbors") && params.iter().any(|(k, _)| k == "k") =>
            {
                invalid("k", reason)
            }
            e => e,
        })?;
        Ok(p)
    }

    /// Check all hyper-parameters.
    ///
    /// # Errors
    /// The first invalid one.
    pub fn validate(&self) -> Result<()> {
        if let Some(imputer) = &self.impute {
            imputer.validate()?;
        }
        if let Some(poly) = &self.polynomial {
            poly.validate()?;
        }
        if let Some(c) = &self.calibration {
            c.validate()?;
            match &self.algorithm {
                Algorithm::Linear(_) | Algorithm::Ridge(_) | Algorithm::KMeans(_) => {
                    return Err(invalid(
                        "calibration",
                        format!(
                            "calibrates classifiers' probabilities; '{}' is not one",
                            self.algorithm.name()
                        ),
                    ));
                }
                #[cfg(feature = "privacy")]
                Algorithm::DpLogistic(_) => {
                    return Err(invalid(
                        "calibration",
                        "calibrators fitted on the data would not be private",
                    ));
                }
                _ => {}
            }
        }
        if let Some(sel) = &self.select {
            sel.validate()?;
            match &self.algorithm {
                Algorithm::KMeans(_) => {
                    return Err(invalid(
                        "select_features",
                        "selects by the drop of a score against a target; k-means has none",
                    ));
                }
                #[cfg(feature = "privacy")]
                Algorithm::DpLogistic(_) => {
                    return Err(invalid(
                        "select_features",
                        "columns chosen by scores on the data would not be private",
                    ));
                }
                _ => {}
            }
        }
        if let Some(columns) = &self.columns {
            if columns.iter().any(String::is_empty) {
                return Err(invalid("columns", "an empty column name (columns=a,b,c)"));
            }
            if let Some(c) = columns.iter().enumerate().find(|(i, c)| columns[..*i].contains(c)) {
                return Err(invalid("columns", format!("'{}' is selected twice", c.1)));
            }
        }
        match &self.algorithm {
            Algorithm::Logistic(p) => p.validate(),
            Algorithm::Linear(_) => Ok(()),
            Algorithm::Ridge(p) => p.validate(),
            Algorithm::Tree(p) => p.validate(),
            Algorithm::Forest(p) => p.validate(),
            Algorithm::Boosting(p) => p.validate(),
            Algorithm::KMeans(p) => p.validate(),
            Algorithm::Knn(p) => p.validate(),
            Algorithm::NaiveBayes(p) => p.validate(),
            Algorithm::LinearSvm(p) => p.validate(),
            #[cfg(feature = "privacy")]
            Algorithm::DpLogistic(_) if self.pca.is_some() => Err(invalid(
                "pca",
                "principal components fitted on the data would not be private",
            )),
            #[cfg(feature = "privacy")]
            Algorithm::DpLogistic(_) if self.polynomial.is_some() => Err(invalid(
                "polynomial",
                "a private model's bounds hold for its input columns, not for their products",
            )),
            #[cfg(feature = "privacy")]
            Algorithm::DpLogistic(p) => {
                if let Some(imp) = &self.impute
                    && (imp.add_indicator || !matches!(imp.strategy, ImputeStrategy::Constant { .. }))
                {
                    return Err(invalid(
                        "impute",
                        "a private model can only impute a constant without indicators: statistics of the data would not be private",
                    ));
                }
                if self.scaling != Scaling::None {
                    return Err(invalid(
                        "scale",
                        "a private model scales by its public bounds; scaling fitted on the data would not be private",
                    ));
                }
                p.validate()
            }
        }
    }

    /// The hyper-parameters as `(name, value)` strings (for trackers).
    pub fn param_list(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("model".to_string(), self.algorithm.name().to_string()),
            ("scale".to_string(), format!("{:?}", self.scaling).to_lowercase()),
            (
                "unknown".to_string(),
                format!("{:?}", self.unknown_category).to_lowercase(),
            ),
        ];
        if let Some(imp) = &self.impute {
            out.push(("impute".into(), imp.strategy.name().into()));
            if let ImputeStrategy::Constant { fill_value } = imp.strategy {
                out.push(("fill_value".into(), fill_value.to_string()));
            }
            out.push(("add_indicator".into(), imp.add_indicator.to_string()));
        }
        if let Some(p) = &self.pca {
            out.push(("pca".into(), p.n_components.to_string()));
        }
        if let Some(p) = &self.polynomial {
            out.push(("polynomial".into(), p.degree.to_string()));
            out.push(("interaction_only".into(), p.interaction_only.to_string()));
        }
        if let Some(c) = &self.columns {
            out.push(("columns".into(), c.join(",")));
        }
        if let Some(c) = &self.calibration {
            out.push(("calibration".into(), c.method.name().into()));
            out.push(("calibration_cv".into(), c.cv.to_string()));
            out.push(("calibration_ensemble".into(), c.ensemble.to_string()));
        }
        if let Some(s) = &self.select {
            out.push(("select_features".into(), s.n_features.to_string()));
            out.push(("select_repeats".into(), s.n_repeats.to_string()));
            out.push(("select_cv".into(), s.cv.to_string()));
        }
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&self.algorithm) {
            flatten("", &map, &mut out);
        }
        out
    }

    /// Fit the pipeline.
    ///
    /// # Errors
    /// A target that does not suit the algorithm, sample weights the algorithm
    /// cannot use, a numerical failure.
    pub fn fit_pipeline(&self, data: &Dataset) -> Result<FittedPipeline> {
        self.validate()?;
        if let Some(selection) = self.select {
            let chosen = crate::selection::select_features(self, data, selection)?;
            let refit = Pipeline {
                select: None,
                columns: Some(chosen.selected),
                ..self.clone()
            };
            let mut fitted = refit.fit_pipeline(data)?;
            fitted.params = self.param_list();
            return Ok(fitted);
        }
        if let Some(calibration) = &self.calibration {
            return self.fit_calibrated(data, *calibration);
        }
        let selected;
        let data = match &self.columns {
            Some(columns) => {
                selected = data.select_columns(columns)?;
                &selected
            }
            None => data,
        };
        let task = match (&self.algorithm, data.target()) {
            (Algorithm::KMeans(k), _) => Task::Clustering {
                n_clusters: k.n_clusters,
            },
            (
                Algorithm::Logistic(_) | Algorithm::NaiveBayes(_) | Algorithm::LinearSvm(_),
                Some(Target::Classes { names, .. }),
            ) => Task::Classification { classes: names.clone() },
            #[cfg(feature = "privacy")]
            (Algorithm::DpLogistic(_), Some(Target::Classes { names, .. })) => {
                Task::Classification { classes: names.clone() }
            }
            (Algorithm::Linear(_) | Algorithm::Ridge(_), Some(Target::Values { .. })) => Task::Regression,
            (Algorithm::Tree(_) | Algorithm::Forest(_) | Algorithm::Boosting(_) | Algorithm::Knn(_), Some(t)) => {
                match t {
                    Target::Classes { names, .. } => Task::Classification { classes: names.clone() },
                    Target::Values { .. } => Task::Regression,
                }
            }
            (a, None) => return Err(invalid("target", format!("'{}' needs a target column", a.name()))),
            (a, Some(_)) => {
                let need = if matches!(a.name(), "logistic" | "dp_logistic" | "naive_bayes" | "linear_svm") {
                    "class labels"
                } else {
                    "real values"
                };
                return Err(invalid(
                    "target",
                    format!("'{}' needs {need} as target (try --task)", a.name()),
                ));
            }
        };
        let weights = data.weights().map(|w| w.to_vec());
        if weights.is_some()
            && !matches!(
                self.algorithm,
                Algorithm::Tree(_) | Algorithm::Forest(_) | Algorithm::Boosting(_)
            )
        {
            return Err(Error::Core(ml_core::Error::Unsupported(format!(
                "'{}' does not take sample weights (trees, forests and boosting do)",
                self.algorithm.name()
            ))));
        }
        // Boosting routes missing values itself; anything else needs them imputed.
        let routes_missing = matches!(self.algorithm, Algorithm::Boosting(_));
        if self.impute.is_none() && !routes_missing {
            data.require_complete(self.algorithm.name())?;
        }
        let signature = Signature {
            inputs: data.columns().to_vec(),
            unknown_category: self.unknown_category,
            task,
            accepts_missing: self.impute.is_some() || routes_missing,
        };
        let mut steps = Vec::new();
        let mut x: Array2<f64> = data.features().to_owned();
        let mut n_flags = 0;
        if let Some(imputer) = &self.impute {
            let step = imputer.fit(x.view(), data.columns())?;
            x = step.apply(x.view())?;
            n_flags = x.ncols() - data.n_features();
            steps.push(step);
        }
        // Boosting splits categorical columns natively unless told to
        // one-hot encode them; the codes must then reach it unchanged.
        let native = match &self.algorithm {
            Algorithm::Boosting(b) if b.categorical_features == CategoricalFeatures::FromDtype => {
                let categorical: Vec<bool> = data
                    .columns()
                    .iter()
                    .map(|c| matches!(c.kind, ml_core::FeatureKind::Categorical { .. }))
                    .chain(std::iter::repeat_n(false, n_flags))
                    .collect();
                categorical.contains(&true).then_some(categorical)
            }
            _ => None,
        };
        if native.is_some() && (self.scaling != Scaling::None || self.polynomial.is_some() || self.pca.is_some()) {
            return Err(invalid(
                "categorical_features",
                "native categorical splits take the category codes as they are: give categorical_features=onehot to scale, multiply or project categorical columns",
            ));
        }
        if native.is_none()
            && let Some(step) = OneHotEncoder::fit(data.columns())
        {
            x = step.apply(x.view())?;
            steps.push(step);
        }
        let before_polynomial = x.ncols();
        if let Some(poly) = &self.polynomial {
            let step = poly.step(x.ncols())?;
            x = step.apply(x.view())?;
            steps.push(step);
        }
        let scaler = match self.scaling {
            Scaling::None => None,
            Scaling::Standard => {
                // Indicator columns (one-hot and missing flags) stay 0/1.
                let mut keep = OneHotEncoder::indicator_mask(data.columns());
                keep.extend(std::iter::repeat_n(true, n_flags));
                // Products are scaled like any column.
                keep.extend(std::iter::repeat_n(false, x.ncols() - before_polynomial));
                Some(StandardScaler::fit(x.view(), &keep)?)
            }
            Scaling::MinMax => Some(MinMaxScaler::fit(x.view())?),
        };
        if let Some(step) = scaler {
            x = step.apply(x.view())?;
            steps.push(step);
        }
        if let Some(pca) = &self.pca {
            let step = pca.fit(x.view())?.step;
            x = step.apply(x.view())?;
            steps.push(step);
        }
        #[cfg_attr(not(feature = "privacy"), allow(unused_mut))]
        let mut privacy = None;
        let estimator = match (&self.algorithm, data.target()) {
            (Algorithm::KMeans(k), _) => FittedEstimator::Own(k.fit_design(x.view())?),
            #[cfg(feature = "privacy")]
            (Algorithm::DpLogistic(p), Some(Target::Classes { labels, names })) => {
                let fitted = p
                    .trainer(data.columns())?
                    .fit_matrix(x.view(), &labels.to_vec(), names.len())
                    .map_err(privacy_error)?;
                privacy = Some(spent(fitted.loss)?);
                steps.push(fitted.scaling);
                FittedEstimator::Own(fitted.estimator)
            }
            (Algorithm::Logistic(p), Some(Target::Classes { labels, names })) => {
                p.fit_design(x.view(), labels.as_slice().unwrap_or(&labels.to_vec()), names.len())?
            }
            (Algorithm::Linear(p), Some(Target::Values { values })) => p.fit_design(x.view(), values.view())?,
            (Algorithm::Ridge(p), Some(Target::Values { values })) => p.fit_design(x.view(), values.view())?,
            (Algorithm::NaiveBayes(nb), Some(Target::Classes { labels, names })) => {
                let (step, est) = nb.fit_design(
                    x.view(),
                    &labels.to_vec(),
                    names.len(),
                    &design_names(data.columns(), x.ncols()),
                )?;
                steps.extend(step);
                FittedEstimator::Own(est)
            }
            (Algorithm::LinearSvm(svm), Some(Target::Classes { labels, names })) => {
                FittedEstimator::Own(svm.fit_design(x.view(), &labels.to_vec(), names.len())?)
            }
            (Algorithm::Tree(_) | Algorithm::Forest(_) | Algorithm::Knn(_), Some(t)) => {
                let labels;
                let values;
                let target = match t {
                    Target::Classes { labels: l, names } => {
                        labels = l.to_vec();
                        TreeTarget::Classes {
                            labels: &labels,
                            n_classes: names.len(),
                        }
                    }
                    Target::Values { values: v } => {
                        values = v.to_vec();
                        TreeTarget::Values(&values)
                    }
                };
                let est = match &self.algorithm {
                    Algorithm::Tree(p) => fit_tree(x.view(), target, weights.as_deref(), p)?,
                    Algorithm::Forest(p) => fit_forest(x.view(), target, weights.as_deref(), p)?,
                    Algorithm::Knn(p) => p.fit_design(x.view(), target)?,
                    _ => unreachable!("matched above"),
                };
                FittedEstimator::Own(est)
            }
            (Algorithm::Boosting(b), Some(t)) => {
                let categorical = native.as_deref().unwrap_or(&[]);
                let (est, _) = match t {
                    Target::Classes { labels, names } => b.fit_categorical(
                        x.view(),
                        BoostTarget::Classes {
                            labels: &labels.to_vec(),
                            n_classes: names.len(),
                        },
                        weights.as_deref(),
                        categorical,
                    )?,
                    Target::Values { values } => b.fit_categorical(
                        x.view(),
                        BoostTarget::Values(&values.to_vec()),
                        weights.as_deref(),
                        categorical,
                    )?,
                };
                FittedEstimator::Own(est)
            }
            _ => unreachable!("task checked above"),
        };
        Ok(FittedPipeline {
            signature,
            steps,
            estimator,
            trainer: self.algorithm.name().to_string(),
            params: self.param_list(),
            privacy,
            compiled: std::sync::OnceLock::new(),
        })
    }

    /// The classifier refitted on every row with calibrators fitted on its
    /// cross-validated scores (see [`crate::calibration`]).
    fn fit_calibrated(&self, data: &Dataset, calibration: Calibration) -> Result<FittedPipeline> {
        let Some(Target::Classes { labels, names }) = data.target() else {
            return Err(invalid("calibration", "needs class labels as target"));
        };
        let base = Pipeline {
            calibration: None,
            ..self.clone()
        };
        // The scores scikit-learn reads: decision values where the
        // classifier has them, else probabilities.
        let input = match self.algorithm {
            Algorithm::Logistic(_) | Algorithm::LinearSvm(_) | Algorithm::Boosting(_) => CalibrationInput::Decision,
            _ => CalibrationInput::Probability,
        };
        let k = names.len();
        let width = if k == 2 { 1 } else { k };
        // One calibrator per scored column, fitted to that column's class.
        let fit_calibrators = |scores: &Array2<f64>, labels: &[usize]| {
            (0..width)
                .map(|c| {
                    let positive = if k == 2 { 1 } else { c };
                    let targets: Vec<bool> = labels.iter().map(|&l| l == positive).collect();
                    calibration.method.fit(&scores.column(c).to_vec(), &targets)
                })
                .collect::<Result<Vec<_>>>()
        };
        let mut scores = Array2::<f64>::zeros((data.n_samples(), width));
        let mut members = Vec::new();
        for fold in ml_core::KFold::new(calibration.cv).stratified(true).split(data)? {
            let model = base.fit_pipeline(&data.select_rows(&fold.train)?)?;
            let test = data.select_rows(&fold.test)?;
            let test = test.aligned_to(&model.signature().inputs)?;
            let held_out = scores_for(&model, test.features(), input, width)?;
            if calibration.ensemble {
                // This fold's classifier with calibrators of its own held-out scores.
                let fold_labels: Vec<usize> = fold.test.iter().map(|&i| labels[i]).collect();
                let mut member = model.spec();
                member.estimator = Estimator::Calibrated {
                    base: Box::new(member.estimator),
                    input,
                    calibrators: fit_calibrators(&held_out, &fold_labels)?,
                };
                members.push(member);
                continue;
            }
            for (r, &i) in fold.test.iter().enumerate() {
                scores.row_mut(i).assign(&held_out.row(r));
            }
        }
        if calibration.ensemble {
            let Some(first) = members.first() else {
                return Err(invalid("calibration_cv", "no folds"));
            };
            return Ok(FittedPipeline {
                signature: first.signature.clone(),
                steps: Vec::new(),
                estimator: FittedEstimator::Own(Estimator::Averaged { members }),
                trainer: self.algorithm.name().to_string(),
                params: self.param_list(),
                privacy: None,
                compiled: std::sync::OnceLock::new(),
            });
        }
        let calibrators = fit_calibrators(&scores, &labels.to_vec())?;
        let mut fitted = base.fit_pipeline(data)?;
        fitted.estimator = FittedEstimator::Own(Estimator::Calibrated {
            base: Box::new(fitted.estimator.to_spec()),
            input,
            calibrators,
        });
        fitted.params = self.param_list();
        Ok(fitted)
    }
}

/// A fitted classifier's scores for calibration: its raw outputs or its
/// probabilities, the positive class's alone for two classes (`width` 1).
fn scores_for(
    model: &FittedPipeline,
    x: ArrayView2<'_, f64>,
    input: CalibrationInput,
    width: usize,
) -> Result<Array2<f64>> {
    let spec = model.spec();
    let all = match input {
        CalibrationInput::Decision => spec.estimator.raw_output(spec.transform(x)?.view()),
        CalibrationInput::Probability => match model.predict(x)? {
            Predictions::Classification {
                probabilities: Some(p), ..
            } => p,
            _ => return Err(invalid("calibration", "the classifier gives no probabilities")),
        },
    };
    // The last column is the positive class's (one margin, or class 1).
    Ok(if width == 1 {
        all.slice(ml_core::ndarray::s![.., all.ncols() - 1..]).to_owned()
    } else {
        all
    })
}

fn flatten(prefix: &str, map: &serde_json::Map<String, serde_json::Value>, out: &mut Vec<(String, String)>) {
    for (k, v) in map {
        if k == "algorithm" {
            continue;
        }
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            serde_json::Value::Object(inner) => flatten(&key, inner, out),
            serde_json::Value::String(s) => out.push((key, s.clone())),
            serde_json::Value::Null => out.push((key, "none".into())),
            other => out.push((key, other.to_string())),
        }
    }
}

impl Trainer for Pipeline {
    fn name(&self) -> &str {
        self.algorithm.name()
    }

    fn params(&self) -> Vec<(String, String)> {
        self.param_list()
    }

    fn fit(&self, data: &Dataset) -> ml_core::Result<Box<dyn Model>> {
        Ok(Box::new(self.fit_pipeline(data)?))
    }
}

/// The fitted estimator in its own representation: linfa's fitted models
/// where linfa trained it, our spec types otherwise.
#[derive(Debug, Clone)]
pub(crate) enum FittedEstimator {
    Binary(linfa_logistic::FittedLogisticRegression<f64, usize>),
    Multinomial(linfa_logistic::MultiFittedLogisticRegression<f64, usize>),
    Ols(linfa_linear::FittedLinearRegression<f64>),
    Own(Estimator),
}

impl FittedEstimator {
    fn to_spec(&self) -> Estimator {
        match self {
            FittedEstimator::Binary(m) => binary_spec(m),
            FittedEstimator::Multinomial(m) => multinomial_spec(m),
            FittedEstimator::Ols(m) => ols_spec(m),
            FittedEstimator::Own(e) => e.clone(),
        }
    }
}

/// A fitted [`Pipeline`]: preprocessing steps and the fitted estimator.
#[derive(Debug, Clone)]
pub struct FittedPipeline {
    signature: Signature,
    steps: Vec<Preprocess>,
    estimator: FittedEstimator,
    trainer: String,
    params: Vec<(String, String)>,
    privacy: Option<(f64, f64)>,
    /// Tree ensembles and neighbour models predict through their spec
    /// compiled once, at the first prediction (trees flattened, the
    /// KD-tree built): the same predictions, sooner.
    compiled: std::sync::OnceLock<ml_core::CompiledSpec>,
}

impl FittedPipeline {
    /// The algorithm's name.
    pub fn trainer(&self) -> &str {
        &self.trainer
    }

    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The (ε, δ) that fitting spent, for a private algorithm (`None`: the
    /// model is not private).
    pub fn privacy_spent(&self) -> Option<(f64, f64)> {
        self.privacy
    }

    /// The full spec (infallible for pipelines).
    pub fn spec(&self) -> ModelSpec {
        ModelSpec {
            signature: self.signature.clone(),
            preprocessing: self.steps.clone(),
            estimator: self.estimator.to_spec(),
        }
    }
}

impl Model for FittedPipeline {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> ml_core::Result<Predictions> {
        if let FittedEstimator::Own(Estimator::TreeEnsemble { .. } | Estimator::Neighbors { .. }) = &self.estimator {
            return self
                .compiled
                .get_or_init(|| ml_core::CompiledSpec::new(self.spec()))
                .predict(x);
        }
        self.signature.validate_input(x)?;
        let mut design = x.to_owned();
        for step in &self.steps {
            design = step.apply(design.view())?;
        }
        let view = design.view();
        let data = contiguous(&view);
        let x16 = view16(&data, design.nrows(), design.ncols());
        let classes = || match &self.signature.task {
            Task::Classification { classes } => classes.clone(),
            _ => Vec::new(),
        };
        Ok(match &self.estimator {
            FittedEstimator::Binary(m) => {
                let p_pos = m.predict_probabilities(&x16);
                let pos_is_one = m.labels().pos.class == 1;
                let proba = Array2::from_shape_fn((p_pos.len(), 2), |(i, j)| {
                    let p1 = if pos_is_one { p_pos[i] } else { 1.0 - p_pos[i] };
                    if j == 1 { p1 } else { 1.0 - p1 }
                });
                Predictions::from_probabilities(proba, classes())
            }
            FittedEstimator::Multinomial(m) => {
                let p = m.predict_probabilities(&x16);
                let mut proba = Array2::zeros((p.nrows(), classes().len()));
                for (col, &class) in m.classes().iter().enumerate() {
                    for i in 0..p.nrows() {
                        proba[[i, class]] = p[[i, col]];
                    }
                }
                Predictions::from_probabilities(proba, classes())
            }
            FittedEstimator::Ols(m) => Predictions::Regression {
                values: m.predict(&x16).iter().copied().collect(),
            },
            FittedEstimator::Own(e) => e.predict(&self.signature.task, view)?,
        })
    }

    fn describe(&self) -> ml_core::Result<ModelSpec> {
        Ok(self.spec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid value for each hyper-parameter name.
    fn value_for(name: &str) -> &'static str {
        match name {
            "max_features" => "sqrt",
            "bootstrap" => "true",
            "bounds" | "bounds.COLUMN" => "0:1",
            "max_depth" | "min_samples_split" | "min_samples_leaf" | "n_trees" | "n_clusters" | "n_init"
            | "max_iter" | "insecure_seed" | "max_leaf_nodes" | "max_bins" | "n_iter_no_change" | "n_neighbors"
            | "n_threads" | "leaf_size" => "2",
            "algorithm" => "kd_tree",
            "early_stopping" => "true",
            "categorical_features" => "onehot",
            "pca" | "polynomial" => "2",
            "weights" => "distance",
            "distribution" => "gaussian",
            "loss" => "hinge",
            _ => "0.5",
        }
    }

    #[test]
    fn every_listed_parameter_is_taken_and_others_are_named() {
        for name in Algorithm::NAMES {
            let algorithm = Pipeline::from_params(name, &[], None).unwrap().algorithm;
            for param in algorithm.param_names() {
                let key = param.replace("COLUMN", "x");
                let mut given = vec![(key.clone(), value_for(param).to_string())];
                if *name == "naive_bayes" && *param == "alpha" {
                    given.push(("distribution".into(), "multinomial".into()));
                }
                assert!(Pipeline::from_params(name, &given, None).is_ok(), "{name}: {key}");
            }
            let e = Pipeline::from_params(name, &[("nope".into(), "1".into())], None)
                .unwrap_err()
                .to_string();
            assert!(e.contains("known: scale, unknown"), "{e}");
        }
    }
}
