//! The Rényi DP accountant for DP-SGD: the Poisson-subsampled Gaussian
//! mechanism (Mironov, Talwar and Zhang, "Rényi Differential Privacy of the
//! Sampled Gaussian Mechanism", arXiv:1908.10530), composed over steps and
//! converted to (ε, δ) at the best order.
//!
//! It follows the computation of Google's dp-accounting `RdpAccountant`
//! (same default orders, integer orders by the binomial expansion,
//! fractional orders by the two-sided series of Section 3.3 of the paper,
//! the conversion of Canonne, Kamath and Steinke 2020, Proposition 12, with
//! the KL-divergence shortcut), so its ε agrees with dp-accounting's to
//! floating-point accuracy; `scripts/gen_privacy.py` records the reference
//! values that the tests compare against.

use statrs::function::erf::erfc;
use statrs::function::gamma::ln_gamma;

use crate::{Error, Result};

/// dp-accounting's default orders: 1.1, 1.2, ..., 10.9, then 11..=63, 128,
/// 256, 512, 1024.
pub fn default_orders() -> Vec<f64> {
    (1..100)
        .map(|x| 1.0 + f64::from(x) / 10.0)
        .chain((11..64).map(f64::from))
        .chain([128.0, 256.0, 512.0, 1024.0])
        .collect()
}

/// Accumulated Rényi DP at a fixed set of orders.
#[derive(Debug, Clone)]
pub struct RdpAccountant {
    orders: Vec<f64>,
    rdp: Vec<f64>,
}

impl Default for RdpAccountant {
    fn default() -> Self {
        Self::new()
    }
}

impl RdpAccountant {
    /// An accountant over [`default_orders`], with nothing spent.
    pub fn new() -> Self {
        Self::with_orders(default_orders()).unwrap_or_else(|_| unreachable!("default orders are valid"))
    }

    /// An accountant over the given orders (each > 1).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for no orders, or an order not finite and > 1.
    pub fn with_orders(orders: Vec<f64>) -> Result<Self> {
        if orders.is_empty() || orders.iter().any(|&a| a.is_nan() || a <= 1.0) {
            return Err(Error::param("RDP orders", "must be non-empty and > 1"));
        }
        let rdp = vec![0.0; orders.len()];
        Ok(RdpAccountant { orders, rdp })
    }

    /// The orders.
    pub fn orders(&self) -> &[f64] {
        &self.orders
    }

    /// The accumulated RDP, one value per order.
    pub fn rdp(&self) -> &[f64] {
        &self.rdp
    }

    /// Compose `steps` rounds of the Gaussian mechanism with noise
    /// multiplier `noise_multiplier` (σ / L2 sensitivity) applied to a
    /// Poisson sample taking each record with probability `sampling_rate`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a sampling rate outside [0, 1] or a
    /// noise multiplier negative or not finite.
    pub fn compose_poisson_subsampled_gaussian(
        &mut self,
        noise_multiplier: f64,
        sampling_rate: f64,
        steps: u64,
    ) -> Result<()> {
        if !(0.0..=1.0).contains(&sampling_rate) {
            return Err(Error::param(
                "sampling rate",
                format!("must be in [0, 1], got {}", ml_core::limits::readable(sampling_rate)),
            ));
        }
        if !noise_multiplier.is_finite() || noise_multiplier < 0.0 {
            return Err(Error::param(
                "noise multiplier",
                format!(
                    "must be finite and >= 0, got {}",
                    ml_core::limits::readable(noise_multiplier)
                ),
            ));
        }
        for (r, &a) in self.rdp.iter_mut().zip(&self.orders) {
            *r += steps as f64 * subsampled_gaussian_rdp(sampling_rate, noise_multiplier, a);
        }
        Ok(())
    }

    /// Compose `count` Gaussian mechanisms without subsampling.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a noise multiplier negative or not finite.
    pub fn compose_gaussian(&mut self, noise_multiplier: f64, count: u64) -> Result<()> {
        self.compose_poisson_subsampled_gaussian(noise_multiplier, 1.0, count)
    }

