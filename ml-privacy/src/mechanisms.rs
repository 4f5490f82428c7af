//! Mechanisms: exact noise added to a query's answer, with the privacy the
//! release spends.
//!
//! Real-valued answers go through a lattice (the snapping idea of Mironov
//! 2012, in the discrete form OpenDP uses): the answer is rounded to a
//! multiple of a power of two `2^k`, exact integer noise in those units is
//! added, and the sum is scaled back. Rounding two neighbouring answers can
//! move them apart by one more unit than their sensitivity, so the privacy
//! map charges `ceil(sensitivity / 2^k) + 1` units: the slack is in the
//! reported ε or ρ, never left out. `k` is chosen from the sensitivity so
//! that the slack costs about 2^-20 (Laplace) or 2^-12 (Gaussian) of it.
//! The noise parameters are rounded so that the spent ε or ρ is at most the
//! one asked for; the loss reported is the exact spent value rounded up to
//! a double.

use serde::Serialize;

use crate::accounting::{PrivacyLoss, up, zcdp_for_approximate};
use crate::exact::{DiscreteGaussian, bernoulli_exp, discrete_laplace};
use num_bigint::BigUint;

use crate::ratio::{Ratio, RoundUp, ceil_u128, decompose, exact};
use crate::rng::DpRng;
use crate::{Error, Result};

/// A released value and the privacy it spent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Release<T> {
    /// The differentially private value.
    pub value: T,
    /// What releasing it spent.
    pub loss: PrivacyLoss,
}

/// Denominator of the Laplace scale `t / s`: scales are multiples of 2^-20
/// of a unit, rounded up.
const LAPLACE_S: u128 = 1 << 20;
/// Denominator of the discrete Gaussian's variance `a / b` in units.
const GAUSS_B: u128 = 1 << 8;

/// The grid real answers are rounded to: multiples of `2^exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lattice {
    pub(crate) exp: i32,
    /// Integer queries: answers are already integers, no rounding slack.
    pub(crate) integer: bool,
}

impl Lattice {
    pub(crate) fn integers() -> Self {
        Lattice { exp: 0, integer: true }
    }

    /// A grid `2^-bits` of the sensitivity's leading power of two.
    pub(crate) fn for_sensitivity(sensitivity: f64, bits: i32) -> Result<Self> {
        if !(sensitivity.is_finite() && (1e-290..=1e290).contains(&sensitivity)) {
            return Err(Error::param(
                "sensitivity",
                format!(
                    "must be finite and in [1e-290, 1e290], got {}",
                    ml_core::limits::readable(sensitivity)
                ),
            ));
        }
        let (m, e) = decompose(sensitivity);
        let log2 = e + 63 - m.leading_zeros() as i32;
        Ok(Lattice {
            exp: log2 - bits,
            integer: false,
        })
    }

    /// The grid for real answers with `sensitivity` (2^-bits of its leading
    /// power of two), and that sensitivity in its units.
    fn real(sensitivity: f64, bits: i32) -> Result<(Self, u128)> {
        let l = Self::for_sensitivity(sensitivity, bits)?;
        Ok((l, l.sensitivity_units(sensitivity)?))
    }

    /// The integer grid and an integer sensitivity (0 is refused by the
    /// mechanisms' constructors).
    fn integer(sensitivity: u64) -> (Self, u128) {
        (Self::integers(), u128::from(sensitivity))
    }

    /// The sensitivity in lattice units, with one unit of rounding slack
    /// for real answers.
    fn sensitivity_units(&self, sensitivity: f64) -> Result<u128> {
        let r = exact(sensitivity, "sensitivity")?;
        let unit = self.unit();
        let units = ceil_u128(&(r / unit), "sensitivity in lattice units")?;
        Ok(if self.integer { units } else { units + 1 })
    }

    fn unit(&self) -> Ratio {
        if self.exp >= 0 {
            Ratio::from_integer(BigUint::from(1u8) << self.exp as usize)
        } else {
            Ratio::new(BigUint::from(1u8), BigUint::from(1u8) << (-self.exp) as usize)
        }
    }

