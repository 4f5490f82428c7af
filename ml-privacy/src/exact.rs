//! Exact samplers on the integers, after Canonne, Kamath and Steinke, "The
//! Discrete Gaussian for Differential Privacy" (NeurIPS 2020, arXiv:2004.00010),
//! Algorithms 1-3.
//!
//! Every parameter is a ratio of integers and every decision is an integer
//! comparison against uniform integers from [`DpRng`], so the output
//! distributions are exactly the stated ones: no floating-point formula,
//! hence none of the low-bit leaks of textbook float samplers (Mironov,
//! "On Significance of the Least Significant Bits for Differential Privacy",
//! CCS 2012).
//!
//! Ratios are `u128` pairs. Where an intermediate value would not fit, the
//! samplers use identities that keep the draw exact (`Bern(n / (d k))` as
//! `Bern(n / d)` and `Bern(1 / k)`), and the one place that cannot (the
//! discrete Gaussian's acceptance test for a candidate more than about
//! 2^60 standard deviations out) rejects, which changes the distribution by
//! less than `exp(-2^60)`.

use crate::rng::DpRng;
use crate::{Error, Result};

/// `Bernoulli(num / den)`, `num <= den`, `den > 0`.
#[inline]
pub fn bernoulli(rng: &mut DpRng, num: u128, den: u128) -> bool {
    rng.below(den) < num
}

/// `Bernoulli(exp(-num / den))` for `num / den >= 0` (Algorithm 1).
pub fn bernoulli_exp(rng: &mut DpRng, num: u128, den: u128) -> bool {
    debug_assert!(den > 0);
    // exp(-g) = exp(-1)^floor(g) * exp(-(g - floor(g))).
    let whole = num / den;
    for _ in 0..whole {
        if !bernoulli_exp_unit(rng, 1, 1) {
            return false;
        }
    }
    bernoulli_exp_unit(rng, num % den, den)
}

/// `Bernoulli(exp(-g))` for `g = num / den` in `[0, 1]`: with `A_k ~
/// Bernoulli(g / k)` drawn until the first failure at `k = K`, `K` is odd
/// with probability `exp(-g)`.
fn bernoulli_exp_unit(rng: &mut DpRng, num: u128, den: u128) -> bool {
    let mut k: u128 = 1;
    loop {
        let a = match den.checked_mul(k) {
            Some(dk) => bernoulli(rng, num, dk),
            // Bern(g / k) as Bern(g) and Bern(1 / k), independent.
            None => bernoulli(rng, num, den) && bernoulli(rng, 1, k),
        };
        if !a {
            return k % 2 == 1;
        }
        k += 1;
    }
}

/// A discrete Laplace variate with scale `t / s`: `P(y) ∝ exp(-|y| s / t)`
/// (Algorithm 2). `s, t > 0`.
pub fn discrete_laplace(rng: &mut DpRng, t: u128, s: u128) -> i128 {
    debug_assert!(s > 0 && t > 0);
    loop {
        let u = rng.below(t);
        if !bernoulli_exp(rng, u, t) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp_unit(rng, 1, 1) {
            v += 1;
        }
        // X = U + t V is geometric with parameter exp(-1 / t).
        let Some(x) = t.checked_mul(v).and_then(|tv| tv.checked_add(u)) else {
            continue;
        };
        let y = x / s;
        let negative = rng.coin();
        if negative && y == 0 {
            continue;
        }
        let y = i128::try_from(y).unwrap_or(i128::MAX);
        return if negative { -y } else { y };
    }
}

/// A one-sided geometric variate: `P(k) = (1 - p) p^k` for `k >= 0` with
/// `p = exp(-s / t)`.
pub fn geometric(rng: &mut DpRng, t: u128, s: u128) -> u128 {
    // The count of successes of Bern(exp(-s/t)) before the first failure.
    let mut k = 0;
    while bernoulli_exp(rng, s, t) {
        k += 1;
    }
    k
}

/// Integer square root: the largest `r` with `r * r <= n`.
pub(crate) fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    let mut r = (n as f64).sqrt() as u128;
    while r.checked_mul(r).is_none_or(|rr| rr > n) {
        r -= 1;
    }
    while (r + 1).checked_mul(r + 1).is_some_and(|rr| rr <= n) {
        r += 1;
    }
    r
}

/// A discrete Gaussian variate with variance parameter `sigma^2 = a / b`:
/// `P(y) ∝ exp(-y^2 / (2 sigma^2))` (Algorithm 3). `a, b > 0`.
///
/// # Errors
/// As [`DiscreteGaussian::new`].
pub fn discrete_gaussian(rng: &mut DpRng, a: u128, b: u128) -> Result<i128> {
    let params = DiscreteGaussian::new(a, b)?;
    Ok(params.sample(rng))
}

/// Precomputed parameters of [`discrete_gaussian`], for drawing many values.
#[derive(Debug, Clone, Copy)]
pub struct DiscreteGaussian {
    a: u128,
    b: u128,
    /// floor(sigma) + 1, the scale of the discrete Laplace proposal.
    t: u128,
    /// 2 a b t^2, the acceptance test's denominator.
    den: u128,
}

impl DiscreteGaussian {
    /// `sigma^2 = a / b`. Refused when `2 a b t^2` (t = floor(sigma) + 1)
    /// does not fit 128 bits.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `a` or `b` zero; [`Error::Overflow`] when
    /// `2 a b t^2` does not fit 128 bits.
    pub fn new(a: u128, b: u128) -> Result<Self> {
        if a == 0 || b == 0 {
            return Err(Error::param(
                "discrete Gaussian variance",
                format!("{a}/{b} must be > 0"),
            ));
        }
        let t = isqrt(a / b) + 1;
        let den = 2u128
            .checked_mul(a)
            .and_then(|x| x.checked_mul(b))
            .and_then(|x| x.checked_mul(t))
            .and_then(|x| x.checked_mul(t))
            .ok_or_else(|| Error::overflow(format!("discrete Gaussian variance {a}/{b} needs more than 128 bits")))?;
        Ok(DiscreteGaussian { a, b, t, den })
    }

    /// One draw.
    pub fn sample(&self, rng: &mut DpRng) -> i128 {
        loop {
            let y = discrete_laplace(rng, self.t, 1);
            // Accept with exp(-(|y| - sigma^2 / t)^2 / (2 sigma^2))
            //   = exp(-(|y| t b - a)^2 / (2 a b t^2)).
            let num = y
                .unsigned_abs()
                .checked_mul(self.t)
                .and_then(|x| x.checked_mul(self.b))
                .map(|x| x.abs_diff(self.a))
                .and_then(|d| d.checked_mul(d));
            if let Some(num) = num
                && bernoulli_exp(rng, num, self.den)
            {
                return y;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isqrt_is_exact_at_the_edges() {
        for n in [0u128, 1, 2, 3, 4, 15, 16, 17, u64::MAX as u128, u128::MAX] {
            let r = isqrt(n);
            assert!(r * r <= n, "{n}");
            assert!((r + 1).checked_mul(r + 1).is_none_or(|x| x > n), "{n}");
        }
    }

    #[test]
    fn oversized_gaussian_parameters_are_refused() {
        assert!(DiscreteGaussian::new(u128::MAX / 2, 1).is_err());
        assert!(DiscreteGaussian::new(0, 1).is_err());
    }
}
