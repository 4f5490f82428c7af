//! Goodness of fit of every sampler against its exact distribution:
//! chi-square for the discrete ones, Kolmogorov-Smirnov for the real-valued
//! mechanisms. Seeded generators keep the runs reproducible; each test
//! fails only if the sample is implausible (p < 1e-4) under the claimed
//! distribution.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_privacy::exact::{bernoulli_exp, discrete_gaussian, discrete_laplace, geometric};
use ml_privacy::{DpRng, ExponentialMechanism, Gaussian, Laplace, RandomizedResponse, ReportNoisyMax};
use statrs::distribution::{ChiSquared, ContinuousCDF, Laplace as LaplaceDist, Normal};

const P_MIN: f64 = 1e-4;

/// Chi-square p-value of `counts` against `probs` (which sum to 1), after
/// pooling cells with fewer than 5 expected draws into their neighbours.
fn chi_square(counts: &[u64], probs: &[f64]) -> f64 {
    let n: u64 = counts.iter().sum();
    let (mut obs, mut exp) = (Vec::new(), Vec::new());
    let (mut o, mut e) = (0.0, 0.0);
    for (&c, &p) in counts.iter().zip(probs) {
        o += c as f64;
        e += p * n as f64;
        if e >= 5.0 {
            obs.push(o);
            exp.push(e);
            (o, e) = (0.0, 0.0);
        }
    }
    if let (Some(lo), Some(le)) = (obs.last_mut(), exp.last_mut()) {
        *lo += o;
        *le += e;
    }
    if obs.len() < 2 {
        // Everything in one cell: nothing to test against.
        return 1.0;
    }
    let stat: f64 = obs.iter().zip(&exp).map(|(o, e)| (o - e) * (o - e) / e).sum();
    let df = (obs.len() - 1) as f64;
    1.0 - ChiSquared::new(df).unwrap().cdf(stat)
}

/// Counts of integer draws over `lo..=hi` (draws outside go to the end cells).
fn histogram(draws: impl Iterator<Item = i128>, lo: i128, hi: i128) -> Vec<u64> {
    let mut c = vec![0u64; (hi - lo + 1) as usize];
    for d in draws {
        c[(d.clamp(lo, hi) - lo) as usize] += 1;
    }
    c
}

/// Cell probabilities of a pmf over `lo..=hi`, the tails folded into the end cells.
fn cells(pmf: impl Fn(i128) -> f64, lo: i128, hi: i128, support: i128) -> Vec<f64> {
    let total: f64 = (-support..=support).map(&pmf).sum();
    let mut p: Vec<f64> = (lo..=hi).map(|y| pmf(y) / total).collect();
    let below: f64 = (-support..lo).map(&pmf).sum::<f64>() / total;
    let above: f64 = (hi + 1..=support).map(&pmf).sum::<f64>() / total;
    p[0] += below;
    let last = p.len() - 1;
    p[last] += above;
    p
}

/// Kolmogorov-Smirnov p-value (asymptotic) of `xs` against `cdf`.
fn ks(mut xs: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    let d = xs
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max);
    let lambda = (n.sqrt() + 0.12 + 0.11 / n.sqrt()) * d;
    let p: f64 = (1..100)
        .map(|k| {
            let k = k as f64;
            2.0 * (-1f64).powf(k - 1.0) * (-2.0 * k * k * lambda * lambda).exp()
        })
        .sum();
    p.clamp(0.0, 1.0)
}

#[test]
fn bernoulli_exp_matches_exp_minus_gamma() {
    let mut rng = DpRng::insecure_seeded_for_tests(1);
    for (num, den) in [(0u128, 1u128), (1, 3), (1, 1), (5, 2), (7, 1), (1, 1 << 40)] {
        let n = 200_000;
        let hits = (0..n).filter(|_| bernoulli_exp(&mut rng, num, den)).count() as u64;
        let p = (-(num as f64) / den as f64).exp();
        if (1.0 - p) * (n as f64) < 5.0 {
            // Failure too rare to count: expect (almost) none.
            assert!(n - hits <= 2, "gamma {num}/{den}: {hits} of {n}");
            continue;
        }
        let pv = chi_square(&[hits, n - hits], &[p, 1.0 - p]);
        assert!(pv > P_MIN, "gamma {num}/{den}: {hits} of {n}, p-value {pv}");
    }
}