    /// The smallest ε over the orders for which the composition is
    /// (ε, δ)-DP, and the order that gives it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for δ outside [0, 1].
    pub fn epsilon(&self, delta: f64) -> Result<(f64, f64)> {
        if !(0.0..=1.0).contains(&delta) {
            return Err(Error::param(
                "delta",
                format!("must be in [0, 1], got {}", ml_core::limits::readable(delta)),
            ));
        }
        if delta == 0.0 {
            let eps = if self.rdp.iter().all(|&r| r == 0.0) {
                0.0
            } else {
                f64::INFINITY
            };
            return Ok((eps, 0.0));
        }
        let mut best = (f64::INFINITY, self.orders[0]);
        for (&a, &r) in self.orders.iter().zip(&self.rdp) {
            let eps = if r < 0.0 {
                0.0
            } else if delta * delta + (-r).exp_m1() > 0.0 {
                // KL bound: delta <= sqrt(1 - exp(-r)) already holds.
                0.0
            } else if a > 1.01 {
                r + (-1.0 / a).ln_1p() - (delta * a).ln() / (a - 1.0)
            } else {
                f64::INFINITY
            };
            if eps < best.0 {
                best = (eps, a);
            }
        }
        Ok((best.0.max(0.0), best.1))
    }

    /// The smallest δ over the orders for which the composition is
    /// (ε, δ)-DP, and the order that gives it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for ε negative or not finite.
    pub fn delta(&self, epsilon: f64) -> Result<(f64, f64)> {
        if epsilon.is_nan() || epsilon < 0.0 {
            return Err(Error::param(
                "epsilon",
                format!("must be >= 0, got {}", ml_core::limits::readable(epsilon)),
            ));
        }
        let mut best = (f64::INFINITY, self.orders[0]);
        for (&a, &r) in self.orders.iter().zip(&self.rdp) {
            let mut log_delta = if r <= 0.0 {
                f64::NEG_INFINITY
            } else {
                0.5 * (-(-r).exp()).ln_1p()
            };
            if a > 1.01 {
                let bound = (a - 1.0) * (r - epsilon + (-1.0 / a).ln_1p()) - a.ln();
                log_delta = log_delta.min(bound);
            }
            if log_delta < best.0 {
                best = (log_delta, a);
            }
        }
        Ok((best.0.exp().min(1.0), best.1))
    }
}

