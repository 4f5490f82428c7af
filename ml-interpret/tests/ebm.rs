//! The explainable boosting machine: as accurate as InterpretML's on the
//! same splits (fixture from `scripts/gen_interpret.py`), additive by
//! construction, and its spec predicts, exports and explains as itself.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::metrics::{accuracy, r2_score};
use ml_core::{Explainer, Model, Predictions, Target, Trainer};
use ml_interpret::{Ebm, TreeShap};
use serde_json::Value;

mod common;
use common::fixtures;

fn indices(v: &Value) -> Vec<usize> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn classification_matches_interpret_and_explains_itself() {
    let case = &fixtures()["ebm"]["breast_cancer"];
    let data = ml_datasets::load("breast_cancer").unwrap();
    let (train, test) = (
        data.select_rows(&indices(&case["train"])).unwrap(),
        data.select_rows(&indices(&case["test"])).unwrap(),
    );
    let ebm = Ebm::default().fit_ebm(&train).unwrap();
    let Predictions::Classification { labels, .. } = ebm.predict(test.features()).unwrap() else {
        panic!()
    };
    let Some(Target::Classes { labels: truth, .. }) = test.target() else {
        panic!()
    };
    let acc = accuracy(&truth.to_vec(), &labels.to_vec()).unwrap();
    let want = case["accuracy"].as_f64().unwrap();
    println!(
        "EBM breast_cancer test accuracy {acc:.4} (interpret {want:.4}), rounds {:?}",
        ebm.rounds
    );
    assert!(acc >= want - 0.03, "accuracy {acc} vs interpret's {want}");

    // Additive: intercept plus the contributions is the log-odds.
    let contrib = ebm.contributions(test.features()).unwrap();
    let spec = ebm.describe().unwrap();
    let raw = spec.estimator.raw_output(test.features());
    for i in 0..test.n_samples() {
        let sum: f64 = contrib.row(i).sum() + ebm.intercept();
        assert!((sum - raw[[i, 0]]).abs() < 1e-9, "row {i}");
    }
    // Path-dependent TreeSHAP of the spec is each shape's value (the shapes
    // are centred on the covers).
    let shap = TreeShap::path_dependent().explain(&ebm, &test).unwrap();
    for i in 0..test.n_samples() {
        for j in 0..30 {
            assert!(
                (shap.values[[i, j, 0]] - contrib[[i, j]]).abs() < 1e-9,
                "row {i} feature {j}"
            );
        }
        assert!((shap.base_values[[i, 0]] - ebm.intercept()).abs() < 1e-9);
    }
    assert!(ebm.shapes.iter().zip(&ebm.counts).all(|(s, c)| {
        let mean: f64 = s.iter().zip(c).map(|(v, c)| v * c).sum::<f64>() / c.iter().sum::<f64>();
        mean.abs() < 1e-9
    }));
}

#[test]
fn regression_matches_interpret() {
    let case = &fixtures()["ebm"]["diabetes"];
    let data = ml_datasets::load("diabetes").unwrap();
    let (train, test) = (
        data.select_rows(&indices(&case["train"])).unwrap(),
        data.select_rows(&indices(&case["test"])).unwrap(),
    );
    let model = Ebm::default().fit(&train).unwrap();
    let Predictions::Regression { values } = model.predict(test.features()).unwrap() else {
        panic!()
    };
    let Some(Target::Values { values: truth }) = test.target() else {
        panic!()
    };
    let r2 = r2_score(truth.view(), values.view()).unwrap();
    let want = case["r2"].as_f64().unwrap();
    println!("EBM diabetes test R² {r2:.4} (interpret {want:.4})");
    assert!(r2 >= want - 0.05, "R² {r2} vs interpret's {want}");
}

#[test]
fn bad_input_is_refused() {
    let bc = ml_datasets::load("breast_cancer").unwrap();
    assert!(
        Ebm {
            outer_bags: 0,
            ..Ebm::default()
        }
        .fit(&bc)
        .is_err()
    );
    assert!(
        Ebm {
            validation_size: 1.0,
            ..Ebm::default()
        }
        .fit(&bc)
        .is_err()
    );
    let unlabeled = ml_core::Dataset::new(bc.features().to_owned(), bc.feature_names()).unwrap();
    assert!(Ebm::default().fit(&unlabeled).is_err());
}

