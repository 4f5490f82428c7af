//! A privacy-loss-distribution (PLD) accountant for DP-SGD's
//! Poisson-subsampled Gaussian mechanism under add/remove neighbours.
//!
//! Each step's privacy loss is discretised on a grid of width `h` by the
//! connect-the-dots construction (Doroshenko, Ghazi, Kamath, Kumar,
//! Manurangsi, "Connect the Dots: Tighter Discrete Approximations of Privacy
//! Loss Distributions", PETS 2022): masses on grid points chosen so that the
//! discrete distribution's hockey-stick divergence equals the mechanism's
//! exact δ(ε) at every grid point, which dominates the true distribution.
//! The exact δ(ε) of the subsampled Gaussian is in closed form through the
//! normal CDF. The `steps`-fold composition is one FFT convolution power
//! (Koskela, Jälkö, Honkela 2020) over a window of losses chosen by a
//! Chernoff bound so that at most `1e-15` of mass falls outside it; that
//! mass, and each step's mass above the grid, is added to δ. Both
//! directions of the add/remove relation are composed and the larger ε is
//! reported, as Google's dp-accounting does; `scripts/gen_privacy.py`
//! records that library's figures, which the tests match within 1%.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use statrs::function::erf::erfc;

use crate::{Error, Result};

/// Probability mass allowed outside the composed window, and the δ above
/// which one step's loss is cut off.
const TAIL: f64 = 1e-15;

/// The most grid points of one step's loss (4M: about a second to
/// discretise), checked before anything is allocated.
const MAX_STEP_POINTS: f64 = (1u64 << 22) as f64;

/// The largest FFT over the composed loss (16M points, 256 MiB).
const MAX_FFT: usize = 1 << 24;

/// The error for a loss that needs more grid points than the bounds allow.
fn too_fine(points: f64, limit: f64, sigma: f64) -> Error {
    Error::param(
        "discretization",
        format!(
            "the privacy loss at noise multiplier {sigma} needs about {points:.1e} grid points, over the limit of {limit:.1e}: \
             use a coarser discretization or the RDP accountant"
        ),
    )
}

/// The (ε, δ) accountant for `steps` Poisson-subsampled Gaussian steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PldAccountant {
    /// Grid width of the privacy loss (dp-accounting's default is 1e-4).
    pub discretization: f64,
}

impl Default for PldAccountant {
    fn default() -> Self {
        PldAccountant { discretization: 1e-4 }
    }
}

