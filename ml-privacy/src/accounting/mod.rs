//! Privacy accounting: the losses a release reports, the conversions
//! between privacy measures, a budget ledger, and accountants for DP-SGD.
//!
//! Measures (each a guarantee about neighbouring data sets):
//! - pure ε-DP (Dwork, McSherry, Nissim, Smith 2006);
//! - approximate (ε, δ)-DP;
//! - ρ-zCDP, zero-concentrated DP (Bun and Steinke, "Concentrated
//!   Differential Privacy: Simplifications, Extensions, and Lower Bounds",
//!   TCC 2016);
//! - Rényi DP of order α (Mironov, "Rényi Differential Privacy", CSF 2017):
//!   a loss ([`PrivacyLoss::Renyi`]), a ledger measure
//!   ([`ledger::Budget::Renyi`]), and over a grid of orders in [`rdp`];
//!   [`pld`] composes privacy loss distributions directly and gives
//!   tighter (ε, δ).
//!
//! Every conversion rounds toward the weaker claim: a reported ε or ρ is
//! never smaller than the exact value of the bound it comes from.

pub mod ledger;
pub mod pld;
pub mod rdp;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What one release spent, in the measure its mechanism is analysed in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "measure", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrivacyLoss {
    /// ε-differential privacy.
    Pure {
        /// ε.
        epsilon: f64,
    },
    /// (ε, δ)-differential privacy.
    Approximate {
        /// ε.
        epsilon: f64,
        /// δ.
        delta: f64,
    },
    /// ρ-zero-concentrated differential privacy.
    Zcdp {
        /// ρ.
        rho: f64,
    },
    /// (α, ε)-Rényi differential privacy: the Rényi divergence of order α
    /// between the outputs on neighbouring data sets is at most ε.
    Renyi {
        /// The order α > 1.
        alpha: f64,
        /// ε at that order.
        epsilon: f64,
    },
}

impl PrivacyLoss {
    /// The loss as (ε, δ)-DP: pure losses have δ = 0; a zCDP loss needs a
    /// `delta` to convert at ([`zcdp_to_approximate`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zCDP or Rényi loss without
    /// `delta_for_zcdp`, or with one outside (0, 1).
    pub fn to_approximate(&self, delta_for_zcdp: Option<f64>) -> Result<(f64, f64)> {
        match *self {
            PrivacyLoss::Pure { epsilon } => Ok((epsilon, 0.0)),
            PrivacyLoss::Approximate { epsilon, delta } => Ok((epsilon, delta)),
            PrivacyLoss::Zcdp { rho } => {
                let delta = delta_for_zcdp
                    .ok_or_else(|| Error::param("delta", "a zCDP loss needs one to be stated as (epsilon, delta)"))?;
                Ok((zcdp_to_approximate(rho, delta)?, delta))
            }
            PrivacyLoss::Renyi { alpha, epsilon } => {
                let delta = delta_for_zcdp
                    .ok_or_else(|| Error::param("delta", "a Renyi loss needs one to be stated as (epsilon, delta)"))?;
                check_renyi(alpha, epsilon)?;
                crate::check_delta(delta)?;
                Ok((up(rdp_to_epsilon(alpha, epsilon, delta)).max(0.0), delta))
            }
        }
    }

    /// The loss as Rényi DP of order `alpha`, the smallest ε these standard
    /// implications give: ε-DP is (α, min(ε, αε²/2))-RDP (directly, and
    /// through ε²/2-zCDP); ρ-zCDP is (α, αρ)-RDP for every α (Bun and
    /// Steinke 2016, Definition 1.1); (α', ε)-RDP is (α, ε)-RDP for α ≤ α'
    /// (Rényi divergences grow with the order; Mironov 2017, Proposition
    /// 9). (ε, δ)-DP with δ > 0 implies no RDP bound.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an (ε, δ) loss with δ > 0, a Rényi loss
    /// of a lower order than `alpha`, an order that is not finite and > 1.
    pub fn to_renyi(&self, alpha: f64) -> Result<f64> {
        check_renyi(alpha, 0.0)?;
        match *self {
            PrivacyLoss::Pure { epsilon } | PrivacyLoss::Approximate { epsilon, delta: 0.0 } => {
                Ok(epsilon.min(up(alpha * epsilon * epsilon / 2.0)))
            }
            PrivacyLoss::Zcdp { rho } => Ok(up(alpha * rho)),
            PrivacyLoss::Renyi { alpha: a, epsilon } if alpha <= a => Ok(epsilon),
            PrivacyLoss::Renyi { alpha: a, .. } => Err(Error::param(
                "alpha",
                format!("a Renyi loss of order {a} implies nothing at the higher order {alpha}"),
            )),
            PrivacyLoss::Approximate { .. } => Err(Error::param(
                "loss",
                "an (epsilon, delta) loss with delta > 0 has no Renyi bound",
            )),
        }
    }

