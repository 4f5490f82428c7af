#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod blackbox;
#[cfg(feature = "charts")]
pub mod charts;
mod ebm;
mod error;
mod explain;
pub mod fairness;
mod kernel;
mod lime;
mod lp;
pub mod mitigation;
pub mod reductions;
pub mod report;
pub mod saved;
pub mod shapley;
pub mod track;
pub mod tree;

pub use blackbox::{Curves, Importances, PartialDependence, PermutationImportance, default_score};
pub use ebm::{
    AdditiveTerms, Ebm, EbmModel, FeatureBins, PairTerm, ShapeFunction, shape_functions, shape_functions_by_output,
    shape_functions_of,
};
pub use error::{Error, Result};
pub use explain::{LinearShap, TreeShap, raw_output_names};
pub use fairness::{
    Comparison, GroupMetric, MetricFrame, binary_outcome, fairness_summary, group_keys, parity_measures,
    sensitive_columns,
};
pub use kernel::KernelShap;
pub use lime::Lime;
pub use mitigation::{FairThresholds, ParityConstraint, ThresholdOptimizer, draw_labels};
pub use reductions::{
    ExponentiatedGradient, GridPoint, GridSearch, GridSearchResult, MitigatedClassifier, MixMember, Moment, SavedMix,
};
#[cfg(feature = "charts")]
pub use report::explanation_charts;
pub use report::{FairnessReport, explained_values, explanation_json, mean_abs_importance};
pub use saved::{BinaryScores, MITIGATION_FILE, SavedMitigation};
pub use shapley::exact_shapley;
pub use track::{log_explanation, log_fairness};
pub use tree::TreeEnsemble;