    /// `x` rounded to the nearest lattice point, in units.
    pub(crate) fn units_of(self, x: f64) -> Result<i128> {
        if !x.is_finite() {
            return Err(Error::InvalidData(format!("non-finite value {x}")));
        }
        let (m, e) = decompose(x.abs());
        let shift = e - self.exp;
        let u: i128 = if shift >= 0 {
            if shift > 70 {
                return Err(Error::InvalidData(format!(
                    "value {x} is more than 2^120 noise-lattice units; clamp it first"
                )));
            }
            i128::from(m) << shift
        } else if -shift >= 64 {
            0
        } else {
            let s = -shift;
            i128::from((m >> s) + ((m >> (s - 1)) & 1))
        };
        Ok(if x < 0.0 { -u } else { u })
    }

    /// Every value of `values` in units (all or an error).
    fn units_of_all(self, values: &[f64]) -> Result<Vec<i128>> {
        values.iter().map(|&v| self.units_of(v)).collect()
    }

    /// `value + noise` for an integer answer, saturated to `i64`; refused on
    /// a real lattice.
    fn noisy_integer(self, value: i64, noise: i128, mechanism: &str) -> Result<i64> {
        if !self.integer {
            return Err(Error::param(
                "mechanism",
                format!("release_integer needs {mechanism}::integer"),
            ));
        }
        let noisy = i128::from(value).saturating_add(noise);
        Ok(noisy.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }

    pub(crate) fn value_of(self, u: i128) -> f64 {
        let half = self.exp / 2;
        (u as f64) * 2f64.powi(half) * 2f64.powi(self.exp - half)
    }
}

/// The Laplace mechanism with exact discrete Laplace noise (the two-sided
/// geometric mechanism of Ghosh, Roughgarden and Sundararajan 2009 on an
/// integer grid; Canonne, Kamath and Steinke 2020 for the sampler).
///
/// Guarantee: ε-DP for a query whose answers on neighbouring data sets
/// differ by at most `sensitivity` in L1 norm (summed over a vector).
#[derive(Debug, Clone)]
pub struct Laplace {
    lattice: Lattice,
    /// Charged sensitivity of a scalar answer, in lattice units.
    du: u128,
    /// Noise scale in lattice units: t / LAPLACE_S.
    t: u128,
    epsilon: f64,
}

impl Laplace {
    /// For real-valued answers with L1 `sensitivity`, spending at most `epsilon`.
    ///
    /// The guarantee rests on the caller: requires the `honest-but-curious`
    /// feature. [`crate::aggregates`] derives sensitivities itself.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a sensitivity or ε outside its domain;
    /// [`Error::Overflow`] when the noise scale does not fit the sampler.
    #[cfg(feature = "honest-but-curious")]
    pub fn new(sensitivity: f64, epsilon: f64) -> Result<Self> {
        Self::new_trusted(sensitivity, epsilon)
    }

    #[cfg_attr(not(feature = "honest-but-curious"), allow(dead_code))]
    pub(crate) fn new_trusted(sensitivity: f64, epsilon: f64) -> Result<Self> {
        let (lattice, du) = Lattice::real(sensitivity, 20)?;
        Self::from_units(lattice, du, epsilon)
    }

    /// For integer answers (counts, integer sums) with integer sensitivity.
    ///
    /// The guarantee rests on the caller: requires the `honest-but-curious`
    /// feature. [`crate::aggregates`] derives sensitivities itself.
    ///
    /// # Errors
    /// As [`Laplace::new`].
    #[cfg(feature = "honest-but-curious")]
    pub fn integer(sensitivity: u64, epsilon: f64) -> Result<Self> {
        Self::integer_trusted(sensitivity, epsilon)
    }

    #[cfg_attr(not(feature = "honest-but-curious"), allow(dead_code))]
    pub(crate) fn integer_trusted(sensitivity: u64, epsilon: f64) -> Result<Self> {
        let (lattice, du) = Lattice::integer(sensitivity);
        Self::from_units(lattice, du, epsilon)
    }

    /// On `lattice`, for answers whose sensitivity is `du` units.
    pub(crate) fn from_units(lattice: Lattice, du: u128, epsilon: f64) -> Result<Self> {
        crate::check_positive("epsilon", epsilon)?;
        if du == 0 {
            return Err(Error::param("sensitivity", "must be > 0"));
        }
        let eps = exact(epsilon, "epsilon")?;
        // scale = du / eps units, as t / S with t rounded up.
        let t = ceil_u128(
            &(Ratio::from_integer(BigUint::from(du) * LAPLACE_S) / eps),
            "Laplace scale (epsilon too small for this sensitivity)",
        )?;
        // Spent: du * S / t <= epsilon.
        let spent = Ratio::new(BigUint::from(du) * LAPLACE_S, BigUint::from(t)).to_f64_up();
        Ok(Laplace {
            lattice,
            du,
            t,
            epsilon: spent,
        })
    }

