//! Explanations and fairness for ml-sdk models.
//!
//! Explanations implement [`ml_core::Explainer`]: exact methods read the
//! model's [`ml_core::ModelSpec`] (so they serve models trained here and
//! models imported from ONNX alike), black-box methods call
//! [`ml_core::Model::predict`] only.
//!
//! - [`TreeShap`]: exact TreeSHAP, path-dependent (node covers) or
//!   interventional (a background sample), on the raw ensemble output.
//! - [`LinearShap`]: closed-form SHAP of linear models.
//! - [`KernelShap`], [`Lime`]: black-box local methods on any model.
//! - [`PermutationImportance`], [`PartialDependence`] (with ICE): black-box
//!   global methods, on scikit-learn's definitions.
//! - [`Ebm`]: an explainable boosting machine, a `Trainer` whose model
//!   describes itself as a tree ensemble (one tree per feature).
//! - [`fairness`]: Fairlearn's `MetricFrame` and parity measures.
//! - [`mitigation`]: Fairlearn's `ThresholdOptimizer` (post-processing);
//!   [`reductions`]: its `ExponentiatedGradient` over any trainer;
//!   [`saved`]: a fitted mitigation as a file, predicting on new data.
//! - [`charts`] (feature `charts`): SHAP summary, bar and waterfall,
//!   partial dependence with ICE, metrics by group, as SVG or PNG.
//! - [`track`]: explanations and fairness reports logged to a run;
//!   [`report`]: the same as JSON and as files (charts, a fairness report
//!   in Markdown and HTML).
//! - [`shapley::exact_shapley`]: Shapley values by enumeration, the
//!   oracle of the tests.
//!
//! Its functions return this crate's [`Error`] (invalid parameters,
//! unsupported models, drawing failures, and ml-core's errors as
//! [`Error::Core`]); the ml-core traits it implements return ml-core's
//! error, into which [`Error`] converts.
//!
//! # Example
//! Fairlearn's group metrics on a classifier's predictions, by sex:
//!
//! ```
//! use ml_interpret::{Comparison, GroupMetric, MetricFrame, parity_measures};
//!
//! # fn main() -> ml_core::Result<()> {
//! let y_true = [1, 0, 1, 1, 0, 1, 0, 0];
//! let y_pred = [1, 0, 1, 0, 0, 1, 1, 0];
//! let sex: Vec<String> = ["f", "f", "f", "f", "m", "m", "m", "m"].iter().map(|s| s.to_string()).collect();
//! let sensitive = [("sex", sex.as_slice())];
//! let frame = MetricFrame::new(&[GroupMetric::SelectionRate, GroupMetric::Accuracy], &y_true, &y_pred, &sensitive, 1)?;
//! let (group, values) = &frame.by_group[0];
//! assert_eq!((group[0].as_str(), values["selection_rate"]), ("f", 0.5));
//! assert_eq!(frame.difference("selection_rate", Comparison::BetweenGroups)?, 0.0);
//! let parity = parity_measures(&y_true, &y_pred, &sensitive, 1)?;
//! assert_eq!(parity["demographic_parity_difference"], 0.0);
//! # Ok(())
//! # }
//! ```
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