#[test]
fn shape_functions_read_back_from_the_spec() {
    let data = ml_datasets::load("breast_cancer").unwrap();
    let ebm = Ebm {
        outer_bags: 2,
        ..Ebm::default()
    }
    .fit_ebm(&data)
    .unwrap();
    let terms = ml_interpret::shape_functions(&ebm.describe().unwrap()).unwrap();
    assert!(terms.interactions.is_empty());
    let (intercept, shapes) = (terms.intercept, terms.shapes);
    assert!((intercept - ebm.intercept()).abs() < 1e-12);
    assert_eq!(shapes.len(), 30);
    for (j, s) in shapes.iter().enumerate() {
        // Bins that no tree separates merge, so compare through the rows.
        for i in (0..data.n_samples()).step_by(7) {
            let v = data.features()[[i, j]] as f32;
            let b = s.edges.partition_point(|&e| v > e as f32);
            let got = s.values[b];
            let want = ebm.shapes[j][ebm.bins[j].edges.partition_point(|&e| v > e as f32)];
            assert!((got - want).abs() < 1e-12, "feature {j} row {i}");
        }
    }
    let forest = ml_learn::Pipeline::from_params("forest", &[], None)
        .unwrap()
        .fit(&data)
        .unwrap();
    assert!(ml_interpret::shape_functions(&forest.describe().unwrap()).is_err());
}

#[test]
fn pairwise_interactions_add_exact_terms() {
    let case = &fixtures()["ebm"]["diabetes"];
    let data = ml_datasets::load("diabetes").unwrap();
    let (train, test) = (
        data.select_rows(&indices(&case["train"])).unwrap(),
        data.select_rows(&indices(&case["test"])).unwrap(),
    );
    let ebm = Ebm {
        interactions: 3,
        ..Ebm::default()
    }
    .fit_ebm(&train)
    .unwrap();
    assert_eq!(ebm.pairs.len(), 3);
    let terms = ml_interpret::shape_functions(&ebm.describe().unwrap()).unwrap();
    assert_eq!((terms.shapes.len(), terms.interactions.len()), (10, 3));
    // The spec (one tree per feature, one per pair) is the additive sum.
    let spec = ebm.describe().unwrap();
    let raw = spec.estimator.raw_output(test.features());
    let (main, pairs) = (
        ebm.contributions(test.features()).unwrap(),
        ebm.pair_contributions(test.features()).unwrap(),
    );
    for i in 0..test.n_samples() {
        let sum = ebm.intercept() + main.row(i).sum() + pairs.row(i).sum();
        assert!((sum - raw[[i, 0]]).abs() < 1e-9, "row {i}: {sum} vs {}", raw[[i, 0]]);
    }
    let Predictions::Regression { values } = ebm.predict(test.features()).unwrap() else {
        panic!()
    };
    let Some(Target::Values { values: truth }) = test.target() else {
        panic!()
    };
    let r2 = r2_score(truth.view(), values.view()).unwrap();
    println!(
        "EBM diabetes with 3 interactions: test R² {r2:.4}, pairs {:?}",
        ebm.pairs.iter().map(|p| p.features).collect::<Vec<_>>()
    );
    assert!(r2 > 0.3, "{r2}");
    // TreeSHAP stays exact on the pair trees (local accuracy).
    let shap = TreeShap::path_dependent().explain(&ebm, &test).unwrap();
    for i in 0..test.n_samples() {
        let s: f64 = (0..10).map(|j| shap.values[[i, j, 0]]).sum::<f64>() + shap.base_values[[i, 0]];
        assert!(
            (s - raw[[i, 0]]).abs() < 1e-9,
            "row {i}: {s} vs {}: {:?} base {}",
            raw[[i, 0]],
            shap.values.slice(ml_core::ndarray::s![i, .., 0]),
            shap.base_values[[i, 0]]
        );
    }
}