    /// The ε one release spends.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The noise scale in the answer's units.
    pub fn scale(&self) -> f64 {
        self.t as f64 / LAPLACE_S as f64 * self.lattice.value_of(1)
    }

    fn noise_units(&self, rng: &mut DpRng) -> i128 {
        discrete_laplace(rng, self.t, LAPLACE_S)
    }

    /// `units` plus noise, as a real number.
    pub(crate) fn release_units(&self, rng: &mut DpRng, units: i128) -> f64 {
        self.lattice.value_of(units.saturating_add(self.noise_units(rng)))
    }

    /// Release one real answer.
    ///
    /// # Errors
    /// [`Error::InvalidData`] for a non-finite value or one beyond the
    /// lattice's range.
    pub fn release(&self, rng: &mut DpRng, value: f64) -> Result<Release<f64>> {
        let u = self.lattice.units_of(value)?;
        Ok(Release {
            value: self.release_units(rng, u),
            loss: PrivacyLoss::Pure { epsilon: self.epsilon },
        })
    }

    /// Release a vector whose L1 sensitivity is the mechanism's. Rounding
    /// each of d real coordinates to the lattice can add one unit each to
    /// the L1 distance, so the loss charges `d - 1` units more than a
    /// scalar release (nothing more for integer answers).
    ///
    /// # Errors
    /// As [`Laplace::release`], for any coordinate.
    pub fn release_vector(&self, rng: &mut DpRng, values: &[f64]) -> Result<Release<Vec<f64>>> {
        let units = self.lattice.units_of_all(values)?;
        let value = units.into_iter().map(|u| self.release_units(rng, u)).collect();
        let epsilon = if self.lattice.integer || values.len() <= 1 {
            self.epsilon
        } else {
            let du = self.du + values.len() as u128 - 1;
            Ratio::new(BigUint::from(du) * LAPLACE_S, BigUint::from(self.t)).to_f64_up()
        };
        Ok(Release {
            value,
            loss: PrivacyLoss::Pure { epsilon },
        })
    }

    /// Release an integer answer (mechanisms built with `Laplace::integer`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a mechanism built for real answers.
    pub fn release_integer(&self, rng: &mut DpRng, value: i64) -> Result<Release<i64>> {
        Ok(Release {
            value: self.lattice.noisy_integer(value, self.noise_units(rng), "Laplace")?,
            loss: PrivacyLoss::Pure { epsilon: self.epsilon },
        })
    }

    /// `n` raw noise draws in the answer's units (for tests and benchmarks).
    pub fn sample_noise(&self, rng: &mut DpRng, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.lattice.value_of(self.noise_units(rng))).collect()
    }
}

/// The Gaussian mechanism with exact discrete Gaussian noise (Canonne,
/// Kamath and Steinke 2020).
///
/// Guarantee: ρ-zCDP for a scalar query with `sensitivity` (Theorem 4 of
/// the paper); a vector release adds the paper's Theorem 14 term for
/// independent coordinates. `Gaussian::approximate` calibrates ρ to an
/// (ε, δ) target through [`crate::accounting::zcdp_to_approximate`].
#[derive(Debug, Clone)]
pub struct Gaussian {
    lattice: Lattice,
    du: u128,
    /// sigma^2 = a / GAUSS_B in lattice units.
    a: u128,
    sampler: DiscreteGaussian,
    rho: f64,
    /// Set when calibrated to (ε, δ): the loss is then reported that way.
    /// With the ρ budget that (ε, δ) converts from.
    approximate: Option<(f64, f64, f64)>,
}

impl Gaussian {
    /// For real-valued answers with L2 `sensitivity`, spending at most `rho` (zCDP).
    ///
    /// The guarantee rests on the caller: requires the `honest-but-curious`
    /// feature. [`crate::aggregates`] derives sensitivities itself.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a sensitivity or ρ outside its domain;
    /// [`Error::Overflow`] when the variance does not fit the sampler.
    #[cfg(feature = "honest-but-curious")]
    pub fn new(sensitivity: f64, rho: f64) -> Result<Self> {
        Self::new_trusted(sensitivity, rho)
    }

