//! The randomized classifier the reductions return, and its saved form.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The randomized classifier exponentiated gradient returns: each learner
/// with its probability. [`Model::predict`] gives the probability of the
/// positive class (`Σ w_t h_t(x)`) and labels it where that is at least
/// one half; sampling a label with that probability is Fairlearn's
/// `predict`.
#[derive(Debug)]
pub struct MitigatedClassifier {
    pub(super) signature: Signature,
    pub(super) learners: Vec<Learner>,
    pub(super) weights: Vec<f64>,
    /// Iterations run.
    pub iterations: usize,
    /// The duality gap of the returned mix.
    pub best_gap: f64,
}

/// One member of a saved mix: a constant label or a model's spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MixMember {
    /// Always this label (0 or 1).
    Constant(usize),
    /// A model described by its spec.
    Spec(Box<ModelSpec>),
}

/// A [`MitigatedClassifier`] as data: its signature and its members with
/// their probabilities (members of probability 0 are left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedMix {
    /// Inputs and classes.
    pub signature: Signature,
    /// `(probability, member)`.
    pub members: Vec<(f64, MixMember)>,
}

impl MitigatedClassifier {
    /// The learners' probabilities (one per fitted learner).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The mix as data, every member described by its spec.
    ///
    /// # Errors
    /// A member model that cannot describe itself.
    pub fn to_saved(&self) -> Result<SavedMix> {
        let mut members = Vec::new();
        for (l, &w) in self.learners.iter().zip(&self.weights) {
            if w > 0.0 {
                members.push((
                    w,
                    match l {
                        Learner::Constant(c) => MixMember::Constant(*c),
                        Learner::Model(m) => MixMember::Spec(Box::new(m.describe()?)),
                    },
                ));
            }
        }
        Ok(SavedMix {
            signature: self.signature.clone(),
            members,
        })
    }

    /// Rebuild from saved data.
    ///
    /// # Errors
    /// No members, probabilities that are negative or do not sum to 1,
    /// invalid specs.
    pub fn from_saved(saved: SavedMix) -> Result<Self> {
        let total: f64 = saved.members.iter().map(|(w, _)| w).sum();
        if saved.members.is_empty()
            || saved.members.iter().any(|(w, _)| w.is_nan() || *w < 0.0)
            || (total - 1.0).abs() > 1e-9
        {
            return Err(Error::invalid(
                "mix",
                "member probabilities must be non-negative and sum to 1",
            ));
        }
        let mut learners = Vec::new();
        let mut weights = Vec::new();
        for (w, m) in saved.members {
            learners.push(match m {
                MixMember::Constant(c) if c <= 1 => Learner::Constant(c),
                MixMember::Constant(c) => return Err(Error::invalid("mix", format!("constant label {c}"))),
                MixMember::Spec(spec) => {
                    spec.validate()?;
                    Learner::Model(spec)
                }
            });
            weights.push(w);
        }
        Ok(MitigatedClassifier {
            signature: saved.signature,
            learners,
            weights,
            iterations: 0,
            best_gap: f64::NAN,
        })
    }

    /// Positive-class probability per row.
    ///
    /// # Errors
    /// Input that does not match the signature.
    pub fn positive_probability(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        self.signature.validate_input(x)?;
        let mut p = vec![0.0; x.nrows()];
        for (l, &w) in self.learners.iter().zip(&self.weights) {
            if w > 0.0 {
                for (pi, h) in p.iter_mut().zip(l.predict(x)?) {
                    *pi += w * h;
                }
            }
        }
        Ok(p)
    }
}

impl Model for MitigatedClassifier {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> ml_core::Result<Predictions> {
        let p = self.positive_probability(x)?;
        let proba = Array2::from_shape_fn((p.len(), 2), |(i, j)| if j == 1 { p[i] } else { 1.0 - p[i] });
        let classes = match &self.signature.task {
            Task::Classification { classes } => classes.clone(),
            _ => vec!["0".into(), "1".into()],
        };
        Ok(Predictions::Classification {
            labels: Array1::from_iter(p.iter().map(|&v| usize::from(v >= 0.5))),
            probabilities: Some(proba),
            classes,
        })
    }
}