/// Three classes: one score per class (softmax), boosted jointly; as
/// accurate as InterpretML's on the same split, and its spec explains
/// itself exactly, class by class.
#[test]
fn multiclass_matches_interpret_and_explains_itself() {
    let case = &fixtures()["ebm"]["iris"];
    let data = ml_datasets::load("iris").unwrap();
    let (train, test) = (
        data.select_rows(&indices(&case["train"])).unwrap(),
        data.select_rows(&indices(&case["test"])).unwrap(),
    );
    let ebm = Ebm::default().fit_ebm(&train).unwrap();
    assert_eq!(ebm.intercepts.len(), 3);
    for (s, b) in ebm.shapes.iter().zip(&ebm.bins) {
        assert_eq!(s.len(), (b.edges.len() + 1) * 3);
    }
    let Predictions::Classification {
        labels,
        probabilities: Some(p),
        ..
    } = ebm.predict(test.features()).unwrap()
    else {
        panic!()
    };
    let Some(Target::Classes { labels: truth, .. }) = test.target() else {
        panic!()
    };
    let acc = accuracy(&truth.to_vec(), &labels.to_vec()).unwrap();
    let log_loss = -truth
        .iter()
        .enumerate()
        .map(|(i, &t)| p[[i, t]].max(1e-15).ln())
        .sum::<f64>()
        / truth.len() as f64;
    let (want_acc, want_loss) = (case["accuracy"].as_f64().unwrap(), case["log_loss"].as_f64().unwrap());
    println!(
        "EBM iris test accuracy {acc:.4} (interpret {want_acc:.4}), log loss {log_loss:.4} (interpret {want_loss:.4}), rounds {:?}",
        ebm.rounds
    );
    assert!(acc >= want_acc - 0.06, "accuracy {acc} vs interpret's {want_acc}");
    assert!(
        log_loss <= want_loss + 0.1,
        "log loss {log_loss} vs interpret's {want_loss}"
    );

    // Each class's score is its intercept plus its shape values: the spec's
    // raw outputs, which TreeSHAP splits exactly (base + Σφ per class).
    let spec = ebm.describe().unwrap();
    let x = test.features();
    let raw = spec.estimator.raw_output(x);
    for i in 0..x.nrows() {
        for c in 0..3 {
            let by_hand = ebm.intercepts[c]
                + (0..x.ncols())
                    .map(|j| ebm.shapes[j][ebm.bins[j].edges.partition_point(|&e| x[[i, j]] as f32 > e as f32) * 3 + c])
                    .sum::<f64>();
            assert!((by_hand - raw[[i, c]]).abs() < 1e-9, "row {i} class {c}");
        }
    }
    let shap = TreeShap::path_dependent().explain(&ebm, &test).unwrap();
    for i in 0..x.nrows() {
        for c in 0..3 {
            let total = shap.base_values[[i, c]] + (0..x.ncols()).map(|j| shap.values[[i, j, c]]).sum::<f64>();
            assert!((total - raw[[i, c]]).abs() < 1e-9, "row {i} class {c}");
        }
    }
    // Per-class contributions are TreeSHAP's.
    let err = ebm.contributions(x).unwrap_err().to_string();
    assert!(err.contains("TreeSHAP"), "{err}");

    // Interaction terms too: a table value per class, each pair a
    // two-feature tree whose leaves carry every class's value; TreeSHAP
    // still splits each class's score exactly.
    let with_pairs = Ebm {
        interactions: 2,
        outer_bags: 4,
        ..Ebm::default()
    }
    .fit_ebm(&train)
    .unwrap();
    assert_eq!(with_pairs.pairs.len(), 2);
    for p in &with_pairs.pairs {
        assert_eq!(p.values.len(), p.bins.0.edges.len() + 1);
        assert!(p.values.iter().all(|r| r.len() == (p.bins.1.edges.len() + 1) * 3));
    }
    assert!(with_pairs.pair_contributions(x).is_err());
    let raw = with_pairs.describe().unwrap().estimator.raw_output(x);
    let shap = TreeShap::path_dependent().explain(&with_pairs, &test).unwrap();
    for i in 0..x.nrows() {
        for c in 0..3 {
            let by_hand = with_pairs.intercepts[c]
                + (0..x.ncols())
                    .map(|j| {
                        with_pairs.shapes[j][with_pairs.bins[j]
                            .edges
                            .partition_point(|&e| x[[i, j]] as f32 > e as f32)
                            * 3
                            + c]
                    })
                    .sum::<f64>()
                + with_pairs
                    .pairs
                    .iter()
                    .map(|p| {
                        let (a, b) = p.features;
                        let xa = p.bins.0.edges.partition_point(|&e| x[[i, a]] as f32 > e as f32);
                        let xb = p.bins.1.edges.partition_point(|&e| x[[i, b]] as f32 > e as f32);
                        p.values[xa][xb * 3 + c]
                    })
                    .sum::<f64>();
            assert!((by_hand - raw[[i, c]]).abs() < 1e-9, "row {i} class {c}");
            let total = shap.base_values[[i, c]] + (0..x.ncols()).map(|j| shap.values[[i, j, c]]).sum::<f64>();
            assert!((total - raw[[i, c]]).abs() < 1e-9, "row {i} class {c}");
        }
    }
    let Predictions::Classification { labels, .. } = with_pairs.predict(x).unwrap() else {
        panic!()
    };
    let acc_pairs = accuracy(&truth.to_vec(), &labels.to_vec()).unwrap();
    println!("EBM iris with 2 interactions: test accuracy {acc_pairs:.4}");
    assert!(acc_pairs >= want_acc - 0.06);

    // Shape functions class by class read back from the spec.
    assert!(ml_interpret::shape_functions(&spec).is_err());
    assert!(ml_interpret::shape_functions_of(&spec, 3).is_err());
    for c in 0..3 {
        let terms = ml_interpret::shape_functions_of(&spec, c).unwrap();
        assert!((terms.intercept - ebm.intercepts[c]).abs() < 1e-12);
        for (j, s) in terms.shapes.iter().enumerate() {
            for i in 0..x.nrows() {
                let v = x[[i, j]] as f32;
                let got = s.values[s.edges.partition_point(|&e| v > e as f32)];
                let want = ebm.shapes[j][ebm.bins[j].edges.partition_point(|&e| v > e as f32) * 3 + c];
                assert!((got - want).abs() < 1e-12, "class {c} feature {j} row {i}");
            }
        }
    }
}
