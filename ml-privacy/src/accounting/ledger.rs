//! A thread-safe privacy ledger: an odometer that records what has been
//! spent, or a filter that also refuses a charge which would take the total
//! over a budget.
//!
//! Totals are kept as exact rationals of the charged doubles, so the
//! decision does not depend on float rounding or on the order of charges:
//! 0.1 + 0.2 + 0.7 as doubles sums to a little more than 1, and a budget of
//! 1.0 refuses the third charge every time. Composition is sequential
//! (basic): ε and δ add for (ε, δ)-DP, ρ adds for zCDP (Bun and Steinke
//! 2016, Lemma 2.3), ε of one order adds for Rényi DP (Mironov 2017,
//! Proposition 1).

use std::sync::Mutex;

use ml_core::{MetricPoint, RunId, Tracker};
use serde::Serialize;

use super::PrivacyLoss;
use crate::ratio::{Ratio, RoundUp, exact, integer};
use crate::{Error, Result};

/// How the ledger composes, and in which measure a budget is stated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "measure", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Budget {
    /// Total (ε, δ); accepts pure and approximate losses.
    Approximate {
        /// ε.
        epsilon: f64,
        /// δ.
        delta: f64,
    },
    /// Total ρ; accepts zCDP and pure losses (ε-DP counts as ε²/2).
    Zcdp {
        /// ρ.
        rho: f64,
    },
    /// Total Rényi ε at one order α; accepts Rényi losses of that order or
    /// higher, zCDP (αρ) and pure losses (min(ε, αε²/2)).
    Renyi {
        /// The order α > 1.
        alpha: f64,
        /// ε at that order.
        epsilon: f64,
    },
}

/// One accepted charge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    /// What was released.
    pub label: String,
    /// What it spent.
    pub loss: PrivacyLoss,
}

/// The totals so far, each rounded up to a double.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spent {
    /// Total ε (approximate ledgers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// Total δ (approximate ledgers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
    /// Total ρ (zCDP ledgers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rho: Option<f64>,
    /// Total Rényi ε (Rényi ledgers; `epsilon` stays `None`, as it is not
    /// an (ε, δ) figure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renyi_epsilon: Option<f64>,
}

#[derive(Debug)]
struct State {
    /// ε (or ρ) and δ totals, exact.
    first: Ratio,
    delta: Ratio,
    entries: Vec<LedgerEntry>,
}

/// An odometer ([`PrivacyLedger::odometer`]) or a filter
/// ([`PrivacyLedger::filter`]). Share it between threads by reference or
/// `Arc`; each charge is checked and recorded atomically.
#[derive(Debug)]
pub struct PrivacyLedger {
    measure: Budget,
    /// Exact budget; `None` for an odometer.
    limit: Option<(Ratio, Ratio)>,
    state: Mutex<State>,
}

impl PrivacyLedger {
    /// A filter: charges that would exceed `budget` are refused.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a budget that is negative, not finite,
    /// δ above 1, or a Rényi order that is not finite and > 1.
    pub fn filter(budget: Budget) -> Result<Self> {
        let limit = match budget {
            Budget::Approximate { epsilon, delta } => {
                if delta > 1.0 {
                    return Err(Error::param("delta budget", format!("{delta} above 1")));
                }
                (exact(epsilon, "epsilon budget")?, exact(delta, "delta budget")?)
            }
            Budget::Zcdp { rho } => (exact(rho, "rho budget")?, integer(0)),
            Budget::Renyi { alpha, epsilon } => {
                super::check_renyi(alpha, epsilon)?;
                (exact(epsilon, "Renyi epsilon budget")?, integer(0))
            }
        };
        Ok(Self::make(budget, Some(limit)))
    }

    /// An odometer composing in `measure` (its numbers are ignored but a
    /// Rényi order, which must be finite and > 1).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a Rényi order that is not finite and > 1.
    pub fn odometer(measure: Budget) -> Result<Self> {
        if let Budget::Renyi { alpha, .. } = measure {
            super::check_renyi(alpha, 0.0)?;
        }
        Ok(Self::make(measure, None))
    }

