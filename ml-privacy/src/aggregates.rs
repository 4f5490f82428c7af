//! Differentially private aggregates of one data column, with the
//! sensitivity derived from clamping bounds and the neighbouring relation.
//!
//! Real values are clamped, rounded to a power-of-two grid and summed as
//! exact 128-bit integers, so the sum's sensitivity is exactly what the
//! bounds say: a float sum's rounding depends on the other records and can
//! exceed the textbook bound (Casacuberta et al., "Widespread
//! Underestimation of Sensitivity in Differentially Private Libraries",
//! CCS 2022). Integer overflow cannot happen below 2^100 rows.
//!
//! Neighbouring relations:
//! - [`Neighbouring::AddRemove`]: one record added or removed (the size is
//!   private);
//! - [`Neighbouring::Substitute`]: one record changed (the size is public,
//!   and a count is released exactly, at no cost).
//!
//! Queries that need several noisy statistics (mean, variance under
//! add/remove) split the budget evenly between them; each release reports
//! the total it spent.

use std::collections::BTreeMap;

use ml_core::Dataset;

use crate::accounting::{PrivacyLoss, zcdp_for_approximate, zcdp_to_approximate};
use crate::mechanisms::{ExponentialMechanism, Gaussian, Laplace, Lattice, Release};
use crate::ratio::{RoundUp, exact, integer};
use crate::rng::DpRng;
use crate::{Error, Result, check_delta, check_positive};

/// Which data sets count as neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbouring {
    /// One record added or removed.
    AddRemove,
    /// One record replaced by another.
    Substitute,
}

/// The noise and budget of a release.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoiseSpec {
    /// Discrete Laplace noise, ε-DP.
    Laplace {
        /// ε.
        epsilon: f64,
    },
    /// Discrete Gaussian noise calibrated in zCDP to (ε, δ)-DP.
    Gaussian {
        /// ε.
        epsilon: f64,
        /// δ.
        delta: f64,
    },
}

impl NoiseSpec {
    /// The one validation of a release's budget, before it is split: ε
    /// finite and above 0, δ (when given) in (0, 1). Errors quote the
    /// values as given.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `epsilon` or `delta`.
    pub fn validate(&self) -> Result<()> {
        let (epsilon, delta) = match *self {
            NoiseSpec::Laplace { epsilon } => (epsilon, None),
            NoiseSpec::Gaussian { epsilon, delta } => (epsilon, Some(delta)),
        };
        check_positive("epsilon", epsilon)?;
        if let Some(delta) = delta {
            check_delta(delta)?;
        }
        Ok(())
    }
}

/// Clamping bounds `lo <= hi`, both finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    lo: f64,
    hi: f64,
}

impl Bounds {
    /// Checked bounds.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for bounds that are not finite or not ordered.
    pub fn new(lo: f64, hi: f64) -> Result<Self> {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(Error::param(
                "bounds",
                format!(
                    "must be finite with lo <= hi, got [{}, {}]",
                    ml_core::limits::readable(lo),
                    ml_core::limits::readable(hi)
                ),
            ));
        }
        Ok(Bounds { lo, hi })
    }

    /// Lower bound.
    pub fn lo(&self) -> f64 {
        self.lo
    }

    /// Upper bound.
    pub fn hi(&self) -> f64 {
        self.hi
    }

    fn clamp(&self, x: f64) -> f64 {
        x.clamp(self.lo, self.hi)
    }
}

fn check_finite(values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::InvalidData(format!("non-finite value {} at row {i}", values[i]))),
        None => Ok(()),
    }
}

/// A share of a budget: one of `parts` equal pieces, each a little under
/// `1/parts` so that the exact sum of the pieces stays within the budget.
fn share(x: f64, parts: u32) -> f64 {
    if parts == 1 {
        x
    } else {
        (x / f64::from(parts)).next_down().next_down()
    }
}