    #[cfg_attr(not(feature = "honest-but-curious"), allow(dead_code))]
    pub(crate) fn new_trusted(sensitivity: f64, rho: f64) -> Result<Self> {
        let (lattice, du) = Lattice::real(sensitivity, 12)?;
        Self::from_units(lattice, du, rho)
    }

    /// For integer answers with integer sensitivity.
    ///
    /// The guarantee rests on the caller: requires the `honest-but-curious`
    /// feature. [`crate::aggregates`] derives sensitivities itself.
    ///
    /// # Errors
    /// As [`Gaussian::new`].
    #[cfg(feature = "honest-but-curious")]
    pub fn integer(sensitivity: u64, rho: f64) -> Result<Self> {
        Self::integer_trusted(sensitivity, rho)
    }

    #[cfg_attr(not(feature = "honest-but-curious"), allow(dead_code))]
    pub(crate) fn integer_trusted(sensitivity: u64, rho: f64) -> Result<Self> {
        let (lattice, du) = Lattice::integer(sensitivity);
        Self::from_units(lattice, du, rho)
    }

    /// For real-valued answers, calibrated to (ε, δ)-DP.
    ///
    /// The guarantee rests on the caller: requires the `honest-but-curious`
    /// feature. [`crate::aggregates`] derives sensitivities itself.
    ///
    /// # Errors
    /// As [`Gaussian::new`], and for δ outside (0, 1).
    #[cfg(feature = "honest-but-curious")]
    pub fn approximate(sensitivity: f64, epsilon: f64, delta: f64) -> Result<Self> {
        Self::approximate_trusted(sensitivity, epsilon, delta)
    }

    #[cfg_attr(not(feature = "honest-but-curious"), allow(dead_code))]
    pub(crate) fn approximate_trusted(sensitivity: f64, epsilon: f64, delta: f64) -> Result<Self> {
        let (lattice, du) = Lattice::real(sensitivity, 12)?;
        Self::calibrated(lattice, du, 1, epsilon, delta)
    }

    /// For integer answers, calibrated to (ε, δ)-DP.
    ///
    /// The guarantee rests on the caller: requires the `honest-but-curious`
    /// feature. [`crate::aggregates`] derives sensitivities itself.
    ///
    /// # Errors
    /// As [`Gaussian::approximate`].
    #[cfg(feature = "honest-but-curious")]
    pub fn integer_approximate(sensitivity: u64, epsilon: f64, delta: f64) -> Result<Self> {
        Self::integer_approximate_trusted(sensitivity, epsilon, delta)
    }

    /// Real `d`-coordinate answers with L2 `sensitivity`, calibrated so
    /// that a vector release spends at most (ε, δ).
    pub(crate) fn approximate_vector_trusted(sensitivity: f64, d: usize, epsilon: f64, delta: f64) -> Result<Self> {
        let (lattice, du) = Lattice::real(sensitivity, 12)?;
        Self::calibrated(lattice, du, d, epsilon, delta)
    }

    #[cfg_attr(not(feature = "honest-but-curious"), allow(dead_code))]
    pub(crate) fn integer_approximate_trusted(sensitivity: u64, epsilon: f64, delta: f64) -> Result<Self> {
        let (lattice, du) = Lattice::integer(sensitivity);
        Self::calibrated(lattice, du, 1, epsilon, delta)
    }

    /// Noise for `d`-coordinate releases within (ε, δ), through the ρ that
    /// converts to it; losses are then reported as (ε, δ).
    fn calibrated(lattice: Lattice, du: u128, d: usize, epsilon: f64, delta: f64) -> Result<Self> {
        let rho = zcdp_for_approximate(epsilon, delta)?;
        let mut g = Self::for_vectors(lattice, du, rho, d)?;
        g.approximate = Some((epsilon, delta, rho));
        Ok(g)
    }

    /// On `lattice`, for `d`-coordinate answers whose L2 sensitivity is
    /// `du` units, with the noise set so that a vector release (rounding
    /// slack and Theorem 14's term included) spends at most `rho`.
    pub(crate) fn for_vectors(lattice: Lattice, du: u128, rho: f64, d: usize) -> Result<Self> {
        let mut target = rho;
        for _ in 0..50 {
            let g = Self::from_units(lattice, du, target)?;
            let spent = g.vector_rho(d);
            if spent <= rho {
                return Ok(g);
            }
            target *= (rho / spent) * (1.0 - 1e-9);
        }
        Err(Error::param(
            "rho",
            format!("no Gaussian noise fits {rho} for {d} coordinates"),
        ))
    }