    fn make(measure: Budget, limit: Option<(Ratio, Ratio)>) -> Self {
        PrivacyLedger {
            measure,
            limit,
            state: Mutex::new(State {
                first: integer(0),
                delta: integer(0),
                entries: Vec::new(),
            }),
        }
    }

    /// The loss as exact (ε or ρ, δ) in this ledger's measure.
    fn amounts(&self, loss: &PrivacyLoss) -> Result<(Ratio, Ratio)> {
        let r = exact;
        match (self.measure, *loss) {
            (Budget::Approximate { .. }, PrivacyLoss::Pure { epsilon }) => Ok((r(epsilon, "epsilon")?, integer(0))),
            (Budget::Approximate { .. }, PrivacyLoss::Approximate { epsilon, delta }) => {
                Ok((r(epsilon, "epsilon")?, r(delta, "delta")?))
            }
            (Budget::Approximate { .. }, PrivacyLoss::Zcdp { .. }) => Err(Error::param(
                "loss",
                "an (epsilon, delta) ledger cannot take a zCDP loss; convert it with PrivacyLoss::to_approximate",
            )),
            (Budget::Zcdp { .. }, PrivacyLoss::Pure { epsilon }) => {
                let e = r(epsilon, "epsilon")?;
                Ok((&e * &e / integer(2), integer(0)))
            }
            (Budget::Zcdp { .. }, PrivacyLoss::Zcdp { rho }) => Ok((r(rho, "rho")?, integer(0))),
            (Budget::Zcdp { .. }, l @ (PrivacyLoss::Approximate { .. } | PrivacyLoss::Renyi { .. })) => {
                Ok((r(l.to_zcdp()?, "rho")?, integer(0)))
            }
            (
                Budget::Renyi { alpha, .. },
                PrivacyLoss::Pure { epsilon } | PrivacyLoss::Approximate { epsilon, delta: 0.0 },
            ) => {
                // min(ε, αε²/2), exactly.
                let e = r(epsilon, "epsilon")?;
                let via_zcdp = &e * &e * r(alpha, "alpha")? / integer(2);
                Ok((via_zcdp.min(e), integer(0)))
            }
            (Budget::Renyi { alpha, .. }, PrivacyLoss::Zcdp { rho }) => {
                Ok((r(rho, "rho")? * r(alpha, "alpha")?, integer(0)))
            }
            (Budget::Renyi { alpha, .. }, l @ (PrivacyLoss::Renyi { .. } | PrivacyLoss::Approximate { .. })) => {
                Ok((r(l.to_renyi(alpha)?, "Renyi epsilon")?, integer(0)))
            }
            (Budget::Approximate { .. }, PrivacyLoss::Renyi { .. }) => Err(Error::param(
                "loss",
                "an (epsilon, delta) ledger cannot take a Renyi loss; convert it with PrivacyLoss::to_approximate",
            )),
        }
    }

    /// Record `loss` under `label`; a filter refuses it (and records
    /// nothing) when the new total would exceed the budget.
    ///
    /// # Errors
    /// [`Error::BudgetExceeded`] when a filter's budget cannot cover it;
    /// [`Error::InvalidParameter`] for a loss this ledger's measure cannot take
    /// (a zCDP or Rényi loss in an (ε, δ) ledger) or non-finite numbers;
    /// [`Error::Ledger`] when the ledger's lock is poisoned.
    pub fn charge(&self, label: &str, loss: PrivacyLoss) -> Result<Spent> {
        let (first, delta) = self.amounts(&loss)?;
        let mut st = self
            .state
            .lock()
            .map_err(|_| Error::Ledger("ledger lock poisoned".into()))?;
        let new_first = &st.first + first;
        let new_delta = &st.delta + delta;
        if let Some((lf, ld)) = &self.limit
            && (new_first > *lf || new_delta > *ld)
        {
            return Err(Error::BudgetExceeded {
                label: label.to_string(),
                total: self.describe(&new_first, &new_delta),
                budget: self.describe(lf, ld),
            });
        }
        st.first = new_first;
        st.delta = new_delta;
        st.entries.push(LedgerEntry {
            label: label.to_string(),
            loss,
        });
        Ok(self.spent_of(&st))
    }