/// One noisy statistic in lattice units, from a share of the budget.
enum Mech {
    Laplace(Laplace),
    /// With the number of coordinates each release has.
    Gaussian(Gaussian, usize),
}

impl Mech {
    fn new(spec: NoiseSpec, parts: u32, lattice: Lattice, du: u128) -> Result<Self> {
        Self::for_vectors(spec, parts, lattice, du, 1)
    }

    /// For `d`-coordinate releases (a histogram's counts).
    fn for_vectors(spec: NoiseSpec, parts: u32, lattice: Lattice, du: u128, d: usize) -> Result<Self> {
        spec.validate()?;
        Ok(match spec {
            NoiseSpec::Laplace { epsilon } => Mech::Laplace(Laplace::from_units(lattice, du, share(epsilon, parts))?),
            NoiseSpec::Gaussian { epsilon, delta } => {
                let rho = zcdp_for_approximate(epsilon, delta)?;
                Mech::Gaussian(Gaussian::for_vectors(lattice, du, share(rho, parts), d)?, d)
            }
        })
    }

    fn release(&self, rng: &mut DpRng, units: i128) -> f64 {
        match self {
            Mech::Laplace(m) => m.release_units(rng, units),
            Mech::Gaussian(m, _) => m.release_units(rng, units),
        }
    }

    /// ε (Laplace) or ρ (Gaussian) one release spends. A Gaussian vector
    /// release includes Theorem 14's term for independent coordinates; a
    /// Laplace one on the integer grid costs what a scalar does.
    fn spent(&self) -> f64 {
        match self {
            Mech::Laplace(m) => m.epsilon(),
            Mech::Gaussian(m, d) => m.vector_rho(*d),
        }
    }
}

/// The total loss of releases from `mechs` under `spec`: ε adds; ρ adds and
/// converts to (ε, δ), never reported above the requested ε.
fn total(spec: NoiseSpec, mechs: &[&Mech]) -> Result<PrivacyLoss> {
    let sum = mechs
        .iter()
        .map(|m| exact(m.spent(), "loss"))
        .try_fold(integer(0), |a, b| b.map(|b| a + b))?
        .to_f64_up();
    Ok(match spec {
        NoiseSpec::Laplace { .. } => PrivacyLoss::Pure { epsilon: sum },
        NoiseSpec::Gaussian { epsilon, delta } => PrivacyLoss::Approximate {
            epsilon: zcdp_to_approximate(sum, delta)?.min(epsilon),
            delta,
        },
    })
}

/// A count of `n` records: sensitivity 1 under add/remove; under
/// substitution the size is public and released exactly.
///
/// # Errors
/// [`Error::InvalidParameter`] for a noise specification outside its domain;
/// [`Error::Overflow`] when its calibration does not fit the samplers.
pub fn count(rng: &mut DpRng, n: usize, spec: NoiseSpec, rel: Neighbouring) -> Result<Release<f64>> {
    spec.validate()?;
    if rel == Neighbouring::Substitute {
        return Ok(Release {
            value: n as f64,
            loss: PrivacyLoss::Pure { epsilon: 0.0 },
        });
    }
    let m = Mech::new(spec, 1, Lattice::integers(), 1)?;
    Ok(Release {
        value: m.release(rng, n as i128),
        loss: total(spec, &[&m])?,
    })
}

/// Grid and per-record unit bounds for clamped values.
struct Units {
    lattice: Lattice,
    lo: i128,
    hi: i128,
}

impl Units {
    fn new(bounds: Bounds) -> Result<Self> {
        let span = bounds.lo.abs().max(bounds.hi.abs()).max(bounds.hi - bounds.lo);
        let lattice = if span == 0.0 {
            Lattice::integers()
        } else {
            Lattice::for_sensitivity(span, 20)?
        };
        Ok(Units {
            lattice,
            lo: lattice.units_of(bounds.lo)?,
            hi: lattice.units_of(bounds.hi)?,
        })
    }

