//! A fairness mitigation as a file (`mitigation.json`, what `mlsdk
//! mitigate` writes), and its predictions on new data.

use std::path::{Path, PathBuf};

use crate::{Error, Result};
use ml_core::ndarray::{Array2, ArrayView2};
use ml_core::{Frame, Model, Predictions, Task};
use serde::{Deserialize, Serialize};

use crate::fairness::{group_keys, sensitive_columns};
use crate::mitigation::{FairThresholds, draw_labels};
use crate::reductions::{MitigatedClassifier, SavedMix};

/// The file name of a saved mitigation in its directory.
pub const MITIGATION_FILE: &str = "mitigation.json";

/// Largest mitigation file read (a mix of forests can be large).
pub const MAX_MITIGATION_BYTES: u64 = ml_core::MAX_MODEL_BYTES;

/// A fitted mitigation, as saved. The JSON carries the method under
/// `"method"` (`threshold_optimizer`, `exponentiated_gradient`,
/// `grid_search`) beside the fields of its variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SavedMitigation {
    /// Post-processing of a saved classifier's scores.
    ThresholdOptimizer {
        /// The classifier whose scores are thresholded (a path or URI; a
        /// relative path is tried from the working directory, then from
        /// the mitigation's directory).
        base_model: String,
        /// The sensitive columns that form the groups.
        sensitive: Vec<String>,
        /// The base model's positive class (its second class).
        positive_class: String,
        /// The rules per group.
        thresholds: FairThresholds,
    },
    /// A randomized mix of models from exponentiated gradient.
    ExponentiatedGradient {
        /// The trainer's name in the trainer registry.
        trainer: String,
        /// Its hyper-parameters as `key=value`.
        params: Vec<String>,
        /// The sensitive columns.
        sensitive: Vec<String>,
        /// The mix.
        mix: SavedMix,
    },
    /// The best model of a grid search (a mix of one member).
    GridSearch {
        /// The trainer's name in the trainer registry.
        trainer: String,
        /// Its hyper-parameters as `key=value`.
        params: Vec<String>,
        /// The sensitive columns.
        sensitive: Vec<String>,
        /// The chosen model.
        mix: SavedMix,
    },
}

/// A binary classifier's view of some rows: its classes, and per row the
/// predicted label and the positive (second) class's probability, which a
/// threshold optimizer thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryScores {
    /// The two classes.
    pub classes: Vec<String>,
    /// The positive class's probability per row.
    pub scores: Vec<f64>,
    /// The predicted label per row (index into `classes`).
    pub labels: Vec<usize>,
}

impl BinaryScores {
    /// Score `x` with `model`.
    ///
    /// # Errors
    /// A model that is not a binary classifier or gives no probabilities;
    /// input the model refuses.
    pub fn of(model: &dyn Model, x: ArrayView2<'_, f64>) -> Result<Self> {
        let Task::Classification { classes } = &model.signature().task else {
            return Err(Error::Unsupported("a threshold optimizer needs a classifier".into()));
        };
        if classes.len() != 2 {
            return Err(Error::Unsupported(format!(
                "a threshold optimizer needs a binary classifier; the model has {} classes",
                classes.len()
            )));
        }
        let classes = classes.clone();
        let Predictions::Classification {
            labels,
            probabilities: Some(p),
            ..
        } = model.predict(x)?
        else {
            return Err(Error::Unsupported(
                "the model gives no class probabilities to threshold".into(),
            ));
        };
        Ok(BinaryScores {
            scores: p.column(1).to_vec(),
            labels: labels.to_vec(),
            classes,
        })
    }
}