    /// The loss as ρ-zCDP: ε-DP implies ε²/2-zCDP (Bun and Steinke 2016,
    /// Proposition 1.4); (ε, δ)-DP with δ > 0 implies no zCDP bound.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an (ε, δ) loss with δ > 0 or a Rényi
    /// loss, which imply no zCDP bound.
    pub fn to_zcdp(&self) -> Result<f64> {
        match *self {
            PrivacyLoss::Pure { epsilon } => Ok(up(epsilon * epsilon / 2.0)),
            PrivacyLoss::Zcdp { rho } => Ok(rho),
            PrivacyLoss::Approximate { delta: 0.0, .. } => PrivacyLoss::Pure {
                epsilon: self.epsilon().unwrap_or(f64::INFINITY),
            }
            .to_zcdp(),
            PrivacyLoss::Approximate { .. } => Err(Error::param(
                "loss",
                "an (epsilon, delta) loss with delta > 0 has no zCDP bound",
            )),
            PrivacyLoss::Renyi { .. } => Err(Error::param("loss", "a Renyi loss at one order has no zCDP bound")),
        }
    }

    /// ε, where the measure has one.
    pub fn epsilon(&self) -> Option<f64> {
        match *self {
            PrivacyLoss::Pure { epsilon } | PrivacyLoss::Approximate { epsilon, .. } => Some(epsilon),
            PrivacyLoss::Zcdp { .. } | PrivacyLoss::Renyi { .. } => None,
        }
    }
}

/// An order α > 1 (finite) and an ε ≥ 0 (finite).
pub(crate) fn check_renyi(alpha: f64, epsilon: f64) -> Result<()> {
    if !(alpha > 1.0 && alpha.is_finite()) {
        return Err(Error::param(
            "Renyi order",
            format!("must be finite and > 1, got {}", ml_core::limits::readable(alpha)),
        ));
    }
    if !(epsilon >= 0.0 && epsilon.is_finite()) {
        return Err(Error::param(
            "Renyi epsilon",
            format!("must be finite and >= 0, got {}", ml_core::limits::readable(epsilon)),
        ));
    }
    Ok(())
}

/// A float computed in a few roundings, moved up past their error.
pub(crate) fn up(x: f64) -> f64 {
    x.next_up().next_up().next_up().next_up()
}