    /// Sensitivity in units of a sum of clamped, rounded values.
    fn sum_sensitivity(&self, rel: Neighbouring) -> u128 {
        match rel {
            Neighbouring::AddRemove => self.lo.unsigned_abs().max(self.hi.unsigned_abs()),
            Neighbouring::Substitute => (self.hi - self.lo) as u128,
        }
        .max(1)
    }

    fn sum(&self, values: &[f64], bounds: Bounds) -> Result<i128> {
        values.iter().try_fold(0i128, |acc, &v| {
            let u = self.lattice.units_of(bounds.clamp(v))?;
            Ok(acc + u)
        })
    }
}

/// The sum of `values` clamped to `bounds`.
///
/// # Errors
/// [`Error::InvalidData`] for non-finite values; as [`count`] for the noise.
pub fn sum(
    rng: &mut DpRng,
    values: &[f64],
    bounds: Bounds,
    spec: NoiseSpec,
    rel: Neighbouring,
) -> Result<Release<f64>> {
    spec.validate()?;
    check_finite(values)?;
    let u = Units::new(bounds)?;
    let m = Mech::new(spec, 1, u.lattice, u.sum_sensitivity(rel))?;
    Ok(Release {
        value: m.release(rng, u.sum(values, bounds)?),
        loss: total(spec, &[&m])?,
    })
}

/// The mean of `values` clamped to `bounds`: a noisy sum over the public
/// size (substitution), or over a noisy count (add/remove, budget halved);
/// the result is clamped to the bounds (post-processing).
///
/// # Errors
/// As [`sum`].
pub fn mean(
    rng: &mut DpRng,
    values: &[f64],
    bounds: Bounds,
    spec: NoiseSpec,
    rel: Neighbouring,
) -> Result<Release<f64>> {
    spec.validate()?;
    check_finite(values)?;
    let u = Units::new(bounds)?;
    let s = u.sum(values, bounds)?;
    match rel {
        Neighbouring::Substitute => {
            if values.is_empty() {
                return Err(Error::InvalidData("mean of an empty column".into()));
            }
            let m = Mech::new(spec, 1, u.lattice, u.sum_sensitivity(rel))?;
            let value = bounds.clamp(m.release(rng, s) / values.len() as f64);
            Ok(Release {
                value,
                loss: total(spec, &[&m])?,
            })
        }
        Neighbouring::AddRemove => {
            let ms = Mech::new(spec, 2, u.lattice, u.sum_sensitivity(rel))?;
            let mc = Mech::new(spec, 2, Lattice::integers(), 1)?;
            let noisy_sum = ms.release(rng, s);
            let noisy_n = mc.release(rng, values.len() as i128).max(1.0);
            Ok(Release {
                value: bounds.clamp(noisy_sum / noisy_n),
                loss: total(spec, &[&ms, &mc])?,
            })
        }
    }
}