impl SavedMitigation {
    /// The method's name, as saved.
    pub fn method(&self) -> &'static str {
        match self {
            SavedMitigation::ThresholdOptimizer { .. } => "threshold_optimizer",
            SavedMitigation::ExponentiatedGradient { .. } => "exponentiated_gradient",
            SavedMitigation::GridSearch { .. } => "grid_search",
        }
    }

    /// The sensitive columns it was fitted with.
    pub fn sensitive(&self) -> &[String] {
        match self {
            SavedMitigation::ThresholdOptimizer { sensitive, .. }
            | SavedMitigation::ExponentiatedGradient { sensitive, .. }
            | SavedMitigation::GridSearch { sensitive, .. } => sensitive,
        }
    }

    /// The mitigation file `path` names: the file itself (named
    /// [`MITIGATION_FILE`]), or the one in a directory; `None` otherwise.
    pub fn find(path: &Path) -> Option<PathBuf> {
        if path.is_file() && path.file_name().is_some_and(|n| n == MITIGATION_FILE) {
            return Some(path.to_path_buf());
        }
        let inner = path.join(MITIGATION_FILE);
        (path.is_dir() && inner.is_file()).then_some(inner)
    }

    /// Read a mitigation from its file or directory.
    ///
    /// # Errors
    /// [`ml_core::Error::Io`] for a missing or unreadable file, [`ml_core::Error::Corrupt`]
    /// for one over [`MAX_MITIGATION_BYTES`] or that is not a mitigation.
    pub fn load(path: &Path) -> Result<Self> {
        let file = Self::find(path).unwrap_or_else(|| path.to_path_buf());
        let bytes = ml_core::io::read_limited("mitigation", &file, MAX_MITIGATION_BYTES)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ml_core::Error::Corrupt {
                what: "mitigation",
                reason: format!("{} is not a mitigation written by ml-sdk: {e}", file.display()),
            }
            .into()
        })
    }

    /// Write as `dir/mitigation.json` (`dir` created if missing), whole or
    /// not at all; returns the file's path.
    ///
    /// # Errors
    /// File failures.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).map_err(|source| ml_core::Error::Io {
            op: "create",
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(MITIGATION_FILE);
        // A base model on this machine is recorded relative to the
        // mitigation's directory, so the two can be read from anywhere and
        // moved together.
        let mut saved = self.clone();
        if let SavedMitigation::ThresholdOptimizer { base_model, .. } = &mut saved
            && !base_model.contains(":/")
            && let (Ok(base), Ok(here)) = (Path::new(base_model.as_str()).canonicalize(), dir.canonicalize())
        {
            *base_model = relative_path(&here, &base).to_string_lossy().into_owned();
        }
        let json =
            serde_json::to_string_pretty(&saved).map_err(|e| Error::Unsupported(format!("mitigation as JSON: {e}")))?;
        ml_core::io::write_atomic(&path, json.as_bytes())?;
        Ok(path)
    }

    /// Where a threshold optimizer's base model is, for a mitigation read
    /// from `file`: a relative path is relative to the mitigation's
    /// directory (as [`SavedMitigation::save`] writes it), falling back to
    /// the working directory for files written before it did; a URI or an
    /// absolute path as saved. `None` for the other methods, which need no
    /// base model.
    pub fn base_model(&self, file: &Path) -> Option<String> {
        let SavedMitigation::ThresholdOptimizer { base_model, .. } = self else {
            return None;
        };
        let path = Path::new(base_model);
        if path.is_relative()
            && !base_model.contains(":/")
            && let Some(dir) = file.parent()
        {
            let beside = dir.join(path);
            if beside.exists() || !path.exists() {
                return Some(beside.to_string_lossy().into_owned());
            }
        }
        Some(base_model.clone())
    }

    /// Each row's probability of the positive class, and the classes: a
    /// threshold optimizer applies its rule for the row's group to `base`'s
    /// score (the base model's [`BinaryScores`] on these rows), a mix
    /// averages its models. `sensitive` renames the sensitive columns
    /// (empty: the saved names).
    ///
    /// # Errors
    /// A threshold optimizer without `base`, or with a base model of other
    /// classes; missing sensitive columns; groups not seen in fitting;
    /// rows the mix's models refuse.
    pub fn positive_probability(
        &self,
        frame: &Frame,
        base: Option<&BinaryScores>,
        sensitive: &[String],
    ) -> Result<(Vec<f64>, Vec<String>)> {
        match self {
            SavedMitigation::ThresholdOptimizer {
                positive_class,
                thresholds,
                ..
            } => {
                let base = base.ok_or_else(|| {
                    Error::invalid(
                        "base model",
                        "a threshold optimizer predicts from its base model's scores",
                    )
                })?;
                if base.classes.get(1) != Some(positive_class) {
                    return Err(Error::invalid(
                        "base model",
                        format!(
                            "not the classifier the thresholds were fitted to (classes {:?}, fitted with positive class '{positive_class}')",
                            base.classes
                        ),
                    ));
                }
                if base.scores.len() != frame.n_rows() {
                    return Err(Error::invalid(
                        "base model",
                        format!("{} scores for {} rows", base.scores.len(), frame.n_rows()),
                    ));
                }
                let names = if sensitive.is_empty() {
                    self.sensitive()
                } else {
                    sensitive
                };
                let columns = sensitive_columns(frame, names)?;
                let groups = group_keys(&columns, frame.n_rows());
                let p = base
                    .scores
                    .iter()
                    .zip(&groups)
                    .map(|(&s, g)| thresholds.positive_probability(s, g))
                    .collect::<Result<Vec<f64>>>()?;
                Ok((p, base.classes.clone()))
            }
            SavedMitigation::ExponentiatedGradient { mix, .. } | SavedMitigation::GridSearch { mix, .. } => {
                let model = MitigatedClassifier::from_saved(mix.clone())?;
                let signature = model.signature().clone();
                let Task::Classification { classes } = &signature.task else {
                    return Err(ml_core::Error::Corrupt {
                        what: "mitigation",
                        reason: "the mix is not a classifier".into(),
                    }
                    .into());
                };
                let x = frame.encode(&signature.inputs, signature.unknown_category)?;
                Ok((model.positive_probability(x.view())?, classes.clone()))
            }
        }
    }

    /// Predictions on `frame`: the positive class's probability per row
    /// (as [`SavedMitigation::positive_probability`]) and a label drawn
    /// with it, one draw per row in order from [`ml_core::seeded_rng`]`(seed)`,
    /// as `mlsdk mitigate` draws them.
    ///
    /// # Errors
    /// As [`SavedMitigation::positive_probability`].
    pub fn predict(
        &self,
        frame: &Frame,
        base: Option<&BinaryScores>,
        sensitive: &[String],
        seed: u64,
    ) -> ml_core::Result<Predictions> {
        let (p, classes) = self.positive_probability(frame, base, sensitive)?;
        let labels = draw_labels(&p, &mut ml_core::seeded_rng(seed)).into();
        let probabilities = Array2::from_shape_fn((p.len(), 2), |(i, j)| if j == 1 { p[i] } else { 1.0 - p[i] });
        Ok(Predictions::Classification {
            labels,
            probabilities: Some(probabilities),
            classes,
        })
    }
}