    /// On `lattice`, for answers whose L2 sensitivity is `du` units.
    pub(crate) fn from_units(lattice: Lattice, du: u128, rho: f64) -> Result<Self> {
        crate::check_positive("rho", rho)?;
        if du == 0 {
            return Err(Error::param("sensitivity", "must be > 0"));
        }
        let r = exact(rho, "rho")?;
        // sigma^2 = du^2 / (2 rho) units^2 = a / B with a rounded up.
        let du2 = BigUint::from(du) * du;
        let a = ceil_u128(
            &(Ratio::from_integer(&du2 * GAUSS_B) / (r * BigUint::from(2u8))),
            "Gaussian variance (rho too small for this sensitivity)",
        )?;
        let sampler = DiscreteGaussian::new(a, GAUSS_B)?;
        // Spent: du^2 B / (2 a) <= rho.
        let spent = Ratio::new(du2 * GAUSS_B, BigUint::from(a) * 2u8).to_f64_up();
        Ok(Gaussian {
            lattice,
            du,
            a,
            sampler,
            rho: spent,
            approximate: None,
        })
    }

    /// The ρ (zCDP) one scalar release spends.
    pub fn rho(&self) -> f64 {
        self.rho
    }

    /// The noise's standard deviation parameter σ in the answer's units.
    pub fn sigma(&self) -> f64 {
        (self.a as f64 / GAUSS_B as f64).sqrt() * self.lattice.value_of(1)
    }

    fn loss(&self, rho: f64) -> PrivacyLoss {
        match self.approximate {
            // Within the ρ that (ε, δ) was calibrated from: (ε, δ) holds.
            Some((epsilon, delta, budget)) if rho <= budget => PrivacyLoss::Approximate { epsilon, delta },
            // A release past it (a vector from a scalar calibration): convert what was spent.
            Some((epsilon, delta, _)) => PrivacyLoss::Approximate {
                epsilon: crate::accounting::zcdp_to_approximate(rho, delta).map_or(f64::INFINITY, |e| e.max(epsilon)),
                delta,
            },
            None => PrivacyLoss::Zcdp { rho },
        }
    }

    /// `units` plus noise, as a real number.
    pub(crate) fn release_units(&self, rng: &mut DpRng, units: i128) -> f64 {
        self.lattice.value_of(units.saturating_add(self.sampler.sample(rng)))
    }

    /// Release one real answer.
    ///
    /// # Errors
    /// [`Error::InvalidData`] for a non-finite value or one beyond the
    /// lattice's range.
    pub fn release(&self, rng: &mut DpRng, value: f64) -> Result<Release<f64>> {
        let u = self.lattice.units_of(value)?;
        Ok(Release {
            value: self.release_units(rng, u),
            loss: self.loss(self.rho),
        })
    }

    /// Release a vector whose L2 sensitivity is the mechanism's, with
    /// independent noise per coordinate. Rounding d real coordinates to the
    /// lattice can add `sqrt(d)` units to the L2 distance (one for a
    /// scalar), which the loss charges; ρ also grows by a bound on
    /// Theorem 14's term (negligible once σ is a few units).
    ///
    /// # Errors
    /// As [`Gaussian::release`], for any coordinate.
    pub fn release_vector(&self, rng: &mut DpRng, values: &[f64]) -> Result<Release<Vec<f64>>> {
        let units = self.lattice.units_of_all(values)?;
        let value = units.into_iter().map(|u| self.release_units(rng, u)).collect();
        Ok(Release {
            value,
            loss: self.loss(self.vector_rho(values.len())),
        })
    }

