//! Aggregates on a real column: with a large ε they land near the exact
//! statistic, and the noise of many releases has the spread the mechanism
//! states.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_privacy::DpRng;
use ml_privacy::aggregates::{self, Bounds, Neighbouring, NoiseSpec};

fn column() -> (Vec<f64>, String) {
    let data = ml_datasets::diabetes().unwrap();
    let name = data.feature_names()[0].clone();
    (aggregates::column(&data, &name).unwrap(), name)
}

#[test]
fn releases_are_near_the_truth_at_large_epsilon() {
    let (xs, _) = column();
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let b = Bounds::new(lo, hi).unwrap();
    let n = xs.len() as f64;
    let true_sum: f64 = xs.iter().sum();
    let true_mean = true_sum / n;
    let true_var = xs.iter().map(|x| (x - true_mean).powi(2)).sum::<f64>() / n;
    let mut rng = DpRng::insecure_seeded_for_tests(21);
    let span = hi - lo;
    for rel in [Neighbouring::AddRemove, Neighbouring::Substitute] {
        for spec in [
            NoiseSpec::Laplace { epsilon: 50.0 },
            NoiseSpec::Gaussian {
                epsilon: 50.0,
                delta: 1e-6,
            },
        ] {
            let s = aggregates::sum(&mut rng, &xs, b, spec, rel).unwrap();
            assert!(
                (s.value - true_sum).abs() < span,
                "{rel:?} {spec:?} sum {} vs {true_sum}",
                s.value
            );
            let m = aggregates::mean(&mut rng, &xs, b, spec, rel).unwrap();
            assert!(
                (m.value - true_mean).abs() < 0.01 * span,
                "mean {} vs {true_mean}",
                m.value
            );
            let v = aggregates::variance(&mut rng, &xs, b, spec, rel).unwrap();
            // The sum of squares has sensitivity hi^2 = 6241: the noisiest part.
            assert!(
                (v.value - true_var).abs() < 0.1 * true_var,
                "var {} vs {true_var}",
                v.value
            );
            let c = aggregates::count(&mut rng, xs.len(), spec, rel).unwrap();
            assert!((c.value - n).abs() < 5.0, "count {}", c.value);
            assert!(m.loss.epsilon().unwrap() <= 50.0);
        }
    }
    let mut sorted = xs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let q = aggregates::quantile(&mut rng, &xs, b, 0.5, 1000, 20.0).unwrap();
    assert!((q.value - median).abs() < 0.02 * span, "median {} vs {median}", q.value);
}

#[test]
fn count_noise_has_the_stated_spread() {
    let mut rng = DpRng::insecure_seeded_for_tests(22);
    let spec = NoiseSpec::Laplace { epsilon: 0.5 };
    let draws: Vec<f64> = (0..20_000)
        .map(|_| {
            aggregates::count(&mut rng, 1000, spec, Neighbouring::AddRemove)
                .unwrap()
                .value
                - 1000.0
        })
        .collect();
    let var = draws.iter().map(|d| d * d).sum::<f64>() / draws.len() as f64;
    // Discrete Laplace with scale b = 2: variance 2p/(1-p)^2, p = exp(-1/b).
    let p = (-0.5f64).exp();
    let want = 2.0 * p / (1.0 - p).powi(2);
    assert!((var - want).abs() < 0.05 * want, "{var} vs {want}");
}

#[test]
fn histograms_known_and_unknown() {
    let values: Vec<String> = ["a", "b", "a", "c", "a"]
        .iter()
        .cycle()
        .take(5000)
        .map(|s| s.to_string())
        .chain(["rare".to_string()])
        .collect();
    let mut rng = DpRng::insecure_seeded_for_tests(23);
    let cats: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
    let h = aggregates::histogram(
        &mut rng,
        &values,
        &cats,
        NoiseSpec::Laplace { epsilon: 1.0 },
        Neighbouring::AddRemove,
    )
    .unwrap();
    let want = [3000.0, 1000.0, 1000.0, 0.0];
    for (got, w) in h.value.iter().zip(want) {
        assert!((got - w).abs() < 30.0, "{:?}", h.value);
    }
    let g = aggregates::histogram(
        &mut rng,
        &values,
        &cats,
        NoiseSpec::Gaussian {
            epsilon: 1.0,
            delta: 1e-6,
        },
        Neighbouring::Substitute,
    )
    .unwrap();
    assert!(g.loss.epsilon().unwrap() <= 1.0);
    // The single "rare" record stays hidden (delta-small chance to appear);
    // the frequent categories come through.
    let u = aggregates::histogram_unknown(&mut rng, &values, 1.0, 1e-9, Neighbouring::AddRemove).unwrap();
    let names: Vec<&str> = u.value.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}