    fn describe(&self, first: &Ratio, delta: &Ratio) -> String {
        match self.measure {
            Budget::Approximate { .. } => format!("epsilon {:e}, delta {:e}", first.to_f64_up(), delta.to_f64_up()),
            Budget::Zcdp { .. } => format!("rho {:e}", first.to_f64_up()),
            Budget::Renyi { alpha, .. } => format!("Renyi epsilon {:e} at order {alpha}", first.to_f64_up()),
        }
    }

    fn spent_of(&self, st: &State) -> Spent {
        match self.measure {
            Budget::Approximate { .. } => Spent {
                epsilon: Some(st.first.to_f64_up()),
                delta: Some(st.delta.to_f64_up()),
                rho: None,
                renyi_epsilon: None,
            },
            Budget::Zcdp { .. } => Spent {
                epsilon: None,
                delta: None,
                rho: Some(st.first.to_f64_up()),
                renyi_epsilon: None,
            },
            Budget::Renyi { .. } => Spent {
                epsilon: None,
                delta: None,
                rho: None,
                renyi_epsilon: Some(st.first.to_f64_up()),
            },
        }
    }

    /// The totals so far.
    ///
    /// # Errors
    /// [`Error::Ledger`] when the ledger's lock is poisoned.
    pub fn spent(&self) -> Result<Spent> {
        let st = self
            .state
            .lock()
            .map_err(|_| Error::Ledger("ledger lock poisoned".into()))?;
        Ok(self.spent_of(&st))
    }

    /// Whether `loss` would still fit (always true for an odometer).
    ///
    /// # Errors
    /// As [`PrivacyLedger::charge`], budget aside.
    pub fn can_afford(&self, loss: &PrivacyLoss) -> Result<bool> {
        let (first, delta) = self.amounts(loss)?;
        let st = self
            .state
            .lock()
            .map_err(|_| Error::Ledger("ledger lock poisoned".into()))?;
        Ok(match &self.limit {
            None => true,
            Some((lf, ld)) => &st.first + first <= *lf && &st.delta + delta <= *ld,
        })
    }

    /// The accepted charges, in order.
    ///
    /// # Errors
    /// [`Error::Ledger`] when the ledger's lock is poisoned.
    pub fn entries(&self) -> Result<Vec<LedgerEntry>> {
        let st = self
            .state
            .lock()
            .map_err(|_| Error::Ledger("ledger lock poisoned".into()))?;
        Ok(st.entries.clone())
    }

    /// The ledger as JSON: measure, budget (if any), totals, entries.
    ///
    /// # Errors
    /// [`Error::Ledger`] when the ledger's lock is poisoned.
    pub fn to_json(&self) -> Result<String> {
        let spent = self.spent()?;
        let entries = self.entries()?;
        let v = serde_json::json!({
            "composition": self.measure,
            "budget": self.limit.as_ref().map(|_| self.measure),
            "spent": spent,
            "entries": entries,
        });
        serde_json::to_string_pretty(&v).map_err(|e| Error::Ledger(e.to_string()))
    }

