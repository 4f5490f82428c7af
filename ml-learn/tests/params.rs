//! Property tests of hyper-parameter parsing and validation: any key and
//! value is either taken or refused with a typed error naming the key,
//! never a panic; counts outside their documented ranges are refused before
//! any fitting.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::Error as CoreError;
use ml_learn::{Algorithm, Error, Pipeline};
use proptest::prelude::*;

fn named(e: &Error) -> Option<&str> {
    match e {
        Error::Core(CoreError::InvalidParameter { name, .. }) => Some(name),
        _ => None,
    }
}

/// Keys every algorithm knows, keys none does, and noise.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "n_trees",
            "max_depth",
            "min_samples_leaf",
            "min_samples_split",
            "max_features",
            "bootstrap",
            "c",
            "max_iter",
            "tol",
            "alpha",
            "n_clusters",
            "k",
            "n_init",
            "scale",
            "unknown",
            "epsilon",
            "delta",
            "lambda",
            "bounds",
            "bounds.x",
        ])
        .prop_map(str::to_string),
        "[a-z_.]{0,12}",
    ]
}

/// Numbers of every size and sign, special values, and text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        prop::sample::select(vec![
            "0", "-1", "inf", "NaN", "1e308", "none", "sqrt", "true", "0:1", "5:1", ""
        ])
        .prop_map(str::to_string),
        ".{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_parameter_is_taken_or_refused_by_name(
        model in prop::sample::select(Algorithm::NAMES.to_vec()),
        pairs in prop::collection::vec((key(), value()), 0..4),
    ) {
        let params: Vec<(String, String)> = pairs.clone();
        match Pipeline::from_params(model, &params, Some(1)) {
            Ok(p) => {
                // What was taken validates or is refused by name, never panics.
                if let Err(e) = p.validate() {
                    prop_assert!(named(&e).is_some(), "{model} {pairs:?}: {e}");
                }
            }
            Err(e) => {
                let name = named(&e);
                prop_assert!(name.is_some(), "{model} {pairs:?}: {e}");
                prop_assert!(
                    pairs.iter().any(|(k, _)| Some(k.as_str()) == name),
                    "{model} {pairs:?}: the error names '{name:?}', not a key given"
                );
            }
        }
    }

    #[test]
    fn counts_outside_their_ranges_are_refused_before_fitting(trees in 0usize..1_000_000_000_000usize) {
        let params = [("n_trees".to_string(), trees.to_string())];
        let in_range = (1..=ml_learn::RandomForest::MAX_TREES).contains(&trees);
        match Pipeline::from_params("forest", &params, Some(1)) {
            Ok(_) => prop_assert!(in_range, "{trees} taken"),
            Err(e) => {
                prop_assert!(!in_range, "{trees}: {e}");
                prop_assert_eq!(named(&e), Some("n_trees"));
            }
        }
    }
}
