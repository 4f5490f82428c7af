//! The trainer registry: every algorithm of the workspace by name, from
//! `key=value` hyper-parameters, as `mlsdk train --model NAME --param K=V`
//! and `mlsdk mitigate --trainer NAME` take them.

use ml_core::{Dataset, Model, Result, Trainer};
use ml_learn::Pipeline;

/// A trainer chosen by name: one of ml-learn's pipelines (`logistic`,
/// `linear`, `ridge`, `tree`, `forest`, `kmeans`, and with the `privacy`
/// feature `dp_logistic`) or, with the `interpret` feature, ml-interpret's
/// explainable boosting machine (`ebm`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyTrainer {
    /// An ml-learn pipeline (preprocessing and one estimator).
    Pipeline(Pipeline),
    /// An explainable boosting machine.
    #[cfg(feature = "interpret")]
    Ebm(ml_interpret::Ebm),
}

/// A fitted model and the (ε, δ) it spent, if it is differentially private.
pub type FittedModel = (Box<dyn Model>, Option<(f64, f64)>);

/// The names [`trainer_from_params`] knows.
pub fn trainer_names() -> Vec<&'static str> {
    let names = ml_learn::Algorithm::NAMES.iter().copied();
    #[cfg(feature = "interpret")]
    let names = names.chain(["ebm"]);
    names.collect()
}

/// The trainer of this name with these hyper-parameters; `seed` seeds the
/// random algorithms (never a private model's noise).
///
/// # Errors
/// An unknown name (the known ones listed), an unknown parameter or a bad
/// value ([`ml_core::Error::InvalidParameter`]).
pub fn trainer_from_params(name: &str, params: &[(String, String)], seed: Option<u64>) -> Result<AnyTrainer> {
    #[cfg(feature = "interpret")]
    if name == "ebm" {
        return Ok(AnyTrainer::Ebm(ml_interpret::Ebm::from_params(params, seed)?));
    }
    match Pipeline::from_params(name, params, seed) {
        Ok(p) => Ok(AnyTrainer::Pipeline(p)),
        Err(ml_learn::Error::Core(ml_core::Error::InvalidParameter { name: field, .. })) if field == "model" => {
            Err(ml_core::Error::invalid(
                "model",
                format!("unknown model '{name}' (known: {})", trainer_names().join(", ")),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

impl AnyTrainer {
    /// The trainer as a [`Trainer`].
    pub fn as_trainer(&self) -> &dyn Trainer {
        match self {
            AnyTrainer::Pipeline(p) => p,
            #[cfg(feature = "interpret")]
            AnyTrainer::Ebm(e) => e,
        }
    }

    /// Whether the algorithm learns without a target (k-means).
    pub fn is_unsupervised(&self) -> bool {
        matches!(self, AnyTrainer::Pipeline(p) if matches!(p.algorithm, ml_learn::Algorithm::KMeans(_)))
    }

    /// Fit, returning the model and the (ε, δ) it spent if private.
    ///
    /// # Errors
    /// As the algorithm's `fit`.
    pub fn fit_model(&self, data: &Dataset) -> Result<FittedModel> {
        Ok(match self {
            AnyTrainer::Pipeline(p) => {
                let m = p.fit_pipeline(data)?;
                let spent = m.privacy_spent();
                (Box::new(m), spent)
            }
            #[cfg(feature = "interpret")]
            AnyTrainer::Ebm(e) => (Box::new(e.fit_ebm(data)?), None),
        })
    }
}

impl Trainer for AnyTrainer {
    fn name(&self) -> &str {
        self.as_trainer().name()
    }

    fn params(&self) -> Vec<(String, String)> {
        self.as_trainer().params()
    }

    fn fit(&self, data: &Dataset) -> Result<Box<dyn Model>> {
        self.as_trainer().fit(data)
    }
}