/// Upper tail of the standard normal.
fn phi_c(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Which of the two neighbouring distributions plays P (the one the loss
/// is measured under).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Direction {
    /// P = (1 - q) N(0, σ²) + q N(1, σ²), Q = N(0, σ²).
    Remove,
    /// P = N(0, σ²), Q = the mixture.
    Add,
}

/// The exact δ(ε) of one step (hockey-stick divergence of P over Q).
fn delta_one(dir: Direction, q: f64, sigma: f64, eps: f64) -> f64 {
    let s2 = sigma * sigma;
    let d = match dir {
        Direction::Remove => {
            // The loss log((1-q) + q exp((2x-1)/(2σ²))) exceeds ε above x*.
            let inner = eps.exp() - (1.0 - q);
            if inner <= 0.0 {
                return (-eps.exp_m1()).max(0.0);
            }
            let x = s2 * (inner / q).ln() + 0.5;
            let p = (1.0 - q) * phi_c(x / sigma) + q * phi_c((x - 1.0) / sigma);
            p - eps.exp() * phi_c(x / sigma)
        }
        Direction::Add => {
            // The loss -log((1-q) + q exp((2x-1)/(2σ²))) exceeds ε below x*.
            let inner = (-eps).exp() - (1.0 - q);
            if inner <= 0.0 {
                return 0.0;
            }
            let x = s2 * (inner / q).ln() + 0.5;
            let p = phi_c(-x / sigma);
            p - eps.exp() * ((1.0 - q) * phi_c(-x / sigma) + q * phi_c((1.0 - x) / sigma))
        }
    };
    d.clamp(0.0, 1.0)
}

/// One step's discretised loss: masses on `(lo + i) h`, and the mass above.
struct Pmf {
    lo: i64,
    mass: Vec<f64>,
    infinity: f64,
}

/// Connect-the-dots masses from the exact δ(ε) on the grid.
fn discretise(dir: Direction, q: f64, sigma: f64, h: f64) -> Result<Pmf> {
    // Upper end: the first grid point where δ falls below TAIL, bracketed
    // by doubling and then found by bisection, so the grid is no longer
    // than it has to be.
    let mut hi = 1i64;
    while delta_one(dir, q, sigma, hi as f64 * h) > TAIL {
        hi = hi.checked_mul(2).ok_or_else(|| Error::overflow("privacy loss range"))?;
        if hi as f64 > 2.0 * MAX_STEP_POINTS {
            return Err(too_fine(hi as f64, MAX_STEP_POINTS, sigma));
        }
    }
    let mut below = hi / 2;
    while hi - below > 1 {
        let mid = below + (hi - below) / 2;
        if delta_one(dir, q, sigma, mid as f64 * h) > TAIL {
            below = mid;
        } else {
            hi = mid;
        }
    }
    // Lower end: below it the loss has less than TAIL mass under P (that
    // mass moves up to the lowest point, which is pessimistic). Removing,
    // the loss is at least log(1 - q); adding, it falls below ε_lo only
    // for x above 8σ, which N(0, σ²) reaches with probability 6e-16.
    let lo = match dir {
        Direction::Remove if q < 1.0 => ((1.0 - q).ln() / h).floor() as i64,
        Direction::Remove => -hi,
        Direction::Add => {
            let x = 8.0 * sigma;
            let eps_lo = -((1.0 - q) + q * ((2.0 * x - 1.0) / (2.0 * sigma * sigma)).exp()).ln();
            (eps_lo / h).floor() as i64
        }
    };
    let points = hi as f64 - lo as f64 + 1.0;
    if points > MAX_STEP_POINTS {
        return Err(too_fine(points, MAX_STEP_POINTS, sigma));
    }
    let n = usize::try_from(hi - lo + 1).map_err(|_| Error::overflow("grid"))?;
    let eps = |i: usize| (lo + i as i64) as f64 * h;
    let deltas: Vec<f64> = (0..n).map(|i| delta_one(dir, q, sigma, eps(i))).collect();
    let infinity = deltas[n - 1];
    let mut mass = vec![0.0; n];
    // Solve from the top: δ_i = inf + Σ_{j>i} p_j (1 - e^{ε_i - ε_j}),
    // keeping S0 = Σ_{j>i+1} p_j and S1 = Σ_{j>i+1} p_j e^{-(ε_j - ε_i)}.
    let (mut s0, mut s1) = (0.0f64, 0.0f64);
    let decay = (-h).exp();
    for i in (0..n - 1).rev() {
        // Shift S1 from reference ε_{i+1} to ε_i.
        s1 *= decay;
        let p = ((deltas[i] - infinity - s0 + s1) / (1.0 - decay)).max(0.0);
        mass[i + 1] = p;
        s0 += p;
        s1 += p * decay;
    }
    mass[0] = (1.0 - infinity - s0).max(0.0);
    Ok(Pmf { lo, mass, infinity })
}

/// `pmf` composed with itself `steps` times: masses on `(lo + i) h`, and
/// the mass that is not on the grid (to be counted in δ).
fn compose(pmf: &Pmf, steps: u64, h: f64, sigma: f64) -> Result<(i64, Vec<f64>, f64)> {
    let t = steps as f64;
    let values: Vec<f64> = (0..pmf.mass.len()).map(|i| (pmf.lo + i as i64) as f64 * h).collect();
    let log_mgf = |s: f64| {
        // Shift by the largest exponent that carries mass, so the sum is >= 1.
        let m = values
            .iter()
            .zip(&pmf.mass)
            .filter(|(_, p)| **p > 0.0)
            .map(|(v, _)| s * v)
            .fold(f64::NEG_INFINITY, f64::max);
        m + pmf
            .mass
            .iter()
            .zip(&values)
            .map(|(p, v)| p * (s * v - m).exp())
            .sum::<f64>()
            .ln()
    };
    // Chernoff window [lo, hi] of the composed loss. Every s > 0 gives a
    // valid bound; the best of a coarse scan over 10^-4..10^4, refined
    // around its minimum, keeps the window tight with few passes over the
    // masses.
    let upper = chernoff(|s| (t * log_mgf(s) - TAIL.ln()) / s);
    let lower = -chernoff(|s| (t * log_mgf(-s) - TAIL.ln()) / s);
    let width = (upper - lower) / h + 1.0;
    if !(lower.is_finite() && upper.is_finite() && width <= MAX_FFT as f64) {
        return Err(too_fine(width, MAX_FFT as f64, sigma));
    }
    let (wlo, whi) = ((lower / h).floor() as i64, (upper / h).ceil() as i64);
    let width = usize::try_from(whi - wlo + 1).map_err(|_| Error::overflow("window"))?;
    let size = (width.max(pmf.mass.len()) + 1).next_power_of_two();
    if size > MAX_FFT {
        return Err(too_fine(size as f64, MAX_FFT as f64, sigma));
    }
    let mut buf: Vec<Complex<f64>> = vec![Complex::new(0.0, 0.0); size];
    for (i, &p) in pmf.mass.iter().enumerate() {
        buf[i] = Complex::new(p, 0.0);
    }
    let mut planner = FftPlanner::new();
    planner.plan_fft_forward(size).process(&mut buf);
    for z in &mut buf {
        *z = z.powf(t);
    }
    planner.plan_fft_inverse(size).process(&mut buf);
    // Composed index s = Σ i_j + steps·lo sits at (s - steps·lo) mod size.
    let base = (steps as i128) * i128::from(pmf.lo);
    let out: Vec<f64> = (wlo..=whi)
        .map(|s| {
            let k = (i128::from(s) - base).rem_euclid(size as i128) as usize;
            (buf[k].re / size as f64).max(0.0)
        })
        .collect();
    let infinity = 1.0 - (1.0 - pmf.infinity).powf(t) + 2.0 * TAIL;
    Ok((wlo, out, infinity))
}

/// The smallest value of `bound(s)` found over s in 10^-4..10^4: every
/// half decade, then tenth decades around the best.
fn chernoff(bound: impl Fn(f64) -> f64) -> f64 {
    let at = |e: f64| bound(10f64.powf(e));
    let mut best = (f64::INFINITY, 0.0);
    for k in -8..=8 {
        let e = f64::from(k) / 2.0;
        let v = at(e);
        if v < best.0 {
            best = (v, e);
        }
    }
    let centre = best.1;
    for k in -5..=5 {
        let v = at(centre + f64::from(k) / 10.0);
        if v < best.0 {
            best.0 = v;
        }
    }
    best.0
}

/// δ(ε) of a composed loss.
fn delta_of(lo: i64, mass: &[f64], infinity: f64, h: f64, eps: f64) -> f64 {
    infinity
        + mass
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let l = (lo + i as i64) as f64 * h;
                if l > eps { p * (-(eps - l).exp_m1()) } else { 0.0 }
            })
            .sum::<f64>()
}