/// The (population) variance of `values` clamped to `bounds`, from noisy
/// count, sum and sum of squares (budget split in three under add/remove,
/// two under substitution), clamped to `[0, (hi - lo)^2 / 4]`.
///
/// # Errors
/// As [`sum`].
pub fn variance(
    rng: &mut DpRng,
    values: &[f64],
    bounds: Bounds,
    spec: NoiseSpec,
    rel: Neighbouring,
) -> Result<Release<f64>> {
    spec.validate()?;
    check_finite(values)?;
    let u = Units::new(bounds)?;
    // Squares live in [sq_lo, sq_hi].
    let (a, b) = (bounds.lo * bounds.lo, bounds.hi * bounds.hi);
    let sq_lo = if bounds.lo <= 0.0 && bounds.hi >= 0.0 {
        0.0
    } else {
        a.min(b)
    };
    let sq_bounds = Bounds::new(sq_lo, a.max(b))?;
    let squares: Vec<f64> = values.iter().map(|&v| bounds.clamp(v).powi(2)).collect();
    let u2 = Units::new(sq_bounds)?;
    let parts = if rel == Neighbouring::AddRemove { 3 } else { 2 };
    let ms = Mech::new(spec, parts, u.lattice, u.sum_sensitivity(rel))?;
    let mq = Mech::new(spec, parts, u2.lattice, u2.sum_sensitivity(rel))?;
    let s = ms.release(rng, u.sum(values, bounds)?);
    let q = mq.release(rng, u2.sum(&squares, sq_bounds)?);
    let (n, loss) = match rel {
        Neighbouring::Substitute => {
            if values.is_empty() {
                return Err(Error::InvalidData("variance of an empty column".into()));
            }
            (values.len() as f64, total(spec, &[&ms, &mq])?)
        }
        Neighbouring::AddRemove => {
            let mc = Mech::new(spec, parts, Lattice::integers(), 1)?;
            let n = mc.release(rng, values.len() as i128).max(1.0);
            (n, total(spec, &[&ms, &mq, &mc])?)
        }
    };
    let mean = s / n;
    let max_var = (bounds.hi - bounds.lo).powi(2) / 4.0;
    Ok(Release {
        value: (q / n - mean * mean).clamp(0.0, max_var),
        loss,
    })
}

/// Counts of `values` over known `categories` (values outside them are not
/// counted). L1 sensitivity 1 under add/remove, 2 under substitution.
///
/// # Errors
/// [`Error::InvalidParameter`] for no categories or repeated ones; as
/// [`count`] for the noise.
pub fn histogram(
    rng: &mut DpRng,
    values: &[String],
    categories: &[String],
    spec: NoiseSpec,
    rel: Neighbouring,
) -> Result<Release<Vec<f64>>> {
    spec.validate()?;
    if categories.is_empty() {
        return Err(Error::param("categories", "a histogram needs at least one"));
    }
    let index: BTreeMap<&str, usize> = categories.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    if index.len() != categories.len() {
        return Err(Error::param("categories", "repeat"));
    }
    let mut counts = vec![0i128; categories.len()];
    for v in values {
        if let Some(&i) = index.get(v.as_str()) {
            counts[i] += 1;
        }
    }
    let du = if rel == Neighbouring::AddRemove { 1 } else { 2 };
    let m = Mech::for_vectors(spec, 1, Lattice::integers(), du, categories.len())?;
    let value = counts.iter().map(|&c| m.release(rng, c)).collect();
    // Charged at L2 sensitivity du (sqrt(2) would do under substitution);
    // the noise was calibrated so that the vector stays within the budget.
    let loss = total(spec, &[&m])?;
    Ok(Release { value, loss })
}