    /// ρ of a d-coordinate release: with ε² = du²/σ² (du including the
    /// vector's rounding slack), τ = 10 Σ_{k=1}^{d-1} exp(-2π²σ² k/(k+1))
    /// per coordinate, ε̂ = min(sqrt(ε² + 5dτ), ε + 10dτ) and ρ = ε̂²/2: at
    /// least the bound of Canonne, Kamath and Steinke 2020, Theorem 14.
    pub(crate) fn vector_rho(&self, d: usize) -> f64 {
        if d <= 1 {
            return self.rho;
        }
        let base = if self.lattice.integer {
            self.rho
        } else {
            // One unit of slack is in du already; a vector needs sqrt(d).
            let du = self.du - 1 + crate::exact::isqrt(d as u128 - 1) + 1;
            let du2 = BigUint::from(du) * du;
            Ratio::new(du2 * GAUSS_B, BigUint::from(self.a) * 2u8).to_f64_up()
        };
        let sigma2 = self.a as f64 / GAUSS_B as f64;
        let tau: f64 = (1..d)
            .map(|k| (-2.0 * std::f64::consts::PI.powi(2) * sigma2 * k as f64 / (k as f64 + 1.0)).exp())
            .sum::<f64>()
            * 10.0;
        let eps2 = 2.0 * base;
        let total_tau = up(d as f64 * tau);
        let eps_hat = (eps2 + 5.0 * total_tau).sqrt().min(eps2.sqrt() + 10.0 * total_tau);
        up(eps_hat * eps_hat / 2.0).max(base)
    }

    /// Release an integer answer (mechanisms built with `Gaussian::integer`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a mechanism built for real answers.
    pub fn release_integer(&self, rng: &mut DpRng, value: i64) -> Result<Release<i64>> {
        Ok(Release {
            value: self
                .lattice
                .noisy_integer(value, self.sampler.sample(rng), "Gaussian")?,
            loss: self.loss(self.rho),
        })
    }

    /// `n` raw noise draws in the answer's units (for tests and benchmarks).
    pub fn sample_noise(&self, rng: &mut DpRng, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| self.lattice.value_of(self.sampler.sample(rng)))
            .collect()
    }

    /// The sensitivity in lattice units the privacy map charges.
    pub fn sensitivity_units(&self) -> u128 {
        self.du
    }
}

/// ε rounded down to a multiple of 2^-40, as an exact `n / 2^40`.
fn epsilon_grid(epsilon: f64) -> Result<(u128, f64)> {
    if !(epsilon > 0.0 && epsilon < 1e9) {
        return Err(Error::param(
            "epsilon",
            format!("must be in (0, 1e9), got {}", ml_core::limits::readable(epsilon)),
        ));
    }
    let n = (epsilon * (1u64 << 40) as f64).floor() as u128;
    if n == 0 {
        return Err(Error::param("epsilon", format!("{epsilon} is below 2^-40")));
    }
    Ok((n, n as f64 / (1u64 << 40) as f64))
}

/// Selection from integer scores: candidate `i`'s weight is
/// `exp(-(max - score_i) / scale)`, `scale = 2Δ/ε` (`Δ/ε` when scores are
/// monotone in the data, as counts are).
#[derive(Debug, Clone)]
struct Selection {
    /// exp(-diff * num / den).
    num: u128,
    den: u128,
    epsilon: f64,
}

impl Selection {
    fn new(sensitivity: u64, epsilon: f64, monotonic: bool) -> Result<Self> {
        if sensitivity == 0 {
            return Err(Error::param("sensitivity", "must be > 0"));
        }
        let (n, spent) = epsilon_grid(epsilon)?;
        let factor = if monotonic { 1 } else { 2 };
        Ok(Selection {
            num: n,
            den: u128::from(sensitivity) * factor * (1u128 << 40),
            epsilon: spent,
        })
    }

    fn check(scores: &[i64]) -> Result<i64> {
        scores
            .iter()
            .copied()
            .max()
            .ok_or_else(|| Error::InvalidData("no candidates to select from".into()))
    }

    /// Whether candidate with `score` passes its Bernoulli(weight) trial.
    fn trial(&self, rng: &mut DpRng, max: i64, score: i64) -> bool {
        let diff = (i128::from(max) - i128::from(score)) as u128;
        match diff.checked_mul(self.num) {
            Some(num) => bernoulli_exp(rng, num, self.den),
            // exp(-g) for g >= 2^64: a success probability below any double.
            None => false,
        }
    }
}

/// The exponential mechanism (McSherry and Talwar 2007) over integer
/// scores, sampled exactly: propose a uniform candidate and accept it with
/// probability `exp(-(max - score) ε / (2Δ))`, which draws candidate `i`
/// with probability proportional to `exp(ε score_i / (2Δ))`.
///
/// Guarantee: ε-DP when each score changes by at most `sensitivity`
/// between neighbours (ε/2Δ becomes ε/Δ for monotone scores).
#[derive(Debug, Clone)]
pub struct ExponentialMechanism {
    sel: Selection,
}