/// RDP at order `alpha` of one Poisson-subsampled Gaussian step.
fn subsampled_gaussian_rdp(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if alpha.is_infinite() || sigma == 0.0 {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let log_a = if alpha.fract() == 0.0 {
        log_a_int(q, sigma, alpha as u64)
    } else {
        log_a_frac(q, sigma, alpha)
    };
    log_a / (alpha - 1.0)
}

fn log_add(x: f64, y: f64) -> f64 {
    let (a, b) = if x < y { (x, y) } else { (y, x) };
    if a == f64::NEG_INFINITY {
        return b;
    }
    (a - b).exp().ln_1p() + b
}

/// ln |Γ(x)|, for negative non-integer `x` too (by reflection).
fn ln_abs_gamma(x: f64) -> f64 {
    if x >= 0.5 {
        return ln_gamma(x);
    }
    // Γ(x) Γ(1 - x) = π / sin(π x); reduce the argument before the sine.
    let r = x - x.round();
    std::f64::consts::PI.ln() - (std::f64::consts::PI * r).sin().abs().ln() - ln_gamma(1.0 - x)
}

fn ln_comb(n: f64, k: f64) -> f64 {
    ln_abs_gamma(n + 1.0) - ln_abs_gamma(k + 1.0) - ln_abs_gamma(n - k + 1.0)
}

/// ln A_α for integer α (binomial expansion).
fn log_a_int(q: f64, sigma: f64, alpha: u64) -> f64 {
    let (lq, l1q) = (q.ln(), (-q).ln_1p());
    let mut log_a = f64::NEG_INFINITY;
    for i in 0..=alpha {
        let (i, af) = (i as f64, alpha as f64);
        let s = ln_comb(af, i) + i * lq + (af - i) * l1q + (i * i - i) / (2.0 * sigma * sigma);
        log_a = log_add(log_a, s);
    }
    log_a
}

/// ln(erfc(x)), accurate in the far tail.
fn ln_erfc(x: f64) -> f64 {
    if x < 25.0 {
        return erfc(x).ln();
    }
    // Asymptotic series of ln(erfc(x)) + x^2 + ln(x sqrt(pi)).
    let x2 = x * x;
    -std::f64::consts::PI.ln() / 2.0 - x.ln() - x2 - 0.5 / x2 + 0.625 / (x2 * x2) - 37.0 / 24.0 / (x2 * x2 * x2)
        + 353.0 / 64.0 / (x2 * x2 * x2 * x2)
}

/// ln A_α for fractional α: the two-sided series split at z0 (Section 3.3
/// of arXiv:1908.10530), summed until both sides decrease and are 30 nats
/// below the total; infinite (order excluded) if 1000 terms do not settle.
fn log_a_frac(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut a0, mut a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let (lq, l1q) = (q.ln(), (-q).ln_1p());
    let (mut last0, mut last1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let sqrt2s = std::f64::consts::SQRT_2 * sigma;
    for i in 0..1000 {
        let i = f64::from(i);
        let coef = ln_comb(alpha, i);
        let j = alpha - i;
        let t0 = coef + i * lq + j * l1q;
        let t1 = coef + j * lq + i * l1q;
        let e0 = 0.5f64.ln() + ln_erfc((i - z0) / sqrt2s);
        let e1 = 0.5f64.ln() + ln_erfc((z0 - j) / sqrt2s);
        let s0 = t0 + (i * i - i) / (2.0 * sigma * sigma) + e0;
        let s1 = t1 + (j * j - j) / (2.0 * sigma * sigma) + e1;
        a0 = log_add(a0, s0);
        a1 = log_add(a1, s1);
        let total = log_add(a0, a1);
        if s0 < last0 && s1 < last1 && s0.max(s1) < total - 30.0 {
            return total;
        }
        last0 = s0;
        last1 = s1;
    }
    f64::INFINITY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_without_sampling_is_closed_form() {
        let mut acc = RdpAccountant::with_orders(vec![2.0, 10.0]).unwrap();
        acc.compose_gaussian(2.0, 3).unwrap();
        assert!((acc.rdp()[0] - 3.0 * 2.0 / 8.0).abs() < 1e-15);
        assert!((acc.rdp()[1] - 3.0 * 10.0 / 8.0).abs() < 1e-15);
    }

    #[test]
    fn integer_and_fractional_orders_agree_where_they_meet() {
        // The fractional series near an integer order tends to the integer one.
        let (q, s) = (0.01, 1.1);
        let int = subsampled_gaussian_rdp(q, s, 3.0);
        let near = subsampled_gaussian_rdp(q, s, 3.0 + 1e-9);
        assert!((int - near).abs() < 1e-6 * int, "{int} vs {near}");
        assert!(ln_abs_gamma(-0.5).is_finite());
        assert!((ln_abs_gamma(-0.5) - (2.0 * std::f64::consts::PI.sqrt()).ln()).abs() < 1e-12);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let mut acc = RdpAccountant::new();
        assert!(acc.compose_poisson_subsampled_gaussian(1.0, 1.5, 1).is_err());
        assert!(acc.compose_poisson_subsampled_gaussian(f64::NAN, 0.5, 1).is_err());
        assert!(acc.epsilon(-1.0).is_err());
        assert_eq!(acc.epsilon(1e-5).unwrap().0, 0.0);
        assert!(RdpAccountant::with_orders(vec![1.0]).is_err());
    }
}
