//! ml-interpret against shap and Fairlearn: the fixtures of
//! `scripts/gen_interpret.py` (versions in `testdata/interpret/reference.json`)
//! hold scikit-learn models node by node or coefficient by coefficient, the
//! rows explained and the references' values. `MLSDK_INTERPRET_FIXTURES`
//! points the tests at a freshly generated copy.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

// Index loops read as the formulas they check.
#![allow(clippy::needless_range_loop)]

use ml_core::ndarray::{Array1, Array2};
use ml_core::{
    Aggregation, Dataset, Estimator, Explainer, FeatureKind, InputColumn, Link, ModelSpec, Signature, Task, Tree,
};
use ml_interpret::{
    Comparison, GroupMetric, KernelShap, LinearShap, MetricFrame, TreeShap, exact_shapley, parity_measures,
};
use serde_json::Value;

mod common;
use common::fixtures;

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, m) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, m), rows.into_iter().flatten().collect()).unwrap()
}

fn cube(v: &Value) -> Vec<Vec<Vec<f64>>> {
    serde_json::from_value(v.clone()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

fn signature(m: usize, task: Task) -> Signature {
    Signature {
        inputs: (0..m)
            .map(|j| InputColumn {
                name: format!("f{j}"),
                kind: FeatureKind::Numeric,
            })
            .collect(),
        unknown_category: Default::default(),
        task,
        accepts_missing: false,
    }
}

fn dataset(x: &Array2<f64>) -> Dataset {
    Dataset::new(x.clone(), (0..x.ncols()).map(|j| format!("f{j}")).collect()).unwrap()
}

fn classes(k: usize) -> Task {
    Task::Classification {
        classes: (0..k).map(|c| c.to_string()).collect(),
    }
}

/// The largest absolute difference, and where.
fn worst(got: &ml_core::ndarray::Array3<f64>, want: &[Vec<Vec<f64>>]) -> (f64, [usize; 3]) {
    let mut w = (0.0, [0; 3]);
    for i in 0..want.len() {
        for j in 0..want[i].len() {
            for o in 0..want[i][j].len() {
                let d = (got[[i, j, o]] - want[i][j][o]).abs();
                if d > w.0 {
                    w = (d, [i, j, o]);
                }
            }
        }
    }
    w
}

#[test]
fn tree_shap_equals_shap_tree_explainer() {
    let fx = fixtures();
    for case in fx["tree"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let trees: Vec<Tree> = serde_json::from_value(case["trees"].clone()).unwrap();
        let k = case["n_outputs"].as_u64().unwrap() as usize;
        let rows = matrix(&case["rows"]);
        let m = rows.ncols();
        let task = if case["classifier"].as_bool().unwrap() {
            classes(k)
        } else {
            Task::Regression
        };
        let spec = ModelSpec {
            signature: signature(m, task),
            preprocessing: vec![],
            estimator: Estimator::TreeEnsemble {
                trees,
                aggregation: Aggregation::Average,
                base_values: vec![0.0; k],
                link: Link::Identity,
            },
        };
        // The same model: scikit-learn's predictions, from the dumped nodes.
        let raw = spec.estimator.raw_output(rows.view());
        let pred = matrix(&case["predictions"]);
        let d = (&raw - &pred).mapv(f64::abs).fold(0.0, |a: f64, &b| a.max(b));
        assert!(d < 1e-12, "{name}: predictions differ by {d}");

        let data = dataset(&rows);
        let path = TreeShap::path_dependent().explain(&spec, &data).unwrap();
        let want = &case["path_dependent"];
        for i in 0..rows.nrows() {
            for o in 0..k {
                let sum: f64 = (0..m).map(|j| path.values[[i, j, o]]).sum::<f64>() + path.base_values[[i, o]];
                assert!(
                    (sum - pred[[i, o]]).abs() < 1e-9 * (1.0 + pred[[i, o]].abs()),
                    "{name}: local accuracy row {i}: {sum} vs {}",
                    pred[[i, o]]
                );
            }
        }
        let (d, at) = worst(&path.values, &cube(&want["values"]));
        println!("{name} path-dependent: largest difference to shap {d:e} at {at:?}");
        assert!(d < 1e-9, "{name}: path-dependent differs from shap by {d} at {at:?}");
        for (o, e) in floats(&want["expected_value"]).iter().enumerate() {
            assert!((path.base_values[[0, o]] - e).abs() < 1e-9, "{name}: expected value");
        }

        // Interventional: shap's values are not additive here (they miss
        // f(x) - E f by up to 3e-8 on breast_cancer and 0.04 on diabetes),
        // so the reference is the exact Shapley value. The game is a sum
        // over trees and background rows, so it is computed for each tree
        // and pair over the features of the nodes that a mix of the two
        // rows can reach and where they part ways (the others are null
        // players); shap's values are only required to be near.
        let bg = matrix(&case["background"]);
        let inter = TreeShap::interventional(bg.clone()).explain(&spec, &data).unwrap();
        let want = &case["interventional"];
        for (o, e) in floats(&want["expected_value"]).iter().enumerate() {
            assert!((inter.base_values[[0, o]] - e).abs() < 1e-9, "{name}: background mean");
        }
        let Estimator::TreeEnsemble { trees, .. } = &spec.estimator else {
            unreachable!()
        };
        let mut checked = 0;
        let mut exact_gap: f64 = 0.0;
        let mut shap_gap: f64 = 0.0;
        let shap_values = cube(&want["values"]);
        let weight = 1.0 / (trees.len() * bg.nrows()) as f64;
        for i in 0..rows.nrows() {
            let x = rows.row(i);
            let mut phi = vec![vec![0.0; k]; m];
            for z in bg.outer_iter() {
                for t in trees {
                    let mut decisive = Vec::new();
                    let mut stack = vec![0];
                    while let Some(node) = stack.pop() {
                        if let Some(s) = t.nodes[node].split {
                            let (gx, gz) = (
                                ml_core::goes_left(x[s.feature], s.threshold),
                                ml_core::goes_left(z[s.feature], s.threshold),
                            );
                            if gx == gz {
                                stack.push(if gx { s.left } else { s.right });
                            } else {
                                if !decisive.contains(&s.feature) {
                                    decisive.push(s.feature);
                                }
                                stack.extend([s.left, s.right]);
                            }
                        }
                    }
                    let pair = exact_shapley(decisive.len(), k, |in_s| {
                        let mut mixed = z.to_owned();
                        for (t, &j) in decisive.iter().enumerate() {
                            if in_s[t] {
                                mixed[j] = x[j];
                            }
                        }
                        t.nodes[t.leaf(mixed.view())].value.clone()
                    })
                    .unwrap();
                    for (u, &j) in decisive.iter().enumerate() {
                        for o in 0..k {
                            phi[j][o] += pair[u][o] * weight;
                        }
                    }
                }
            }
            checked += 1;
            for j in 0..m {
                for o in 0..k {
                    exact_gap = exact_gap.max((inter.values[[i, j, o]] - phi[j][o]).abs());
                    shap_gap = shap_gap.max((shap_values[i][j][o] - phi[j][o]).abs());
                }
            }
        }
        println!("{name} interventional, {checked} rows: ours vs exact {exact_gap:e}, shap vs exact {shap_gap:e}");
        // Where the fixture holds Shapley values enumerated in Python from
        // scikit-learn's own predictions, ours equal them too.
        if let Some(exact) = want["exact_first_rows"].as_array() {
            for (i, rowv) in exact.iter().enumerate() {
                let e: Vec<Vec<f64>> = serde_json::from_value(rowv.clone()).unwrap();
                for j in 0..m {
                    for o in 0..k {
                        let d = (inter.values[[i, j, o]] - e[j][o]).abs();
                        assert!(
                            d < 1e-9 * (1.0 + e[j][o].abs()),
                            "{name}: row {i} feature {j}: {} vs enumerated {}",
                            inter.values[[i, j, o]],
                            e[j][o]
                        );
                    }
                }
            }
            println!(
                "{name} interventional: equal to the values enumerated in Python on {} rows",
                exact.len()
            );
        }
        assert!(
            exact_gap < 1e-9,
            "{name}: interventional differs from the exact values by {exact_gap}"
        );
        let (d, at) = worst(&inter.values, &shap_values);
        let scale = floats(&want["expected_value"])
            .iter()
            .fold(1.0f64, |a, b| a.max(b.abs()));
        println!("{name} interventional: largest difference to shap {d:e} at {at:?}");
        assert!(d < 0.05 * scale, "{name}: interventional far from shap: {d} at {at:?}");
    }
}

fn linear_spec(case: &Value, link: Link, task: Task) -> ModelSpec {
    let coefficients = matrix(&case["coefficients"]);
    let m = coefficients.ncols();
    ModelSpec {
        signature: signature(m, task),
        preprocessing: vec![],
        estimator: Estimator::Linear {
            coefficients,
            intercepts: Array1::from(floats(&case["intercepts"])),
            link,
        },
    }
}

#[test]
fn linear_shap_equals_shap_linear_explainer() {
    let case = &fixtures()["linear"];
    let spec = linear_spec(case, Link::Logistic, classes(2));
    let e = LinearShap {
        background: Some(matrix(&case["background"])),
    }
    .explain(&spec, &dataset(&matrix(&case["rows"])))
    .unwrap();
    let (d, at) = worst(&e.values, &cube(&case["values"]));
    assert!(d < 1e-10, "linear SHAP differs from shap by {d} at {at:?}");
    assert!((e.base_values[[0, 0]] - floats(&case["expected_value"])[0]).abs() < 1e-10);
    assert_eq!(e.output_names, ["1"]);
}

#[test]
fn kernel_shap_equals_shap_kernel_explainer_when_every_coalition_is_enumerated() {
    let case = &fixtures()["kernel"];
    let spec = linear_spec(case, Link::Softmax, classes(3));
    let e = KernelShap::new(matrix(&case["background"]))
        .explain(&spec, &dataset(&matrix(&case["rows"])))
        .unwrap();
    let (d, at) = worst(&e.values, &cube(&case["values"]));
    println!("kernel: largest difference to shap {d:e} at {at:?}");
    assert!(d < 1e-9, "KernelSHAP differs from shap by {d} at {at:?}");
    for (o, ev) in floats(&case["expected_value"]).iter().enumerate() {
        assert!((e.base_values[[0, o]] - ev).abs() < 1e-12);
    }
    // Feature-count regularization: the same two features per row and
    // class as shap's LARS selection, with the same refitted values.
    let e2 = KernelShap {
        max_features: Some(2),
        ..KernelShap::new(matrix(&case["background"]))
    }
    .explain(&spec, &dataset(&matrix(&case["rows"])))
    .unwrap();
    let (d, at) = worst(&e2.values, &cube(&case["values_num_features_2"]));
    println!("kernel, num_features(2): largest difference to shap {d:e} at {at:?}");
    assert!(
        d < 1e-9,
        "KernelSHAP with 2 features differs from shap by {d} at {at:?}"
    );
}

#[test]
fn metric_frame_equals_fairlearn_on_german_credit() {
    let fx = &fixtures()["fairness"];
    let y_true: Vec<usize> = serde_json::from_value(fx["y_true"].clone()).unwrap();
    let y_pred: Vec<usize> = serde_json::from_value(fx["y_pred"].clone()).unwrap();
    let columns: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_value(fx["sensitive"].clone()).unwrap();
    let close = |got: f64, want: &Value, what: &str| {
        let w = want.as_f64().unwrap_or_else(|| panic!("{what}: {want}"));
        assert!((got - w).abs() < 1e-12, "{what}: {got} vs fairlearn {w}");
    };
    for (label, case) in fx["cases"].as_object().unwrap() {
        let names: Vec<String> = serde_json::from_value(case["sensitive"].clone()).unwrap();
        let sensitive: Vec<(&str, &[String])> = names.iter().map(|n| (n.as_str(), columns[n].as_slice())).collect();
        let f = MetricFrame::new(&GroupMetric::all(), &y_true, &y_pred, &sensitive, 1).unwrap();
        for metric in &f.metrics {
            close(
                f.overall[metric],
                &case["overall"][metric],
                &format!("{label} overall {metric}"),
            );
            close(
                f.group_min(metric).unwrap(),
                &case["group_min"][metric],
                &format!("{label} min {metric}"),
            );
            close(
                f.group_max(metric).unwrap(),
                &case["group_max"][metric],
                &format!("{label} max {metric}"),
            );
            for (key, how) in [
                ("difference_between_groups", Comparison::BetweenGroups),
                ("difference_to_overall", Comparison::ToOverall),
            ] {
                close(
                    f.difference(metric, how).unwrap(),
                    &case[key][metric],
                    &format!("{label} {key} {metric}"),
                );
            }
            for (key, how) in [
                ("ratio_between_groups", Comparison::BetweenGroups),
                ("ratio_to_overall", Comparison::ToOverall),
            ] {
                close(
                    f.ratio(metric, how).unwrap(),
                    &case[key][metric],
                    &format!("{label} {key} {metric}"),
                );
            }
        }
        assert_eq!(
            f.by_group.len(),
            case["by_group"].as_object().unwrap().len(),
            "{label}: groups"
        );
        for (key, vals) in &f.by_group {
            let want = &case["by_group"][key.join("|")];
            for (metric, v) in vals {
                close(*v, &want[metric], &format!("{label} group {key:?} {metric}"));
            }
        }
        let parity = parity_measures(&y_true, &y_pred, &sensitive, 1).unwrap();
        for (name, v) in &parity {
            close(*v, &case["parity"][name], &format!("{label} {name}"));
        }
        assert_eq!(parity.len(), case["parity"].as_object().unwrap().len());
    }
}

#[test]
fn partial_dependence_equals_scikit_learn() {
    use ml_interpret::PartialDependence;
    for case in fixtures()["pdp"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let coefficients = matrix(&case["coefficients"]);
        let binary = coefficients.nrows() == 1;
        let (link, k) = if binary {
            (Link::Logistic, 2)
        } else {
            (Link::Softmax, coefficients.nrows())
        };
        let spec = linear_spec(case, link, classes(k));
        let rows = matrix(&case["rows"]);
        let feature = case["feature"].as_u64().unwrap() as usize;
        let pd = PartialDependence {
            grid_resolution: case["grid_resolution"].as_u64().unwrap() as usize,
            ..Default::default()
        };
        let c = pd.curves(&spec, &dataset(&rows), feature).unwrap();
        let grid = floats(&case["grid"]);
        assert_eq!(c.grid.len(), grid.len(), "{name}: grid size");
        for (a, b) in c.grid.iter().zip(&grid) {
            assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "{name}: grid {a} vs {b}");
        }
        // scikit-learn reports the positive class alone for a binary model.
        let outputs: Vec<usize> = if binary { vec![1] } else { (0..k).collect() };
        let avg: Vec<Vec<f64>> = serde_json::from_value(case["average"].clone()).unwrap();
        let ind: Vec<Vec<Vec<f64>>> = serde_json::from_value(case["individual"].clone()).unwrap();
        for (oi, &o) in outputs.iter().enumerate() {
            for g in 0..grid.len() {
                assert!((c.average[g][o] - avg[oi][g]).abs() < 1e-12, "{name}: average at {g}");
                for i in 0..rows.nrows() {
                    assert!(
                        (c.individual[i][g][o] - ind[oi][i][g]).abs() < 1e-12,
                        "{name}: ICE row {i} at {g}"
                    );
                }
            }
        }
    }
}

#[test]
fn threshold_optimizer_equals_fairlearn() {
    use ml_interpret::{ParityConstraint, ThresholdOptimizer};
    let fx = &fixtures()["fairness"];
    let scores = floats(&fx["scores"]);
    let y: Vec<usize> = serde_json::from_value(fx["y_true"].clone()).unwrap();
    let sex: Vec<String> = serde_json::from_value(fx["sensitive"]["sex"].clone()).unwrap();
    for (name, want) in fx["thresholds"].as_object().unwrap() {
        let t = ThresholdOptimizer::new(ParityConstraint::parse(name).unwrap())
            .fit(&scores, &y, &sex)
            .unwrap();
        let close = |a: f64, b: &Value, what: &str| {
            let b = b.as_f64().unwrap();
            assert!(
                (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                "{name} {what}: {a} vs fairlearn {b}"
            );
        };
        close(t.x_best, &want["x_best"], "x_best");
        close(t.y_best, &want["y_best"], "y_best");
        for (group, rule) in want["rules"].as_object().unwrap() {
            let r = &t.rules[group];
            close(r.p0, &rule["p0"], "p0");
            close(r.p1, &rule["p1"], "p1");
            close(r.p_ignore, &rule["p_ignore"], "p_ignore");
            close(r.constant, &rule["constant"], "constant");
            close(r.op0.threshold, &rule["op0"][1], "threshold 0");
            close(r.op1.threshold, &rule["op1"][1], "threshold 1");
            assert!(r.op0.greater && rule["op0"][0] == ">" && r.op1.greater && rule["op1"][0] == ">");
        }
        let pmf = floats(&want["positive_probability"]);
        for (i, p) in pmf.iter().enumerate() {
            let ours = t.positive_probability(scores[i], &sex[i]).unwrap();
            assert!((ours - p).abs() < 1e-12, "{name} row {i}: {ours} vs {p}");
        }
    }
}