/// ε of (ε, δ)-DP implied by ρ-zCDP, by the conversion of Canonne, Kamath
/// and Steinke (2020, Proposition 12 / Corollary 13) through Rényi DP of
/// every order α > 1 (ρ-zCDP is (α, αρ)-RDP), minimised over α, and never
/// above Bun and Steinke's ρ + 2 sqrt(ρ ln(1/δ)).
///
/// # Errors
/// [`Error::InvalidParameter`] for ρ negative or not finite, δ outside (0, 1).
pub fn zcdp_to_approximate(rho: f64, delta: f64) -> Result<f64> {
    if !(rho >= 0.0 && rho.is_finite()) {
        return Err(Error::param(
            "rho",
            format!("must be finite and >= 0, got {}", ml_core::limits::readable(rho)),
        ));
    }
    crate::check_delta(delta)?;
    if rho == 0.0 {
        return Ok(0.0);
    }
    let simple = rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt();
    let at = |alpha: f64| rdp_to_epsilon(alpha, alpha * rho, delta);
    // The bound is convex in α near its minimum: golden-section search on
    // ln(α - 1), which covers α from 1 + 1e-9 to 1e9.
    let (mut lo, mut hi) = (-20.0f64, 20.0f64);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let f = |x: f64| at(1.0 + x.exp());
    let (mut x1, mut x2) = (hi - g * (hi - lo), lo + g * (hi - lo));
    let (mut f1, mut f2) = (f(x1), f(x2));
    for _ in 0..200 {
        if f1 < f2 {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - g * (hi - lo);
            f1 = f(x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + g * (hi - lo);
            f2 = f(x2);
        }
    }
    // Any α gives a valid bound: the search only has to find a good one.
    Ok(up(f1.min(f2).min(simple)).max(0.0))
}

/// ε of (ε, δ)-DP implied by (α, r)-Rényi DP (Canonne, Kamath, Steinke
/// 2020, Proposition 12; Asoodeh et al. 2020): r + ln(1 - 1/α) - ln(δ α) / (α - 1).
pub fn rdp_to_epsilon(alpha: f64, r: f64, delta: f64) -> f64 {
    if alpha <= 1.0 {
        return f64::INFINITY;
    }
    r + (-1.0 / alpha).ln_1p() - (delta * alpha).ln() / (alpha - 1.0)
}

/// The largest ρ (to a relative 1e-12, rounded down) whose
/// [`zcdp_to_approximate`] at `delta` is at most `epsilon`: how a Gaussian
/// release is calibrated to an (ε, δ) target.
///
/// # Errors
/// [`Error::InvalidParameter`] for ε not finite and > 0, δ outside (0, 1).
pub fn zcdp_for_approximate(epsilon: f64, delta: f64) -> Result<f64> {
    crate::check_positive("epsilon", epsilon)?;
    let (mut lo, mut hi) = (0.0f64, epsilon);
    while zcdp_to_approximate(hi, delta)? <= epsilon {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if zcdp_to_approximate(mid, delta)? <= epsilon {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    Ok(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_ordered_and_safe() {
        let rho = 0.5;
        let delta = 1e-6;
        let eps = zcdp_to_approximate(rho, delta).unwrap();
        let simple = rho + 2.0 * (rho * (1.0f64 / delta).ln()).sqrt();
        assert!(eps <= simple && eps > rho, "{eps} vs {simple}");
        // Inverse: the calibrated rho converts back to at most epsilon.
        let back = zcdp_for_approximate(eps, delta).unwrap();
        assert!(zcdp_to_approximate(back, delta).unwrap() <= eps);
        assert!((back - rho).abs() < 1e-6 * rho, "{back}");
        assert_eq!(PrivacyLoss::Pure { epsilon: 1.0 }.to_zcdp().unwrap(), up(0.5));
        assert!(zcdp_to_approximate(1.0, 0.0).is_err());
        assert!(zcdp_to_approximate(f64::NAN, 1e-5).is_err());
    }

    #[test]
    fn renyi_conversions() {
        // Pure: the zCDP route is tighter for small epsilon, the direct one
        // for large.
        assert_eq!(
            PrivacyLoss::Pure { epsilon: 0.1 }.to_renyi(2.0).unwrap(),
            up(2.0 * 0.1 * 0.1 / 2.0)
        );
        assert_eq!(PrivacyLoss::Pure { epsilon: 3.0 }.to_renyi(2.0).unwrap(), 3.0);
        assert_eq!(PrivacyLoss::Zcdp { rho: 0.5 }.to_renyi(4.0).unwrap(), up(2.0));
        let r = PrivacyLoss::Renyi {
            alpha: 8.0,
            epsilon: 1.5,
        };
        assert_eq!(r.to_renyi(2.0).unwrap(), 1.5);
        assert!(r.to_renyi(16.0).is_err());
        assert!(
            PrivacyLoss::Approximate {
                epsilon: 1.0,
                delta: 1e-6
            }
            .to_renyi(2.0)
            .is_err()
        );
        assert!(r.to_zcdp().is_err() && r.epsilon().is_none());
        // zCDP through a single order is never better than through the best.
        let (rho, delta) = (0.5, 1e-6);
        let best = zcdp_to_approximate(rho, delta).unwrap();
        for alpha in [2.0, 5.0, 10.0, 40.0] {
            let (eps, d) = PrivacyLoss::Renyi {
                alpha,
                epsilon: alpha * rho,
            }
            .to_approximate(Some(delta))
            .unwrap();
            assert_eq!(d, delta);
            assert!(eps >= best * (1.0 - 1e-9), "order {alpha}: {eps} < {best}");
        }
        assert!(
            PrivacyLoss::Renyi {
                alpha: 1.0,
                epsilon: 1.0
            }
            .to_approximate(Some(1e-6))
            .is_err()
        );
        assert!(r.to_approximate(None).is_err());
    }
}