impl ExponentialMechanism {
    /// `monotonic`: all scores move in the same direction between neighbours.
    ///
    /// The guarantee rests on the caller: requires the `honest-but-curious`
    /// feature. [`crate::aggregates`] derives sensitivities itself.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a zero sensitivity or ε outside its domain.
    #[cfg(feature = "honest-but-curious")]
    pub fn new(sensitivity: u64, epsilon: f64, monotonic: bool) -> Result<Self> {
        Self::new_trusted(sensitivity, epsilon, monotonic)
    }

    #[cfg_attr(not(feature = "honest-but-curious"), allow(dead_code))]
    pub(crate) fn new_trusted(sensitivity: u64, epsilon: f64, monotonic: bool) -> Result<Self> {
        Ok(ExponentialMechanism {
            sel: Selection::new(sensitivity, epsilon, monotonic)?,
        })
    }

    /// The ε one selection spends.
    pub fn epsilon(&self) -> f64 {
        self.sel.epsilon
    }

    /// The index of the selected candidate.
    ///
    /// # Errors
    /// [`Error::InvalidData`] for no candidates.
    pub fn select(&self, rng: &mut DpRng, scores: &[i64]) -> Result<Release<usize>> {
        let max = Selection::check(scores)?;
        let n = scores.len() as u128;
        loop {
            let i = rng.below(n) as usize;
            if self.sel.trial(rng, max, scores[i]) {
                return Ok(Release {
                    value: i,
                    loss: PrivacyLoss::Pure {
                        epsilon: self.sel.epsilon,
                    },
                });
            }
        }
    }
}

/// Report-noisy-max with exponential noise, sampled exactly as
/// permute-and-flip (McKenna and Sheldon, NeurIPS 2020; Ding, Kifer et al.
/// 2021 show the two have the same output distribution): visit the
/// candidates in a uniformly random order and stop at the first whose
/// Bernoulli(`exp(-(max - score) ε / (2Δ))`) succeeds. The best candidate
/// always succeeds, so one pass suffices.
///
/// Guarantee: ε-DP under the same conditions as [`ExponentialMechanism`],
/// whose expected score it never falls below.
#[derive(Debug, Clone)]
pub struct ReportNoisyMax {
    sel: Selection,
}

impl ReportNoisyMax {
    /// `monotonic`: all scores move in the same direction between neighbours.
    ///
    /// The guarantee rests on the caller: requires the `honest-but-curious`
    /// feature. [`crate::aggregates`] derives sensitivities itself.
    ///
    /// # Errors
    /// As [`ExponentialMechanism::new`].
    #[cfg(feature = "honest-but-curious")]
    pub fn new(sensitivity: u64, epsilon: f64, monotonic: bool) -> Result<Self> {
        Self::new_trusted(sensitivity, epsilon, monotonic)
    }

    #[cfg_attr(not(feature = "honest-but-curious"), allow(dead_code))]
    pub(crate) fn new_trusted(sensitivity: u64, epsilon: f64, monotonic: bool) -> Result<Self> {
        Ok(ReportNoisyMax {
            sel: Selection::new(sensitivity, epsilon, monotonic)?,
        })
    }

    /// The ε one selection spends.
    pub fn epsilon(&self) -> f64 {
        self.sel.epsilon
    }

    /// The index of the selected candidate.
    ///
    /// # Errors
    /// As [`ExponentialMechanism::select`].
    pub fn select(&self, rng: &mut DpRng, scores: &[i64]) -> Result<Release<usize>> {
        let max = Selection::check(scores)?;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        // Fisher-Yates with exact uniform indices, visiting as it shuffles.
        for k in 0..order.len() {
            let j = k + rng.below((order.len() - k) as u128) as usize;
            order.swap(k, j);
            let i = order[k];
            if self.sel.trial(rng, max, scores[i]) {
                return Ok(Release {
                    value: i,
                    loss: PrivacyLoss::Pure {
                        epsilon: self.sel.epsilon,
                    },
                });
            }
        }
        unreachable!("the best candidate's trial always succeeds")
    }
}