impl PldAccountant {
    /// The smallest ε (to 1e-9) for which `steps` Poisson-subsampled
    /// Gaussian steps with `noise_multiplier` and `sampling_rate` are
    /// (ε, δ)-DP under add/remove neighbours.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for parameters outside their domains, δ below
    /// the accountant's truncation mass, or a noise multiplier so small that
    /// the discretised privacy loss would not fit the grid limits.
    pub fn epsilon(&self, noise_multiplier: f64, sampling_rate: f64, steps: u64, delta: f64) -> Result<f64> {
        let h = self.discretization;
        if !(h > 0.0 && h.is_finite()) {
            return Err(Error::param(
                "discretization",
                format!("must be > 0, got {}", ml_core::limits::readable(h)),
            ));
        }
        crate::check_positive("noise multiplier", noise_multiplier)?;
        if !(sampling_rate > 0.0 && sampling_rate <= 1.0) {
            return Err(Error::param(
                "sampling rate",
                format!("must be in (0, 1], got {}", ml_core::limits::readable(sampling_rate)),
            ));
        }
        crate::check_delta(delta)?;
        if steps == 0 {
            return Ok(0.0);
        }
        let mut worst = 0.0f64;
        for dir in [Direction::Remove, Direction::Add] {
            let pmf = discretise(dir, sampling_rate, noise_multiplier, h)?;
            let (lo, mass, infinity) = compose(&pmf, steps, h, noise_multiplier)?;
            if infinity >= delta {
                return Err(Error::param(
                    "delta",
                    format!("{delta} is below the accountant's truncation mass {infinity:e}"),
                ));
            }
            let top = (lo + mass.len() as i64) as f64 * h;
            let (mut a, mut b) = (0.0f64, top.max(0.0));
            if delta_of(lo, &mass, infinity, h, a) <= delta {
                continue;
            }
            for _ in 0..200 {
                let m = 0.5 * (a + b);
                if delta_of(lo, &mass, infinity, h, m) > delta {
                    a = m;
                } else {
                    b = m;
                }
                if b - a < 1e-9 {
                    break;
                }
            }
            worst = worst.max(b);
        }
        Ok(worst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_gaussian_step_matches_the_analytic_gaussian() {
        // q = 1: δ(ε) = Φ(-ε/μ + μ/2) - e^ε Φ(-ε/μ - μ/2), μ = 1/σ.
        let (sigma, eps) = (1.0, 2.0);
        let mu = 1.0 / sigma;
        let phi = |z: f64| 1.0 - phi_c(z);
        let exact = phi(-eps / mu + mu / 2.0) - eps.exp() * phi(-eps / mu - mu / 2.0);
        let ours = delta_one(Direction::Remove, 1.0, sigma, eps);
        assert!((ours - exact).abs() < 1e-12 * exact.max(1e-300), "{ours} vs {exact}");
        assert!((delta_one(Direction::Add, 1.0, sigma, eps) - exact).abs() < 1e-12);
    }

    #[test]
    fn connect_the_dots_is_a_distribution_that_reproduces_delta() {
        let h = 1e-3;
        let pmf = discretise(Direction::Remove, 0.05, 1.2, h).unwrap();
        let total: f64 = pmf.mass.iter().sum::<f64>() + pmf.infinity;
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        for i in [3usize, 50, 400] {
            let eps = (pmf.lo + i as i64) as f64 * h;
            let d = delta_of(pmf.lo, &pmf.mass, pmf.infinity, h, eps);
            let exact = delta_one(Direction::Remove, 0.05, 1.2, eps);
            assert!(
                (d - exact).abs() < 1e-9 * exact.max(1e-12) + 1e-15,
                "{eps}: {d} vs {exact}"
            );
        }
    }

    #[test]
    fn losses_too_wide_for_the_grid_are_errors_found_before_work() {
        let acc = PldAccountant::default();
        for (sigma, steps) in [(0.01, 1), (1e-6, 1), (1.0, 100_000_000)] {
            let e = acc.epsilon(sigma, 0.01, steps, 1e-5).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidParameter { name, .. } if name == "discretization"),
                "{e}"
            );
            assert!(e.to_string().contains("coarser discretization"), "{e}");
        }
        // A coarser grid computes what the fine one refuses.
        let coarse = PldAccountant { discretization: 1e-2 };
        assert!(coarse.epsilon(0.01, 0.01, 1, 1e-5).unwrap().is_finite());
    }
}