/// The path that leads from directory `from` to `to` (both absolute).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let (a, b): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn relative_paths_lead_from_one_directory_to_another() {
        let p = |s: &str| Path::new(s).to_path_buf();
        assert_eq!(relative_path(&p("/a/b/mit"), &p("/a/b/model")), p("../model"));
        assert_eq!(relative_path(&p("/a/b"), &p("/a/b/model")), p("model"));
        assert_eq!(relative_path(&p("/x/y"), &p("/a/model")), p("../../a/model"));
    }

    use super::*;
    use crate::{ParityConstraint, ThresholdOptimizer};

    #[test]
    fn a_saved_threshold_optimizer_predicts_as_fitted() {
        // Group "a" scores high, group "b" low: demographic parity moves
        // the thresholds apart.
        let n = 40;
        let group: Vec<String> = (0..n).map(|i| if i % 2 == 0 { "a" } else { "b" }.to_string()).collect();
        let scores: Vec<f64> = (0..n)
            .map(|i| (i as f64 / n as f64) * if i % 2 == 0 { 1.0 } else { 0.5 })
            .collect();
        let labels: Vec<usize> = scores.iter().map(|&s| usize::from(s > 0.3)).collect();
        let thresholds = ThresholdOptimizer::new(ParityConstraint::DemographicParity)
            .fit(&scores, &labels, &group)
            .unwrap();
        let saved = SavedMitigation::ThresholdOptimizer {
            base_model: "base".into(),
            sensitive: vec!["g".into()],
            positive_class: "yes".into(),
            thresholds: thresholds.clone(),
        };
        let dir = tempfile::tempdir().unwrap();
        let file = saved.save(dir.path()).unwrap();
        let loaded = SavedMitigation::load(dir.path()).unwrap();
        assert_eq!(loaded, saved);
        // The relative base model is looked up beside the mitigation.
        assert_eq!(
            loaded.base_model(&file).unwrap(),
            dir.path().join("base").to_string_lossy()
        );
        let frame = Frame::from_columns(vec![("g".into(), group.clone())]).unwrap();
        let base = BinaryScores {
            classes: vec!["no".into(), "yes".into()],
            scores: scores.clone(),
            labels: labels.clone(),
        };
        let (p, classes) = loaded.positive_probability(&frame, Some(&base), &[]).unwrap();
        assert_eq!(classes, base.classes);
        for i in 0..n {
            assert_eq!(p[i], thresholds.positive_probability(scores[i], &group[i]).unwrap());
        }
        // Labels are drawn from the seed, one per row: the same seed repeats them.
        let a = loaded.predict(&frame, Some(&base), &[], 7).unwrap();
        assert_eq!(a, loaded.predict(&frame, Some(&base), &[], 7).unwrap());
        // Another classifier, a missing base model, a renamed column.
        let other = BinaryScores {
            classes: vec!["yes".into(), "no".into()],
            ..base.clone()
        };
        assert!(loaded.positive_probability(&frame, Some(&other), &[]).is_err());
        assert!(loaded.positive_probability(&frame, None, &[]).is_err());
        assert!(matches!(
            loaded.positive_probability(&frame, Some(&base), &["sex".into()]),
            Err(crate::Error::Core(ml_core::Error::UnknownColumn { .. }))
        ));
    }

    #[test]
    fn a_saved_file_of_another_kind_is_corrupt_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(MITIGATION_FILE);
        std::fs::write(&file, br#"{"method": "threshold_optimizer"}"#).unwrap();
        assert!(matches!(
            SavedMitigation::load(dir.path()),
            Err(crate::Error::Core(ml_core::Error::Corrupt { .. }))
        ));
        std::fs::write(&file, b"{\"method\": \"magic\"}").unwrap();
        assert!(matches!(
            SavedMitigation::load(&file),
            Err(crate::Error::Core(ml_core::Error::Corrupt { .. }))
        ));
        assert!(SavedMitigation::find(&dir.path().join("elsewhere")).is_none());
        assert!(matches!(
            SavedMitigation::load(&dir.path().join("elsewhere")),
            Err(crate::Error::Core(ml_core::Error::Io { .. }))
        ));
    }
}