#[test]
fn discrete_laplace_matches_its_pmf() {
    let mut rng = DpRng::insecure_seeded_for_tests(2);
    for (t, s) in [(1u128, 1u128), (3, 1), (5, 2), (1, 3), (3 << 20, 1 << 20), (40, 1)] {
        let scale = t as f64 / s as f64;
        let n = 200_000;
        let k = (scale * 12.0).ceil() as i128 + 2;
        let counts = histogram((0..n).map(|_| discrete_laplace(&mut rng, t, s)), -k, k);
        let probs = cells(|y| (-(y.abs() as f64) / scale).exp(), -k, k, k * 4);
        let pv = chi_square(&counts, &probs);
        assert!(pv > P_MIN, "scale {t}/{s}: p-value {pv}");
    }
}

#[test]
fn discrete_gaussian_matches_its_pmf() {
    let mut rng = DpRng::insecure_seeded_for_tests(3);
    for (a, b) in [(1u128, 1u128), (9, 4), (100, 1), (1, 16), (1_000_000, 3)] {
        let var = a as f64 / b as f64;
        let n = 200_000;
        let k = (var.sqrt() * 6.0).ceil() as i128 + 2;
        let counts = histogram((0..n).map(|_| discrete_gaussian(&mut rng, a, b).unwrap()), -k, k);
        let probs = cells(|y| (-((y * y) as f64) / (2.0 * var)).exp(), -k, k, k * 3);
        let pv = chi_square(&counts, &probs);
        assert!(pv > P_MIN, "variance {a}/{b}: p-value {pv}");
    }
}

#[test]
fn geometric_matches_its_pmf() {
    let mut rng = DpRng::insecure_seeded_for_tests(4);
    for (t, s) in [(1u128, 1u128), (5, 2), (1, 4)] {
        let p = (-(s as f64) / t as f64).exp();
        let n = 100_000;
        let k = 60;
        let counts = histogram((0..n).map(|_| geometric(&mut rng, t, s) as i128), 0, k);
        let probs = cells(|y| if y < 0 { 0.0 } else { (1.0 - p) * p.powi(y as i32) }, 0, k, 400);
        let pv = chi_square(&counts, &probs);
        assert!(pv > P_MIN, "geometric {t}/{s}: p-value {pv}");
    }
}

#[test]
fn real_laplace_and_gaussian_noise_follow_their_laws() {
    let mut rng = DpRng::insecure_seeded_for_tests(5);
    for (sens, eps) in [(1.0, 1.0), (0.3, 0.7), (250.0, 2.0)] {
        let m = Laplace::new(sens, eps).unwrap();
        let law = LaplaceDist::new(0.0, m.scale()).unwrap();
        assert!((m.scale() - sens / eps).abs() < 1e-5 * sens / eps);
        let pv = ks(m.sample_noise(&mut rng, 50_000), |x| law.cdf(x));
        assert!(pv > P_MIN, "Laplace {sens}/{eps}: p-value {pv}");
    }
    for (sens, rho) in [(1.0, 0.5), (0.3, 0.05), (250.0, 2.0)] {
        let g = Gaussian::new(sens, rho).unwrap();
        let law = Normal::new(0.0, g.sigma()).unwrap();
        let want = sens / (2.0 * rho).sqrt();
        assert!((g.sigma() - want).abs() < 2e-3 * want, "{} vs {want}", g.sigma());
        let pv = ks(g.sample_noise(&mut rng, 50_000), |x| law.cdf(x));
        assert!(pv > P_MIN, "Gaussian {sens}/{rho}: p-value {pv}");
    }
}