/// k-ary randomized response (Warner 1965): the true category with
/// probability `e^ε / (e^ε + k - 1)`, each other one with `1 / (e^ε + k - 1)`,
/// sampled exactly by proposing a uniform category and accepting a wrong
/// one with probability `exp(-ε)`.
///
/// Guarantee: ε-local DP for one respondent's category.
#[derive(Debug, Clone)]
pub struct RandomizedResponse {
    categories: usize,
    num: u128,
    epsilon: f64,
}

impl RandomizedResponse {
    /// Over `categories >= 2` categories.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for fewer than 2 categories or ε outside
    /// (0, 1e9).
    pub fn new(categories: usize, epsilon: f64) -> Result<Self> {
        if categories < 2 {
            return Err(Error::param(
                "categories",
                format!("randomized response needs at least 2, got {categories}"),
            ));
        }
        let (num, spent) = epsilon_grid(epsilon)?;
        Ok(RandomizedResponse {
            categories,
            num,
            epsilon: spent,
        })
    }

    /// The ε one response spends.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The randomized category for a respondent whose true one is `truth`.
    ///
    /// # Errors
    /// [`Error::InvalidData`] for `truth` outside the categories.
    pub fn respond(&self, rng: &mut DpRng, truth: usize) -> Result<Release<usize>> {
        if truth >= self.categories {
            return Err(Error::InvalidData(format!("category {truth} of {}", self.categories)));
        }
        loop {
            let j = rng.below(self.categories as u128) as usize;
            if j == truth || bernoulli_exp(rng, self.num, 1u128 << 40) {
                return Ok(Release {
                    value: j,
                    loss: PrivacyLoss::Pure { epsilon: self.epsilon },
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lattice_rounds_to_nearest_and_back() {
        let l = Lattice::for_sensitivity(1.0, 20).unwrap();
        assert_eq!(l.exp, -20);
        assert_eq!(l.units_of(1.0).unwrap(), 1 << 20);
        assert_eq!(l.units_of(-0.5).unwrap(), -(1 << 19));
        assert_eq!(l.value_of(3 << 19), 1.5);
        assert_eq!(l.sensitivity_units(1.0).unwrap(), (1 << 20) + 1);
        assert!(l.units_of(f64::NAN).is_err());
        assert!(l.units_of(1e300).is_err());
        assert!(Lattice::for_sensitivity(0.0, 20).is_err());
    }

    #[test]
    fn vector_releases_charge_their_rounding_slack() {
        let mut rng = DpRng::insecure_seeded_for_tests(1);
        let m = Laplace::new_trusted(1.0, 1.0).unwrap();
        let one = m.release_vector(&mut rng, &[0.5]).unwrap().loss.epsilon().unwrap();
        let many = m.release_vector(&mut rng, &[0.5; 100]).unwrap().loss.epsilon().unwrap();
        assert_eq!(one, m.epsilon());
        // 99 more units on a sensitivity of 2^20 + 1.
        assert!(
            many > one && (many / one - 1.0 - 99.0 / f64::from(1 << 20)).abs() < 1e-9,
            "{one} {many}"
        );
        let g = Gaussian::new_trusted(1.0, 0.5).unwrap();
        assert!(g.vector_rho(100) > g.rho());
        let gi = Gaussian::integer_trusted(1, 0.5).unwrap();
        assert!(gi.vector_rho(1) == gi.rho());
    }

    #[test]
    fn spent_privacy_never_exceeds_the_request() {
        for eps in [0.01, 0.1, 0.3, 1.0, 7.5] {
            let m = Laplace::new_trusted(2.5, eps).unwrap();
            assert!(
                m.epsilon() <= eps && m.epsilon() > eps * (1.0 - 1e-5),
                "{eps}: {}",
                m.epsilon()
            );
            let m = Laplace::integer_trusted(1, eps).unwrap();
            assert!(m.epsilon() <= eps && m.epsilon() > eps * (1.0 - 1e-5));
            let g = Gaussian::new_trusted(2.5, eps).unwrap();
            assert!(g.rho() <= eps && g.rho() > eps * (1.0 - 1e-2), "{eps}: {}", g.rho());
        }
        assert!(Laplace::new_trusted(1.0, 0.0).is_err());
        assert!(Laplace::new_trusted(1.0, f64::NAN).is_err());
        assert!(Gaussian::new_trusted(-1.0, 1.0).is_err());
    }
}
