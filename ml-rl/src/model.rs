//! Policies as ml-core models: a trained policy's deterministic action as a
//! [`ModelSpec`], so whatever takes a model takes a policy (`mlsdk predict`,
//! ONNX export, `mlsdk serve`, explanations, the registry).
//!
//! - Discrete actions: a classifier whose classes are the actions' values
//!   (`"0"`, `"1"`, …) and whose prediction is the policy's most likely
//!   action. For PPO its probabilities are the policy's own (a softmax of
//!   the actor's logits); for DQN they are a softmax of the Q-values, of
//!   which only the largest (the greedy action) means anything.
//! - A policy trained with standardized observations starts with the
//!   standardization as a `StandardScale` step.
//! - One-dimensional continuous actions: a regressor predicting the
//!   Gaussian policy's mean, the deterministic action (before the
//!   environment clips it to its bounds).
//! - Several action dimensions (`MultiDiscrete`, or a `Box` of more than
//!   one value): a model predicts one class or one value, so such a policy
//!   is one model per dimension ([`PpoPolicy::dimension_spec`]), each the
//!   same network with only its dimension's outputs; the policy's action is
//!   their predictions side by side, since the dimensions' choices are
//!   independent given the observation. [`PpoPolicy::to_spec`] refuses such
//!   a policy by name.

use ml_core::ndarray::{Array2, s};
use ml_core::{
    Dataset, Error, Estimator, InputColumn, Layer, Link, ModelSpec, Preprocess, Result, SavedModel, Signature, Task,
};

use crate::ppo::{OBS_EPSILON, PpoPolicy, SavedPolicy, visited_states};
use crate::space::{Action, Space};

/// The input column names of a policy on `env_id` with `width`
/// observation components: the registered environment's names
/// ([`crate::EnvSpec::observations`]), else `obs_0`, `obs_1`, ….
pub fn observation_names(env_id: &str, width: usize) -> Vec<String> {
    match crate::spec(env_id) {
        Ok(spec) if spec.observations.len() == width => spec.observations.iter().map(|s| s.to_string()).collect(),
        _ => (0..width).map(|i| format!("obs_{i}")).collect(),
    }
}

/// The target of a policy as a model: class names of discrete actions, or
/// `None` for one continuous value.
fn action_task(space: &Space) -> Result<Task> {
    if action_dimensions(space) != 1 {
        return Err(Error::Unsupported(format!(
            "a policy over the action space {space} as one model (a model predicts one class or one value; \
             take one model per action dimension with PpoPolicy::dimension_spec)"
        )));
    }
    dimension_task(space, 0).map(|(task, _)| task)
}

/// The number of action dimensions of `space`: one for `Discrete`, one per
/// entry of a `MultiDiscrete`'s `nvec` or a `Box`'s values.
pub fn action_dimensions(space: &Space) -> usize {
    match space {
        Space::Discrete { .. } => 1,
        Space::MultiDiscrete { nvec } => nvec.len(),
        Space::Box { low, .. } => low.len(),
    }
}

/// The target of action dimension `dim` as a model, with the actor's
/// outputs that make it (`offset`, `count`).
fn dimension_task(space: &Space, dim: usize) -> Result<(Task, std::ops::Range<usize>)> {
    let dims = action_dimensions(space);
    if dim >= dims {
        return Err(Error::invalid(
            "action dimension",
            format!("{dim} of an action space with {dims} dimension(s) ({space})"),
        ));
    }
    Ok(match space {
        Space::Discrete { n, start } => (
            Task::Classification {
                classes: (0..*n).map(|k| (start + k as i64).to_string()).collect(),
            },
            0..usize::try_from(*n).unwrap_or(usize::MAX),
        ),
        Space::MultiDiscrete { nvec } => {
            let size = |n: &u64| usize::try_from(*n).unwrap_or(usize::MAX);
            let offset: usize = nvec[..dim].iter().map(size).sum();
            let n = size(&nvec[dim]);
            (
                Task::Classification {
                    classes: (0..n).map(|k| k.to_string()).collect(),
                },
                offset..offset + n,
            )
        }
        Space::Box { .. } => (Task::Regression, dim..dim + 1),
    })
}

/// `layers` with the last dense layer cut to the outputs `rows`.
fn keep_outputs(mut layers: Vec<Layer>, rows: std::ops::Range<usize>) -> Result<Vec<Layer>> {
    let last = layers.iter_mut().rev().find_map(|l| match l {
        Layer::Dense { weights, bias } => Some((weights, bias)),
        _ => None,
    });
    let Some((weights, bias)) = last else {
        return Err(Error::Corrupt {
            what: "policy",
            reason: "its actor has no dense output layer".into(),
        });
    };
    if rows.end > weights.nrows() || bias.len() != weights.nrows() {
        return Err(Error::Corrupt {
            what: "policy",
            reason: format!(
                "its actor has {} outputs, its action space needs {}",
                weights.nrows(),
                rows.end
            ),
        });
    }
    *weights = weights.slice(s![rows.clone(), ..]).to_owned();
    *bias = bias.slice(s![rows]).to_owned();
    Ok(layers)
}

