//! Observation and action spaces in Gymnasium's terms: `Discrete`, `Box`
//! and `MultiDiscrete`, with sampling and membership checks.

use ml_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::rng::NumpyRng;

/// An action: an integer for `Discrete`, values for `Box`, one integer per
/// dimension for `MultiDiscrete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Action {
    /// One of a `Discrete` space's values.
    Discrete(i64),
    /// A point of a `Box` space, flattened row-major.
    Continuous(Vec<f32>),
    /// A `MultiDiscrete` space's integers.
    MultiDiscrete(Vec<i64>),
}

impl Action {
    /// Parse `mlsdk rl rollout`'s line format for `space`: an integer, or
    /// comma-separated numbers. Continuous values outside the bounds are
    /// kept (the environment clips them).
    ///
    /// # Errors
    /// Text that is not an action of `space`.
    pub fn parse(text: &str, space: &Space) -> Result<Self> {
        let text = text.trim();
        let bad = || Error::invalid("action", format!("{text:?} is not an action of {space}"));
        let action = match space {
            Space::Discrete { .. } => Action::Discrete(text.parse().map_err(|_| bad())?),
            Space::Box { .. } => Action::Continuous(
                text.split(',')
                    .map(|v| v.trim().parse::<f32>().map_err(|_| bad()))
                    .collect::<Result<_>>()?,
            ),
            Space::MultiDiscrete { .. } => Action::MultiDiscrete(
                text.split(',')
                    .map(|v| v.trim().parse::<i64>().map_err(|_| bad()))
                    .collect::<Result<_>>()?,
            ),
        };
        match (&action, space) {
            // Continuous environments clip their actions (as Gymnasium's
            // do): only the length and finiteness are the parser's business.
            (Action::Continuous(v), Space::Box { low, .. }) => {
                if v.len() != low.len() || v.iter().any(|x| !x.is_finite()) {
                    return Err(bad());
                }
            }
            _ => space.check(&action)?,
        }
        Ok(action)
    }
}

/// A set of observations or actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Space {
    /// The integers `start..start + n`.
    Discrete {
        /// Number of values (at least 1).
        n: u64,
        /// The first value.
        start: i64,
    },
    /// Real vectors between bounds (`f32`, as Gymnasium's classic control).
    Box {
        /// Lower bounds, one per element (may be −∞).
        low: Vec<f32>,
        /// Upper bounds, one per element (may be +∞).
        high: Vec<f32>,
        /// The shape; the elements are its row-major flattening.
        shape: Vec<usize>,
    },
    /// One `Discrete(n)` (from 0) per dimension.
    MultiDiscrete {
        /// The number of values of each dimension.
        nvec: Vec<u64>,
    },
}

impl std::fmt::Display for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Space::Discrete { n, start: 0 } => write!(f, "Discrete({n})"),
            Space::Discrete { n, start } => write!(f, "Discrete({n}, start={start})"),
            Space::Box { low, high, shape } if low.len() <= 4 => write!(f, "Box({low:?}, {high:?})"),
            Space::Box { shape, .. } => write!(f, "Box(shape {shape:?})"),
            Space::MultiDiscrete { nvec } => write!(f, "MultiDiscrete({nvec:?})"),
        }
    }
}

impl Space {
    /// `Discrete(n)` from 0.
    pub fn discrete(n: u64) -> Self {
        Space::Discrete { n, start: 0 }
    }

    /// A one-dimensional `Box` of these bounds.
    pub fn boxed(low: Vec<f32>, high: Vec<f32>) -> Self {
        let shape = vec![low.len()];
        Space::Box { low, high, shape }
    }

    /// Elements of a flattened point (1 for `Discrete`).
    pub fn flat_dim(&self) -> usize {
        match self {
            Space::Discrete { .. } => 1,
            Space::Box { low, .. } => low.len(),
            Space::MultiDiscrete { nvec } => nvec.len(),
        }
    }

    /// Whether `action` belongs to the space.
    pub fn contains(&self, action: &Action) -> bool {
        match (self, action) {
            (Space::Discrete { n, start }, Action::Discrete(a)) => *a >= *start && ((*a - *start) as u64) < *n,
            (Space::Box { low, high, .. }, Action::Continuous(v)) => {
                v.len() == low.len() && v.iter().zip(low.iter().zip(high)).all(|(x, (l, h))| x >= l && x <= h)
            }
            (Space::MultiDiscrete { nvec }, Action::MultiDiscrete(v)) => {
                v.len() == nvec.len() && v.iter().zip(nvec).all(|(a, n)| *a >= 0 && (*a as u64) < *n)
            }
            _ => false,
        }
    }

    /// Whether an observation (flattened) belongs to the space.
    pub fn contains_values(&self, values: &[f32]) -> bool {
        match self {
            Space::Box { low, high, .. } => {
                values.len() == low.len()
                    && values
                        .iter()
                        .zip(low.iter().zip(high))
                        .all(|(x, (l, h))| x >= l && x <= h)
            }
            Space::Discrete { .. } => {
                values.len() == 1 && values[0].fract() == 0.0 && self.contains(&Action::Discrete(values[0] as i64))
            }
            Space::MultiDiscrete { .. } => {
                values.iter().all(|v| v.fract() == 0.0)
                    && self.contains(&Action::MultiDiscrete(values.iter().map(|&v| v as i64).collect()))
            }
        }
    }

    /// `Ok` for a member, a clear error otherwise (Gymnasium asserts).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the action and the space.
    pub fn check(&self, action: &Action) -> Result<()> {
        if self.contains(action) {
            return Ok(());
        }
        let shown = match action {
            Action::Discrete(a) => a.to_string(),
            Action::Continuous(v) => format!("{v:?}"),
            Action::MultiDiscrete(v) => format!("{v:?}"),
        };
        Err(Error::invalid(
            "action",
            format!("{shown} is not in the action space {self}"),
        ))
    }

    /// A uniform sample (`Box` bounds that are infinite sample a normal or
    /// an exponential on the open side, as Gymnasium does).
    pub fn sample(&self, rng: &mut NumpyRng) -> Action {
        match self {
            Space::Discrete { n, start } => Action::Discrete(start + rng.below(*n) as i64),
            Space::Box { low, high, .. } => Action::Continuous(
                low.iter()
                    .zip(high)
                    .map(|(&l, &h)| {
                        let (l, h) = (f64::from(l), f64::from(h));
                        (match (l.is_finite(), h.is_finite()) {
                            (true, true) => rng.uniform(l, h),
                            (true, false) => l + -(1.0 - rng.next_f64()).ln(),
                            (false, true) => h - -(1.0 - rng.next_f64()).ln(),
                            (false, false) => rng.normal(),
                        }) as f32
                    })
                    .collect(),
            ),
            Space::MultiDiscrete { nvec } => Action::MultiDiscrete(nvec.iter().map(|&n| rng.below(n) as i64).collect()),
        }
    }
}