    /// Log the totals as metrics (`privacy_epsilon_spent`,
    /// `privacy_delta_spent`, `privacy_rho_spent` or
    /// `privacy_renyi_epsilon_spent`) and the ledger as the
    /// artifact `privacy/ledger.json`.
    ///
    /// # Errors
    /// [`Error::Ledger`] when the ledger's lock is poisoned; the tracker's
    /// errors as [`Error::Core`].
    pub fn log_to(&self, tracker: &dyn Tracker, run: &RunId) -> Result<()> {
        let spent = self.spent()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let step = self.entries()?.len() as i64;
        let metrics: Vec<MetricPoint> = [
            ("privacy_epsilon_spent", spent.epsilon),
            ("privacy_delta_spent", spent.delta),
            ("privacy_rho_spent", spent.rho),
            ("privacy_renyi_epsilon_spent", spent.renyi_epsilon),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.map(|value| MetricPoint {
                key: k.to_string(),
                value,
                step,
                timestamp_ms: now,
            })
        })
        .collect();
        tracker.log_metrics(run, &metrics)?;
        tracker.log_artifact(run, "privacy/ledger.json", self.to_json()?.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_cannot_sneak_past_the_budget() {
        // 0.1, 0.4 and 0.5 as doubles sum to 1 + 2^-55 exactly, though the
        // float sum rounds to 1.0: the exact total decides, in any order.
        assert_eq!(0.1 + 0.4 + 0.5, 1.0);
        for order in [[0.1, 0.4, 0.5], [0.5, 0.4, 0.1], [0.4, 0.1, 0.5]] {
            let ledger = PrivacyLedger::filter(Budget::Approximate {
                epsilon: 1.0,
                delta: 0.0,
            })
            .unwrap();
            ledger.charge("q", PrivacyLoss::Pure { epsilon: order[0] }).unwrap();
            ledger.charge("q", PrivacyLoss::Pure { epsilon: order[1] }).unwrap();
            assert!(ledger.charge("q", PrivacyLoss::Pure { epsilon: order[2] }).is_err());
            assert_eq!(ledger.entries().unwrap().len(), 2);
            assert!(ledger.spent().unwrap().epsilon.unwrap() >= order[0] + order[1]);
        }

        let ledger = PrivacyLedger::filter(Budget::Approximate {
            epsilon: 1.0,
            delta: 1e-6,
        })
        .unwrap();
        ledger.charge("a", PrivacyLoss::Pure { epsilon: 1.0 }).unwrap();
        // 1 + 2^-53: the float sum rounds back to 1.0, the exact one is over;
        // 1 + 2^-52 (1.0000000000000002) is over either way.
        assert!(!ledger.can_afford(&PrivacyLoss::Pure { epsilon: f64::EPSILON }).unwrap());
        let tiny = f64::EPSILON * 0.5;
        assert_eq!(1.0 + tiny, 1.0);
        let err = ledger.charge("b", PrivacyLoss::Pure { epsilon: tiny }).unwrap_err();
        assert!(matches!(err, Error::BudgetExceeded { .. }), "{err}");
        assert!(!ledger.can_afford(&PrivacyLoss::Pure { epsilon: tiny }).unwrap());
        ledger
            .charge(
                "c",
                PrivacyLoss::Approximate {
                    epsilon: 0.0,
                    delta: 1e-6,
                },
            )
            .unwrap();
        assert!(
            ledger
                .charge(
                    "d",
                    PrivacyLoss::Approximate {
                        epsilon: 0.0,
                        delta: 1e-300
                    }
                )
                .is_err()
        );
        assert!(ledger.charge("e", PrivacyLoss::Zcdp { rho: 0.1 }).is_err());
    }

    #[test]
    fn concurrent_charges_never_overspend() {
        let ledger = std::sync::Arc::new(PrivacyLedger::filter(Budget::Zcdp { rho: 1.0 }).unwrap());
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let l = ledger.clone();
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|_| l.charge("q", PrivacyLoss::Zcdp { rho: 0.01 }).is_ok())
                        .count()
                })
            })
            .collect();
        let accepted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        // 0.01 as a double is slightly above 1/100: exactly 99 charges fit.
        assert_eq!(accepted, 99);
        assert!(ledger.spent().unwrap().rho.unwrap() <= 1.0);
        let json = ledger.to_json().unwrap();
        assert!(json.contains("\"rho\""));
    }
}
