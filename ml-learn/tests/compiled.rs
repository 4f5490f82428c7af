//! `CompiledSpec` (flattened tree ensembles, walked several rows at a
//! time and split over the cores for large batches) predicts exactly what
//! the spec it was made from predicts, for every tree model we train.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::ndarray::s;
use ml_core::{CompiledSpec, Model};
use ml_learn::Pipeline;

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn compiled_tree_ensembles_predict_exactly_as_their_specs() {
    let iris = ml_datasets::iris().unwrap();
    let diabetes = ml_datasets::diabetes().unwrap();
    let german = ml_datasets::german_credit().unwrap();
    let digits = ml_datasets::digits().unwrap();
    let cases = [
        ("forest", params(&[("n_trees", "15")]), &iris),
        ("tree", params(&[]), &iris),
        ("forest", params(&[("n_trees", "10"), ("max_depth", "5")]), &diabetes),
        ("tree", params(&[("max_depth", "4")]), &diabetes),
        ("forest", params(&[("n_trees", "12")]), &german),
        ("forest", params(&[("n_trees", "30"), ("max_depth", "8")]), &digits),
    ];
    for (algorithm, ps, data) in cases {
        let spec = Pipeline::from_params(algorithm, &ps, Some(5))
            .unwrap()
            .fit_pipeline(data)
            .unwrap()
            .describe()
            .unwrap();
        let compiled = CompiledSpec::new(spec.clone());
        let x = data.features();
        // One row, a partial block of rows, and the whole set (past the
        // size that splits work over the cores for the larger ones).
        for n in [1, 7, x.nrows()] {
            let rows = x.slice(s![..n, ..]);
            assert_eq!(
                compiled.predict(rows).unwrap(),
                spec.predict(rows).unwrap(),
                "{algorithm} {ps:?} on {n} rows"
            );
        }
        let narrow = x.slice(s![..3, ..x.ncols() - 1]);
        assert_eq!(
            compiled.predict(narrow).unwrap_err().to_string(),
            spec.predict(narrow).unwrap_err().to_string()
        );
    }
}
