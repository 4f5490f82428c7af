//! ThresholdOptimizer on a model we train: the constraint holds in
//! expectation on the data it was fitted on, and bad input is refused.

use ml_core::{Model, Predictions, Trainer};
use ml_interpret::{GroupMetric, MetricFrame, ParityConstraint, ThresholdOptimizer};
use ml_learn::Pipeline;
use rand::SeedableRng;

mod common;

#[test]
fn demographic_parity_holds_in_expectation_and_costs_little_accuracy() {
    let (data, y, groups) = common::german_credit();
    let model = Pipeline::from_params("logistic", &[], None)
        .unwrap()
        .fit(&data)
        .unwrap();
    let Predictions::Classification {
        probabilities: Some(p), ..
    } = model.predict(data.features()).unwrap()
    else {
        panic!()
    };
    let scores: Vec<f64> = p.column(1).to_vec();
    let t = ThresholdOptimizer::new(ParityConstraint::DemographicParity)
        .fit(&scores, &y, &groups)
        .unwrap();
    for g in ["female", "male"] {
        let (sum, count) = scores
            .iter()
            .zip(&groups)
            .filter(|(_, gg)| *gg == g)
            .fold((0.0, 0.0), |(s, c), (&sc, _)| {
                (s + t.positive_probability(sc, g).unwrap(), c + 1.0)
            });
        assert!(
            (sum / count - t.x_best).abs() < 1e-9,
            "{g}: expected selection rate {} vs {}",
            sum / count,
            t.x_best
        );
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let pred = t.predict(&scores, &groups, &mut rng).unwrap();
    let sens = [("sex", groups.as_slice())];
    let f = MetricFrame::new(
        &[GroupMetric::Accuracy, GroupMetric::SelectionRate],
        &y,
        &pred,
        &sens,
        1,
    )
    .unwrap();
    assert!(f.overall["accuracy"] > 0.68, "{:?}", f.overall);
    assert!(t.positive_probability(0.5, "other").is_err());
}

#[test]
fn bad_input_is_refused() {
    let t = ThresholdOptimizer::new(ParityConstraint::EqualizedOdds);
    let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(t.fit(&[], &[], &[]).is_err());
    assert!(t.fit(&[0.1, 0.2], &[0, 1], &g(&["a"])).is_err());
    assert!(t.fit(&[f64::NAN, 0.2], &[0, 1], &g(&["a", "a"])).is_err());
    assert!(t.fit(&[0.1, 0.2], &[0, 2], &g(&["a", "a"])).is_err());
    let err = t.fit(&[0.1, 0.2, 0.3], &[0, 1, 1], &g(&["a", "a", "b"])).unwrap_err();
    assert!(err.to_string().contains("'b'"), "{err}");
    assert!(ParityConstraint::parse("nope").is_err());
}

#[test]
fn exponentiated_gradient_is_comparable_to_fairlearns() {
    use ml_interpret::{ExponentiatedGradient, Moment};
    let fx = common::fixtures();
    let (data, y, groups) = common::german_credit();
    // The same learner as Fairlearn's: standardized, one-hot logistic
    // regression (ours takes no sample weights, so it is fitted on
    // weighted resamples).
    let trainer = Pipeline::from_params("logistic", &[], None).unwrap();
    for (name, moment) in [
        ("demographic_parity", Moment::DemographicParity),
        ("equalized_odds", Moment::EqualizedOdds),
    ] {
        let eg = ExponentiatedGradient::new(moment)
            .fit(&trainer, &data, &groups)
            .unwrap();
        let p = eg.positive_probability(data.features()).unwrap();
        let acc = p
            .iter()
            .zip(&y)
            .map(|(&p, &y)| if y == 1 { p } else { 1.0 - p })
            .sum::<f64>()
            / y.len() as f64;
        let rate = |g: &str| {
            let v: Vec<f64> = p
                .iter()
                .zip(&groups)
                .filter(|(_, gg)| *gg == g)
                .map(|(&p, _)| p)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let dpd = (rate("female") - rate("male")).abs();
        let want = &fx["fairness"]["reductions"][name];
        let (w_acc, w_dpd) = (
            want["expected_accuracy"].as_f64().unwrap(),
            want["demographic_parity_difference"].as_f64().unwrap(),
        );
        println!(
            "{name}: accuracy {acc:.4} (fairlearn {w_acc:.4}), demographic parity difference {dpd:.4} (fairlearn {w_dpd:.4}), {} iterations, gap {:.2e}",
            eg.iterations, eg.best_gap
        );
        assert!((acc - w_acc).abs() < 0.03, "{name}: accuracy {acc} vs {w_acc}");
        if moment == Moment::DemographicParity {
            assert!(dpd <= w_dpd + 0.02, "{name}: disparity {dpd} vs {w_dpd}");
        }
        let w: f64 = eg.weights().iter().sum();
        assert!((w - 1.0).abs() < 1e-9);
        // The linear program's exact best mix closes the duality gap; the
        // averaged play alone (Algorithm 1) stops short of it.
        let plain = ExponentiatedGradient {
            run_linprog_step: false,
            ..ExponentiatedGradient::new(moment)
        }
        .fit(&trainer, &data, &groups)
        .unwrap();
        println!(
            "{name} without the linear program: {} iterations, gap {:.2e}",
            plain.iterations, plain.best_gap
        );
        assert!(eg.best_gap < 1e-6, "{name}: gap {}", eg.best_gap);
        assert!(
            eg.best_gap <= plain.best_gap,
            "{name}: {} vs {}",
            eg.best_gap,
            plain.best_gap
        );
        // Saved as data and rebuilt, the mix predicts the same.
        let json = serde_json::to_string(&eg.to_saved().unwrap()).unwrap();
        let back = ml_interpret::MitigatedClassifier::from_saved(serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(back.positive_probability(data.features()).unwrap(), p);
    }
}

#[test]
fn grid_search_is_comparable_to_fairlearns() {
    use ml_interpret::{GridSearch, Moment};
    let fx = common::fixtures();
    let want = &fx["fairness"]["reductions"]["grid_search_demographic_parity"];
    let (data, y, groups) = common::german_credit();
    let trainer = Pipeline::from_params("logistic", &[], None).unwrap();
    let result = GridSearch::new(Moment::DemographicParity)
        .fit(&trainer, &data, &groups)
        .unwrap();
    assert_eq!(result.points.len(), 10);
    let Predictions::Classification { labels: pred, .. } = result.model.predict(data.features()).unwrap() else {
        panic!()
    };
    let pred = pred.to_vec();
    let acc = pred.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64;
    let rate = |g: &str| {
        let v: Vec<usize> = pred
            .iter()
            .zip(&groups)
            .filter(|(_, gg)| *gg == g)
            .map(|(&p, _)| p)
            .collect();
        v.iter().sum::<usize>() as f64 / v.len() as f64
    };
    let dpd = (rate("female") - rate("male")).abs();
    let (w_acc, w_dpd) = (
        want["accuracy"].as_f64().unwrap(),
        want["demographic_parity_difference"].as_f64().unwrap(),
    );
    println!("grid search: accuracy {acc:.4} (fairlearn {w_acc:.4}), disparity {dpd:.4} (fairlearn {w_dpd:.4})");
    assert!((acc - w_acc).abs() < 0.03, "accuracy {acc} vs {w_acc}");
    assert!(dpd <= w_dpd + 0.03, "disparity {dpd} vs {w_dpd}");
    // The selected point minimizes the trade-off over the grid.
    let loss = |p: &ml_interpret::GridPoint| 0.5 * p.disparity + 0.5 * p.error;
    assert!(
        result
            .points
            .iter()
            .all(|p| loss(p) >= loss(&result.points[result.best]))
    );
}

#[test]
fn rate_parity_constraints_reduce_their_disparity() {
    use ml_interpret::{ExponentiatedGradient, GridSearch, Moment};
    let (data, y, groups) = common::german_credit();
    let trainer = Pipeline::from_params("tree", &[("max_depth".into(), "4".into())], None).unwrap();
    // Expected per-group rate of a positive-probability vector over the rows
    // selected by `keep`, and the gap between the groups.
    let gap = |p: &[f64], keep: &dyn Fn(usize) -> bool, value: &dyn Fn(usize, f64) -> f64| {
        let rate = |g: &str| {
            let rows: Vec<usize> = (0..y.len()).filter(|&i| groups[i] == g && keep(i)).collect();
            rows.iter().map(|&i| value(i, p[i])).sum::<f64>() / rows.len() as f64
        };
        (rate("female") - rate("male")).abs()
    };
    let base = trainer.fit(&data).unwrap();
    let Predictions::Classification { labels: bl, .. } = base.predict(data.features()).unwrap() else {
        panic!()
    };
    let base_p: Vec<f64> = bl.iter().map(|&l| l as f64).collect();
    let tpr = |p: &[f64]| gap(p, &|i| y[i] == 1, &|_, v| v);
    let err = |p: &[f64]| gap(p, &|_| true, &|i, v| if y[i] == 1 { 1.0 - v } else { v });
    for (moment, metric) in [
        (Moment::TruePositiveRateParity, &tpr as &dyn Fn(&[f64]) -> f64),
        (Moment::ErrorRateParity, &err),
    ] {
        let eg = ExponentiatedGradient::new(moment)
            .fit(&trainer, &data, &groups)
            .unwrap();
        let p = eg.positive_probability(data.features()).unwrap();
        let (before, after) = (metric(&base_p), metric(&p));
        println!("{moment:?}: disparity {before:.4} -> {after:.4}");
        assert!(after <= before.max(0.02) + 1e-9, "{moment:?}: {before} -> {after}");
        assert!(after < 0.03, "{moment:?}: {after}");
        let gs = GridSearch::new(moment).fit(&trainer, &data, &groups).unwrap();
        assert_eq!(gs.points.len(), 10);
    }
}
