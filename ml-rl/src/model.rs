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
//!   environment clips it to its bounds). A model predicts one value, so a
//!   policy over several continuous dimensions is refused by name.

use ml_core::ndarray::Array2;
use ml_core::{
    Dataset, Error, Estimator, InputColumn, Link, ModelSpec, Preprocess, Result, SavedModel, Signature, Task,
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
    match space {
        Space::Discrete { n, start } => Ok(Task::Classification {
            classes: (0..*n).map(|k| (start + k as i64).to_string()).collect(),
        }),
        Space::Box { low, .. } if low.len() == 1 => Ok(Task::Regression),
        other => Err(Error::Unsupported(format!(
            "a policy over the action space {other} as a model (a model predicts one class or one value)"
        ))),
    }
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
        let task = action_task(&self.action_space)?;
        let link = match task {
            Task::Classification { .. } => Link::Softmax,
            _ => Link::Identity,
        };
        Ok(ModelSpec {
            signature: Signature {
                inputs: observation_names.iter().map(InputColumn::numeric).collect(),
                unknown_category: Default::default(),
                task,
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
                layers: self.actor.inference_layers()?,
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
