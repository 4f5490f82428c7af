//! Explain a credit model and check it for fairness: train a random forest
//! on half of the bundled German credit data (sex kept aside as the
//! sensitive attribute), explain it with exact TreeSHAP, draw the SHAP
//! summary, measure its selection rates by sex with Fairlearn's metrics, and
//! mitigate the disparity two ways: group thresholds on the forest's scores
//! chosen on a fifth of the data the forest did not see (on its own
//! training rows a forest's scores are overconfident), and a mix of
//! logistic regressions retrained by exponentiated gradient on both. Every
//! figure is on the held-out 30%.
//!
//! ```text
//! cargo run --release -p ml-sdk-examples --bin explain_fairness [-- OUT_DIR]
//! ```

use anyhow::{Context, Result, bail};
use ml_sdk::core::{Predictions, Target};
use ml_sdk::interpret::charts::Chart;
use ml_sdk::interpret::{
    ExponentiatedGradient, GroupMetric, MetricFrame, Moment, ParityConstraint, ThresholdOptimizer, TreeShap,
    parity_measures,
};
use ml_sdk::learn::Pipeline;
use ml_sdk::prelude::*;
use rand::SeedableRng;

fn main() -> Result<()> {
    let out_dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "out/explain_fairness".into()));
    let data = ml_sdk::datasets::load("german_credit")?;
    let (train, test) = train_test_split(&data, 0.3, 42, true)?;
    let (fit, calibrate) = train_test_split(&train, 2.0 / 7.0, 42, true)?;
    let (y_calibrate, groups_calibrate) = labels_and_groups(&calibrate)?;
    let (_, groups_train) = labels_and_groups(&train)?;
    let (y, groups) = labels_and_groups(&test)?;
    let sex = data.sensitive().first().context("german_credit keeps sex aside")?;
    let columns = [(sex.name.as_str(), groups.as_slice())];
    let Some(Target::Classes { names, .. }) = data.target() else {
        bail!("german_credit has class labels");
    };
    println!(
        "german_credit: {} applicants ({} to fit, {} to calibrate, {} held out), {} features, classes {names:?}, sensitive '{}'",
        data.n_samples(),
        fit.n_samples(),
        calibrate.n_samples(),
        test.n_samples(),
        data.n_features(),
        sex.name
    );

    // A forest; its spec is a tree ensemble, so TreeSHAP is exact.
    let trainer = Pipeline::from_params(
        "forest",
        &[("n_trees".into(), "100".into()), ("max_depth".into(), "6".into())],
        Some(7),
    )?;
    let model = trainer.fit(&fit)?;
    let Predictions::Classification {
        labels: predicted,
        probabilities: Some(proba),
        ..
    } = model.predict(test.features())?
    else {
        bail!("the forest gives class probabilities");
    };

    // Local explanations of the held-out applicants, which add up to each
    // prediction exactly (base value + Σ SHAP = P(good credit)).
    let rows: Vec<usize> = (0..test.n_samples()).collect();
    let sample = &test;
    let shap = TreeShap::path_dependent().explain(model.as_ref(), sample)?;
    let good = shap.output_names.len() - 1;
    let worst = rows
        .iter()
        .map(|&i| {
            let total = shap.base_values[[i, good]] + shap.values.slice(ml_sdk::ndarray::s![i, .., good]).sum();
            (total - proba[[i, good]]).abs()
        })
        .fold(0.0, f64::max);
    println!(
        "TreeSHAP on {} rows: base value + sum of SHAP values = P({}) to {worst:.1e}",
        rows.len(),
        names[good]
    );
    let mut importance: Vec<(f64, &str)> = shap
        .feature_names
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let v = shap.values.slice(ml_sdk::ndarray::s![.., j, good]);
            (v.iter().map(|a| a.abs()).sum::<f64>() / v.len() as f64, f.as_str())
        })
        .collect();
    importance.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("most influential features (mean |SHAP|):");
    for (v, f) in importance.iter().take(5) {
        println!("  {f:<32} {v:.4}");
    }
    std::fs::create_dir_all(&out_dir)?;
    let chart = out_dir.join("shap_summary.svg");
    // The forest's SHAP values are on its preprocessed features (one-hot
    // indicators); the chart colours each point by that feature's value.
    let x = model.describe()?.transform(sample.features())?;
    Chart::shap_summary(&shap, x.view(), good, 12)?.save(&chart)?;
    println!("SHAP summary chart: {}", chart.display());

    // Fairness: Fairlearn's metrics by sex.
    let pred = predicted.to_vec();
    let frame = MetricFrame::new(
        &[
            GroupMetric::Accuracy,
            GroupMetric::SelectionRate,
            GroupMetric::TruePositiveRate,
        ],
        &y,
        &pred,
        &columns,
        1,
    )?;
    for (group, metrics) in &frame.by_group {
        println!(
            "  {:<8} accuracy {:.3}  selection rate {:.3}  true positive rate {:.3}",
            group.join("|"),
            metrics["accuracy"],
            metrics["selection_rate"],
            metrics["true_positive_rate"]
        );
    }
    let before = parity_measures(&y, &pred, &columns, 1)?;
    println!(
        "forest: demographic parity difference {:.4}, equalized odds difference {:.4}",
        before["demographic_parity_difference"], before["equalized_odds_difference"]
    );
    // The sampling error of a difference of two groups' rates: on a few
    // hundred rows, differences of a few points are noise.
    let se: f64 = frame
        .by_group
        .iter()
        .map(|(g, m)| {
            let n = groups.iter().filter(|v| **v == g.join("|")).count() as f64;
            let r = m["selection_rate"];
            r * (1.0 - r) / n
        })
        .sum::<f64>()
        .sqrt();
    println!("  (standard error of a selection-rate difference at these group sizes: {se:.3})");

    // Mitigation 1: group-specific thresholds on the forest's scores,
    // chosen on the calibration rows, applied to the held-out ones.
    let positive = |x| -> Result<Vec<f64>> {
        match model.predict(x)? {
            Predictions::Classification {
                probabilities: Some(p), ..
            } => Ok(p.column(1).to_vec()),
            _ => bail!("the forest gives class probabilities"),
        }
    };
    let thresholds = ThresholdOptimizer::new(ParityConstraint::DemographicParity).fit(
        &positive(calibrate.features())?,
        &y_calibrate,
        &groups_calibrate,
    )?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let post = thresholds.predict(&positive(test.features())?, &groups, &mut rng)?;
    report("threshold optimizer", &y, &post, &columns)?;

    // Mitigation 2: a randomized mix of logistic regressions trained by
    // exponentiated gradient under demographic parity.
    let logistic = Pipeline::from_params("logistic", &[], None)?;
    let mix = ExponentiatedGradient::new(Moment::DemographicParity).fit(&logistic, &train, &groups_train)?;
    let p = mix.positive_probability(test.features())?;
    let reduced: Vec<usize> = p.iter().map(|&pi| usize::from(pi >= 0.5)).collect();
    println!(
        "exponentiated gradient: {} learners in the mix after {} iterations (duality gap {:.1e})",
        mix.weights().iter().filter(|&&w| w > 0.0).count(),
        mix.iterations,
        mix.best_gap
    );
    report("exponentiated gradient", &y, &reduced, &columns)?;
    Ok(())
}

/// Class labels and the sensitive column of a data set.
fn labels_and_groups(data: &Dataset) -> Result<(Vec<usize>, Vec<String>)> {
    let Some(Target::Classes { labels, .. }) = data.target() else {
        bail!("german_credit has class labels");
    };
    let sex = data.sensitive().first().context("german_credit keeps sex aside")?;
    Ok((labels.to_vec(), sex.values.clone()))
}

fn report(name: &str, y: &[usize], pred: &[usize], columns: &[(&str, &[String])]) -> Result<()> {
    let accuracy = y.iter().zip(pred).filter(|(a, b)| a == b).count() as f64 / y.len() as f64;
    let parity = parity_measures(y, pred, columns, 1)?;
    println!(
        "{name}: accuracy {accuracy:.4}, demographic parity difference {:.4}",
        parity["demographic_parity_difference"]
    );
    Ok(())
}