impl PpoPolicy {
    /// The deterministic policy as a model over observation columns named
    /// `observation_names` (see the module documentation).
    ///
    /// # Errors
    /// Names that do not match the observation width; an action space other
    /// than `Discrete` or a one-dimensional `Box`.
    pub fn to_spec(&self, observation_names: &[String]) -> Result<ModelSpec> {
        let width = self.actor.input_width;
        if observation_names.len() != width {
            return Err(Error::Shape {
                op: "PpoPolicy::to_spec",
                expected: format!("{width} observation names"),
                got: format!("{}", observation_names.len()),
            });
        }
        action_task(&self.action_space)?;
        self.dimension_spec(observation_names, 0)
    }

    /// Action dimension `dim` of the deterministic policy as a model over
    /// observation columns named `observation_names`: for a `MultiDiscrete`
    /// dimension a classifier of its values (`"0"`, `"1"`, …), for a `Box`
    /// dimension a regressor of the Gaussian mean. With one dimension this is
    /// [`PpoPolicy::to_spec`].
    ///
    /// # Errors
    /// Names that do not match the observation width; `dim` past the action
    /// space's dimensions ([`action_dimensions`]).
    pub fn dimension_spec(&self, observation_names: &[String], dim: usize) -> Result<ModelSpec> {
        let width = self.actor.input_width;
        if observation_names.len() != width {
            return Err(Error::Shape {
                op: "PpoPolicy::dimension_spec",
                expected: format!("{width} observation names"),
                got: format!("{}", observation_names.len()),
            });
        }
        let (task, outputs) = dimension_task(&self.action_space, dim)?;
        let link = match task {
            Task::Classification { .. } => Link::Softmax,
            _ => Link::Identity,
        };
        Ok(ModelSpec {
            signature: Signature {
                inputs: observation_names.iter().map(InputColumn::numeric).collect(),
                unknown_category: Default::default(),
                task,
                accepts_missing: false,
            },
            preprocessing: self
                .obs_norm
                .iter()
                .map(|n| Preprocess::StandardScale {
                    mean: n.mean.clone(),
                    scale: n.var.iter().map(|v| (v + OBS_EPSILON).sqrt()).collect(),
                })
                .collect(),
            estimator: Estimator::NeuralNet {
                layers: keep_outputs(self.actor.inference_layers()?, outputs)?,
                link,
            },
        })
    }
}

impl SavedPolicy {
    /// The policy as a saved model (`model.mlsdk`): its spec over the
    /// environment's observation names, the algorithm as trainer, the
    /// hyper-parameters as parameters.
    ///
    /// # Errors
    /// A policy that is not a model (see [`PpoPolicy::to_spec`]).
    pub fn to_saved_model(&self) -> Result<SavedModel> {
        let names = observation_names(&self.env, self.policy.actor.input_width);
        let spec = self.policy.to_spec(&names)?;
        SavedModel::from_model(&spec, &self.algo, self.params())
    }

    /// The policy as one saved model per action dimension (see
    /// [`PpoPolicy::dimension_spec`]), in order; one model for a policy
    /// with one dimension.
    ///
    /// # Errors
    /// A policy that does not fit its action space.
    pub fn to_saved_models(&self) -> Result<Vec<SavedModel>> {
        let names = observation_names(&self.env, self.policy.actor.input_width);
        (0..action_dimensions(&self.policy.action_space))
            .map(|d| {
                let spec = self.policy.dimension_spec(&names, d)?;
                let mut params = self.params();
                params.push(("action_dimension".into(), d.to_string()));
                SavedModel::from_model(&spec, &self.algo, params)
            })
            .collect()
    }
}

/// The observations of `episodes` deterministic episodes of `saved` on
/// `env_id` (episode `i` from `reset(seed + i)`), as a data set with the
/// observation columns and the action taken on each as target `action`:
/// rows to explain the policy on, and its predictions to check.
///
/// # Errors
/// An unknown environment, a policy that does not fit it or is not a model.
pub fn visited_dataset(saved: &SavedPolicy, env_id: &str, episodes: usize, seed: u64) -> Result<Dataset> {
    let task = action_task(&saved.policy.action_space)?;
    let visited = visited_states(&saved.policy, env_id, episodes, seed)?;
    let width = saved.policy.actor.input_width;
    let mut x = Vec::with_capacity(visited.len() * width);
    for (obs, _) in &visited {
        x.extend(obs.iter().map(|&v| f64::from(v)));
    }
    let x =
        Array2::from_shape_vec((visited.len(), width), x).map_err(|e| Error::invalid("observations", e.to_string()))?;
    let data = Dataset::new(x, observation_names(env_id, width))?.with_target_name("action");
    match (task, &saved.policy.action_space) {
        (Task::Classification { classes }, Space::Discrete { start, .. }) => {
            let labels = visited
                .iter()
                .map(|(_, a)| match a {
                    Action::Discrete(v) => Ok((v - start) as usize),
                    other => Err(Error::invalid("action", format!("{other:?} from a discrete policy"))),
                })
                .collect::<Result<_>>()?;
            data.with_classes(labels, classes)
        }
        _ => {
            let values = visited
                .iter()
                .map(|(_, a)| match a {
                    Action::Continuous(v) if v.len() == 1 => Ok(f64::from(v[0])),
                    other => Err(Error::invalid(
                        "action",
                        format!("{other:?} from a one-dimensional policy"),
                    )),
                })
                .collect::<Result<_>>()?;
            data.with_values(values)
        }
    }
}
