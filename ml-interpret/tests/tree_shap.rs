//! TreeSHAP against brute-force Shapley values over every coalition, and
//! local accuracy, on every tree model we train (bootstrapped forests
//! included), for classification and regression.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

// Index loops read as the formulas they check.
#![allow(clippy::needless_range_loop)]

use ml_core::ndarray::{Array2, ArrayView1, s};
use ml_core::{Dataset, Estimator, Explainer, Model, Target, Trainer, Tree};
use ml_interpret::{TreeEnsemble, TreeShap, exact_shapley};
use ml_learn::Pipeline;

mod common;
use common::params;

/// The first `m` columns of a bundled data set, with its target.
fn narrow(name: &str, m: usize) -> Dataset {
    let full = ml_datasets::load(name).unwrap();
    let x = full.features().slice(s![.., ..m]).to_owned();
    let names = full.feature_names()[..m].to_vec();
    let d = Dataset::new(x, names).unwrap();
    match full.target().unwrap() {
        Target::Classes { labels, names } => d.with_classes(labels.to_vec(), names.clone()).unwrap(),
        Target::Values { values } => d.with_values(values.to_vec()).unwrap(),
    }
}

fn models(data: &Dataset) -> Vec<(String, Box<dyn Model>)> {
    [
        ("tree", vec![("max_depth", "6")]),
        (
            "forest",
            vec![("n_trees", "12"), ("max_depth", "5"), ("bootstrap", "true")],
        ),
        ("forest", vec![("n_trees", "5"), ("max_features", "sqrt")]),
    ]
    .into_iter()
    .map(|(name, p)| {
        let trainer = Pipeline::from_params(name, &params(&p), Some(3)).unwrap();
        (format!("{name} {p:?}"), trainer.fit(data).unwrap())
    })
    .chain(
        // EBMs (two classes or regression), with an interaction term whose
        // table has empty cells (zero-cover nodes).
        ml_interpret::Ebm {
            outer_bags: 2,
            interactions: 1,
            ..Default::default()
        }
        .fit(data)
        .ok()
        .map(|m| ("ebm with one interaction".to_string(), m)),
    )
    .collect()
}

/// E[f(x) | x_S] under the covers: follow x where the feature is in S,
/// average the children by cover otherwise.
fn cond_exp(t: &Tree, node: usize, x: ArrayView1<'_, f64>, in_s: &[bool], out: &mut [f64], w: f64) {
    let n = &t.nodes[node];
    match n.split {
        None => out.iter_mut().zip(&n.value).for_each(|(o, v)| *o += w * v),
        Some(sp) if in_s[sp.feature] => {
            let next = if ml_core::goes_left(x[sp.feature], sp.threshold) {
                sp.left
            } else {
                sp.right
            };
            cond_exp(t, next, x, in_s, out, w);
        }
        Some(sp) => {
            // Children without training rows share equally.
            let (cl, cr) = (t.nodes[sp.left].cover, t.nodes[sp.right].cover);
            let l = if cl + cr > 0.0 { cl / (cl + cr) } else { 0.5 };
            cond_exp(t, sp.left, x, in_s, out, w * l);
            cond_exp(t, sp.right, x, in_s, out, w * (1.0 - l));
        }
    }
}

fn ensemble_parts(model: &dyn Model) -> (Vec<Tree>, f64, Vec<f64>) {
    match model.describe().unwrap().estimator {
        Estimator::TreeEnsemble {
            trees,
            aggregation,
            base_values,
            ..
        } => {
            let scale = match aggregation {
                ml_core::Aggregation::Average => 1.0 / trees.len() as f64,
                ml_core::Aggregation::Sum => 1.0,
                other => panic!("no test for {other:?}"),
            };
            (trees, scale, base_values)
        }
        _ => panic!("tree model expected"),
    }
}

fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol * (1.0 + want.abs()),
        "{what}: {got} vs {want}"
    );
}

/// Values plus base value equal the raw output on every row, to 1e-9.
fn assert_local_accuracy(e: &ml_core::Explanation, raw: &Array2<f64>, what: &str) {
    let (n, m, k) = e.values.dim();
    for i in 0..n {
        for o in 0..k {
            let sum: f64 = (0..m).map(|j| e.values[[i, j, o]]).sum();
            assert_close(
                sum + e.base_values[[i, o]],
                raw[[i, o]],
                1e-9,
                &format!("{what}: local accuracy row {i}"),
            );
        }
    }
}