#[test]
fn exponential_mechanism_selects_with_exact_weights() {
    let mut rng = DpRng::insecure_seeded_for_tests(6);
    let scores = [0i64, 3, 5, 5, -2, 1];
    for (eps, monotonic) in [(1.0, false), (0.4, true)] {
        let em = ExponentialMechanism::new(1, eps, monotonic).unwrap();
        let f = if monotonic { 1.0 } else { 2.0 };
        let w: Vec<f64> = scores.iter().map(|&u| (em.epsilon() * u as f64 / f).exp()).collect();
        let total: f64 = w.iter().sum();
        let probs: Vec<f64> = w.iter().map(|x| x / total).collect();
        let mut counts = vec![0u64; scores.len()];
        for _ in 0..100_000 {
            counts[em.select(&mut rng, &scores).unwrap().value] += 1;
        }
        let pv = chi_square(&counts, &probs);
        assert!(pv > P_MIN, "eps {eps}: {counts:?} p-value {pv}");
    }
    assert!(
        ExponentialMechanism::new(1, 1.0, false)
            .unwrap()
            .select(&mut rng, &[])
            .is_err()
    );
}

/// Permute-and-flip's output law, by enumerating the visiting orders.
fn permute_and_flip_probs(p: &[f64]) -> Vec<f64> {
    fn go(rest: &mut Vec<usize>, reach: f64, p: &[f64], out: &mut [f64], weight: f64) {
        if rest.is_empty() {
            return;
        }
        let k = rest.len() as f64;
        for idx in 0..rest.len() {
            let i = rest.remove(idx);
            out[i] += weight / k * reach * p[i];
            go(rest, reach * (1.0 - p[i]), p, out, weight / k);
            rest.insert(idx, i);
        }
    }
    let mut out = vec![0.0; p.len()];
    go(&mut (0..p.len()).collect(), 1.0, p, &mut out, 1.0);
    out
}

#[test]
fn report_noisy_max_is_permute_and_flip() {
    let mut rng = DpRng::insecure_seeded_for_tests(7);
    let scores = [2i64, 0, 4, 3];
    let rnm = ReportNoisyMax::new(1, 1.2, false).unwrap();
    let p: Vec<f64> = scores
        .iter()
        .map(|&u| (-rnm.epsilon() * (4 - u) as f64 / 2.0).exp())
        .collect();
    let probs = permute_and_flip_probs(&p);
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    let mut counts = vec![0u64; scores.len()];
    for _ in 0..100_000 {
        counts[rnm.select(&mut rng, &scores).unwrap().value] += 1;
    }
    let pv = chi_square(&counts, &probs);
    assert!(pv > P_MIN, "{counts:?} vs {probs:?}: p-value {pv}");
}

#[test]
fn randomized_response_keeps_the_truth_at_the_stated_rate() {
    let mut rng = DpRng::insecure_seeded_for_tests(8);
    for (k, eps) in [(2usize, 0.5), (3, 1.1), (10, 2.0)] {
        let rr = RandomizedResponse::new(k, eps).unwrap();
        let e = rr.epsilon().exp();
        let mut probs = vec![1.0 / (e + k as f64 - 1.0); k];
        probs[1] = e / (e + k as f64 - 1.0);
        let mut counts = vec![0u64; k];
        for _ in 0..100_000 {
            counts[rr.respond(&mut rng, 1).unwrap().value] += 1;
        }
        let pv = chi_square(&counts, &probs);
        assert!(pv > P_MIN, "k {k} eps {eps}: p-value {pv}");
        assert!(rr.respond(&mut rng, k).is_err());
    }
}

#[test]
fn the_secure_generator_is_keyed_freshly() {
    let mut a = DpRng::secure().unwrap();
    let mut b = DpRng::secure().unwrap();
    let xa: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
    let xb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
    assert_ne!(xa, xb);
    // Same seed, same stream: the seeded mode is for tests only.
    let mut s1 = DpRng::insecure_seeded_for_tests(9);
    let mut s2 = DpRng::insecure_seeded_for_tests(9);
    assert_eq!(s1.next_u64(), s2.next_u64());
}