/// Counts of the categories present in `values`, for when the categories
/// are not known in advance: discrete Laplace noise with L1 sensitivity 1
/// (2 under substitution), and a category is released only if its noisy
/// count reaches a threshold τ chosen so that a category held by one
/// record appears with probability at most δ (2δ under substitution, where
/// two categories can appear). Guarantee: (ε, δ)-DP (the stability-based
/// histogram of Korolova et al. 2009 and Bun, Nissim, Stemmer 2016).
///
/// # Errors
/// [`Error::InvalidParameter`] for δ outside (0, 1); as [`count`] for the noise.
pub fn histogram_unknown(
    rng: &mut DpRng,
    values: &[String],
    epsilon: f64,
    delta: f64,
    rel: Neighbouring,
) -> Result<Release<Vec<(String, f64)>>> {
    check_positive("epsilon", epsilon)?;
    check_delta(delta)?;
    let du: u64 = if rel == Neighbouring::AddRemove { 1 } else { 2 };
    let m = Laplace::integer_trusted(du, epsilon)?;
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for v in values {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    // A count of du from one record passes with probability
    // P(noise >= tau - du) = p^(tau - du) / (1 + p), p = exp(-1 / scale).
    let per_category = if rel == Neighbouring::AddRemove {
        delta
    } else {
        delta / 2.0
    };
    let p = (-1.0 / m.scale()).exp();
    let k = ((per_category * (1.0 + p)).ln() / p.ln()).ceil().max(0.0);
    let tau = du as f64 + k + 1.0;
    let mut out = Vec::new();
    for (c, n) in counts {
        let noisy = m.release_integer(rng, n)?.value as f64;
        if noisy >= tau {
            out.push((c.to_string(), noisy));
        }
    }
    Ok(Release {
        value: out,
        loss: PrivacyLoss::Approximate {
            epsilon: m.epsilon(),
            delta,
        },
    })
}

/// The `alpha`-quantile of `values` clamped to `bounds`, chosen by the
/// exponential mechanism among `candidates` evenly spaced points of the
/// bounds (Smith 2011): a candidate c scores `-|D #{x <= c} - A n|` with
/// `alpha = A / D` on a grid of 1/10000, which moves by at most D when one
/// record is added, removed or changed. Guarantee: ε-DP.
///
/// # Errors
/// [`Error::InvalidParameter`] for a quantile outside [0, 1], a candidate
/// count outside 2..=1000000, ε outside its domain; [`Error::InvalidData`]
/// for non-finite values.
pub fn quantile(
    rng: &mut DpRng,
    values: &[f64],
    bounds: Bounds,
    alpha: f64,
    candidates: usize,
    epsilon: f64,
) -> Result<Release<f64>> {
    check_finite(values)?;
    check_positive("epsilon", epsilon)?;
    if !(0.0..=1.0).contains(&alpha) {
        return Err(Error::param(
            "quantile",
            format!("must be in [0, 1], got {}", ml_core::limits::readable(alpha)),
        ));
    }
    if !(2..=1_000_000).contains(&candidates) {
        return Err(Error::param(
            "candidates",
            format!("must be in 2..=1000000, got {candidates}"),
        ));
    }
    const D: i64 = 10_000;
    let a = (alpha * D as f64).round() as i64;
    let mut sorted: Vec<f64> = values.iter().map(|&v| bounds.clamp(v)).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as i64;
    let step = (bounds.hi - bounds.lo) / (candidates - 1) as f64;
    let points: Vec<f64> = (0..candidates)
        .map(|i| {
            if i + 1 == candidates {
                bounds.hi
            } else {
                bounds.lo + step * i as f64
            }
        })
        .collect();
    let scores: Vec<i64> = points
        .iter()
        .map(|&c| {
            let below = sorted.partition_point(|&x| x <= c) as i64;
            -(D * below - a * n).abs()
        })
        .collect();
    let em = ExponentialMechanism::new_trusted(D as u64, epsilon, false)?;
    let pick = em.select(rng, &scores)?;
    Ok(Release {
        value: points[pick.value],
        loss: pick.loss,
    })
}

/// The values of the numeric column `name` of `data`.
///
/// # Errors
/// [`Error::Core`] for an unknown or non-numeric column.
pub fn column(data: &Dataset, name: &str) -> Result<Vec<f64>> {
    let names = data.feature_names();
    let j = names
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| Error::InvalidData(format!("no column '{name}' (columns: {})", names.join(", "))))?;
    Ok(data.features().column(j).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> DpRng {
        DpRng::insecure_seeded_for_tests(11)
    }

    #[test]
    fn float_sums_are_exact_before_noise() {
        // Values whose float sum depends on order: the unit sum does not.
        let u = Units::new(Bounds::new(-1e16, 1e16).unwrap()).unwrap();
        let b = Bounds::new(-1e16, 1e16).unwrap();
        let xs = [1e16, 1.0, -1e16, 1.0];
        let ys = [1e16, -1e16, 1.0, 1.0];
        assert_eq!(u.sum(&xs, b).unwrap(), u.sum(&ys, b).unwrap());
    }

    #[test]
    fn bad_input_is_refused() {
        let b = Bounds::new(0.0, 1.0).unwrap();
        let spec = NoiseSpec::Laplace { epsilon: 1.0 };
        assert!(sum(&mut rng(), &[0.5, f64::NAN], b, spec, Neighbouring::AddRemove).is_err());
        assert!(Bounds::new(1.0, 0.0).is_err());
        assert!(Bounds::new(f64::NEG_INFINITY, 0.0).is_err());
        assert!(mean(&mut rng(), &[], b, spec, Neighbouring::Substitute).is_err());
        assert!(quantile(&mut rng(), &[0.5], b, 1.5, 10, 1.0).is_err());
        assert!(histogram(&mut rng(), &[], &[], spec, Neighbouring::AddRemove).is_err());
        assert!(histogram_unknown(&mut rng(), &[], 1.0, 0.0, Neighbouring::AddRemove).is_err());
        assert!(
            sum(
                &mut rng(),
                &[0.5],
                b,
                NoiseSpec::Laplace { epsilon: -1.0 },
                Neighbouring::AddRemove
            )
            .is_err()
        );
    }

    #[test]
    fn every_release_refuses_the_same_budgets_quoting_them() {
        let mut rng = DpRng::insecure_seeded_for_tests(1);
        let values = [1.0, 2.0, 3.0];
        let b = Bounds::new(0.0, 5.0).unwrap();
        let cats = ["a".to_string()];
        let text = ["a".to_string()];
        for (eps, shown) in [(f64::INFINITY, "inf"), (-1.0, "-1"), (0.0, "0"), (f64::NAN, "NaN")] {
            let lap = NoiseSpec::Laplace { epsilon: eps };
            let gauss = NoiseSpec::Gaussian {
                epsilon: eps,
                delta: 1e-6,
            };
            for rel in [Neighbouring::AddRemove, Neighbouring::Substitute] {
                for spec in [lap, gauss] {
                    let errors = [
                        count(&mut rng, 3, spec, rel).err(),
                        sum(&mut rng, &values, b, spec, rel).err(),
                        mean(&mut rng, &values, b, spec, rel).err(),
                        variance(&mut rng, &values, b, spec, rel).err(),
                        histogram(&mut rng, &text, &cats, spec, rel).err(),
                    ];
                    for e in errors {
                        let e = e.expect("refused").to_string();
                        assert_eq!(
                            e,
                            format!("invalid parameter epsilon: must be finite and > 0, got {shown}")
                        );
                    }
                }
            }
            let e = quantile(&mut rng, &values, b, 0.5, 10, eps).unwrap_err().to_string();
            assert!(e.ends_with(&format!("got {shown}")), "{e}");
        }
        let e = Bounds::new(1e308, -1e308).unwrap_err().to_string();
        assert!(e.ends_with("got [1e308, -1e308]"), "{e}");
    }

    #[test]
    fn budget_splits_never_exceed_the_request() {
        let b = Bounds::new(0.0, 10.0).unwrap();
        let xs: Vec<f64> = (0..100).map(f64::from).collect();
        for eps in [0.1, 1.0, 3.0] {
            let spec = NoiseSpec::Laplace { epsilon: eps };
            let r = variance(&mut rng(), &xs, b, spec, Neighbouring::AddRemove).unwrap();
            assert!(r.loss.epsilon().unwrap() <= eps, "{:?}", r.loss);
            let r = mean(&mut rng(), &xs, b, spec, Neighbouring::AddRemove).unwrap();
            assert!(r.loss.epsilon().unwrap() <= eps);
            let spec = NoiseSpec::Gaussian {
                epsilon: eps,
                delta: 1e-6,
            };
            let r = variance(&mut rng(), &xs, b, spec, Neighbouring::Substitute).unwrap();
            assert!(r.loss.epsilon().unwrap() <= eps);
        }
    }
}