fn check(data: &Dataset, rows: usize) {
    let x = data.features();
    let m = x.ncols();
    for (label, model) in models(data) {
        let (trees, scale, base) = ensemble_parts(model.as_ref());
        let k = base.len();
        let ens = TreeEnsemble::from_estimator(&model.describe().unwrap().estimator).unwrap();
        let raw = model.describe().unwrap().estimator.raw_output(x);

        // Path-dependent.
        let e = TreeShap::path_dependent().explain(model.as_ref(), data).unwrap();
        assert_eq!(e.values.shape(), &[x.nrows(), m, k]);
        assert_local_accuracy(&e, &raw, &format!("{label}: path-dependent"));
        for i in 0..rows {
            let row = x.row(i);
            let exact = exact_shapley(m, k, |in_s| {
                let mut out = vec![0.0; k];
                for t in &trees {
                    cond_exp(t, 0, row, in_s, &mut out, 1.0);
                }
                out.iter().zip(&base).map(|(o, b)| o * scale + b).collect()
            })
            .unwrap();
            for j in 0..m {
                for o in 0..k {
                    assert_close(
                        e.values[[i, j, o]],
                        exact[j][o],
                        1e-9,
                        &format!("{label}: path-dependent row {i} feature {j}"),
                    );
                }
            }
        }

        // Interventional against a small background.
        let bg: Array2<f64> = x.slice(s![x.nrows() - 7.., ..]).to_owned();
        let e = TreeShap::interventional(bg.clone())
            .explain(model.as_ref(), data)
            .unwrap();
        assert_local_accuracy(&e, &raw, &format!("{label}: interventional"));
        for i in 0..rows {
            let row = x.row(i);
            let exact = exact_shapley(m, k, |in_s| {
                let mut out = vec![0.0; k];
                for z in bg.outer_iter() {
                    let mixed: Vec<f64> = (0..m).map(|j| if in_s[j] { row[j] } else { z[j] }).collect();
                    for (o, v) in out.iter_mut().zip(ens.raw(&mixed)) {
                        *o += v / bg.nrows() as f64;
                    }
                }
                out
            })
            .unwrap();
            for j in 0..m {
                for o in 0..k {
                    assert_close(
                        e.values[[i, j, o]],
                        exact[j][o],
                        1e-9,
                        &format!("{label}: interventional row {i} feature {j}"),
                    );
                }
            }
        }
    }
}

#[test]
fn classification_forests_and_trees_equal_brute_force() {
    check(&ml_datasets::load("iris").unwrap(), 15);
    check(&narrow("breast_cancer", 8), 6);
}

#[test]
fn regression_forests_and_trees_equal_brute_force() {
    check(&ml_datasets::load("diabetes").unwrap(), 4);
}

#[test]
fn bad_input_is_a_typed_error() {
    let data = ml_datasets::load("iris").unwrap();
    let model = Pipeline::from_params("logistic", &[], None)
        .unwrap()
        .fit(&data)
        .unwrap();
    let err = TreeShap::path_dependent().explain(model.as_ref(), &data).unwrap_err();
    assert!(err.to_string().contains("tree"), "{err}");
    let forest = Pipeline::from_params("forest", &params(&[("n_trees", "3")]), Some(1))
        .unwrap()
        .fit(&data)
        .unwrap();
    let narrow_bg = Array2::zeros((3, 2));
    assert!(
        TreeShap::interventional(narrow_bg)
            .explain(forest.as_ref(), &data)
            .is_err()
    );
    let empty_bg = Array2::zeros((0, 4));
    assert!(
        TreeShap::interventional(empty_bg)
            .explain(forest.as_ref(), &data)
            .is_err()
    );
    // Trees without covers (as imported from a foreign ONNX file) have no
    // path-dependent form; the interventional one needs none.
    let mut spec = forest.describe().unwrap();
    if let Estimator::TreeEnsemble { trees, .. } = &mut spec.estimator {
        trees
            .iter_mut()
            .flat_map(|t| t.nodes.iter_mut())
            .for_each(|n| n.cover = 0.0);
    }
    let err = TreeShap::path_dependent().explain(&spec, &data).unwrap_err();
    assert!(err.to_string().contains("background"), "{err}");
    let bg = data.features().to_owned();
    assert!(TreeShap::interventional(bg).explain(&spec, &data).is_ok());
    // A background is a bare matrix: a model trained on complete data
    // refuses a missing value in it, naming the column.
    let mut bad = data.features().to_owned();
    bad[[0, 0]] = f64::NAN;
    let err = TreeShap::interventional(bad)
        .explain(forest.as_ref(), &data)
        .unwrap_err();
    assert!(err.to_string().contains("cannot take missing values"), "{err}");
    let mut bad = data.features().to_owned();
    bad[[0, 0]] = f64::INFINITY;
    let err = TreeShap::interventional(bad)
        .explain(forest.as_ref(), &data)
        .unwrap_err();
    assert!(err.to_string().contains("inf"), "{err}");
}
