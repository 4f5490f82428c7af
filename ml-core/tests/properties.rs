//! Invariants that must hold for any input.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::ndarray::{Array1, Array2};
use ml_core::{Dataset, Estimator, Frame, InputColumn, KFold, Link, Model, ModelSpec, Signature, Task, metrics};
use proptest::prelude::*;

fn labelled(n: usize, classes: usize) -> Dataset {
    Dataset::new(Array2::from_shape_fn((n, 1), |(i, _)| i as f64), vec!["x".into()])
        .unwrap()
        .with_classes(
            (0..n).map(|i| (i * 7 + i / 3) % classes).collect(),
            (0..classes).map(|c| c.to_string()).collect(),
        )
        .unwrap()
}

proptest! {
    #[test]
    fn kfold_test_sets_partition_the_rows(n in 4usize..200, k in 2usize..6, stratified in any::<bool>(), seed in proptest::option::of(any::<u64>())) {
        let data = labelled(n, 2);
        let mut kf = KFold::new(k).stratified(stratified);
        if let Some(s) = seed { kf = kf.shuffle(s); }
        match kf.split(&data) {
            Ok(folds) => {
                let mut seen = vec![0; n];
                for f in &folds {
                    prop_assert_eq!(f.train.len() + f.test.len(), n);
                    for &t in &f.test { seen[t] += 1; }
                }
                prop_assert!(seen.iter().all(|&c| c == 1));
            }
            Err(_) => {
                // Only refused with more folds than rows (as scikit-learn's
                // KFold), or when stratifying and a class has fewer rows than folds.
                let ones = data.classes().unwrap().0.iter().filter(|&&l| l == 1).count();
                prop_assert!(k > n || (stratified && ones.min(n - ones) < k), "n={n} k={k}");
            }
        }
    }

    #[test]
    fn linear_spec_survives_json_and_gives_probabilities(
        w in proptest::collection::vec(-5.0f64..5.0, 3),
        b in -3.0f64..3.0,
        rows in proptest::collection::vec(-10.0f64..10.0, 3..30),
    ) {
        let spec = ModelSpec {
            signature: Signature {
                inputs: (0..3).map(|i| InputColumn::numeric(format!("f{i}"))).collect(),
                unknown_category: Default::default(),
                task: Task::Classification { classes: vec!["a".into(), "b".into(), "c".into()] },
                accepts_missing: false,
            },
            preprocessing: vec![],
            estimator: Estimator::Linear {
                coefficients: Array2::from_shape_fn((3, 3), |(i, j)| w[(i + j) % 3] * (i as f64 - 1.0)),
                intercepts: Array1::from(vec![b, 0.0, -b]),
                link: Link::Softmax,
            },
        };
        spec.validate().unwrap();
        let n = rows.len() / 3;
        let x = Array2::from_shape_vec((n, 3), rows[..n * 3].to_vec()).unwrap();
        let back: ModelSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        let (p1, p2) = (spec.predict(x.view()).unwrap(), back.predict(x.view()).unwrap());
        prop_assert_eq!(&p1, &p2);
        if let ml_core::Predictions::Classification { probabilities: Some(p), .. } = p1 {
            for row in p.outer_iter() {
                prop_assert!((row.sum() - 1.0).abs() < 1e-12);
                prop_assert!(row.iter().all(|&v| (0.0..=1.0).contains(&v)));
            }
        }
    }

    #[test]
    fn auc_is_invariant_under_monotone_transforms(scores in proptest::collection::vec(-1.0f64..1.0, 4..60)) {
        let y: Vec<bool> = (0..scores.len()).map(|i| i % 3 == 0).collect();
        let s = Array1::from(scores);
        let a = metrics::roc_auc(&y, s.view()).unwrap();
        let b = metrics::roc_auc(&y, s.mapv(|v| 3.0 * v.exp() + 1.0).view()).unwrap();
        prop_assert!((a - b).abs() < 1e-12);
        prop_assert!((0.0..=1.0).contains(&a));
    }

    #[test]
    fn csv_reader_never_panics(text in "[a-z0-9,.\\n\" -]{0,200}") {
        let _ = Frame::from_csv_reader(text.as_bytes()).map(|f| {
            let first = f.names()[0].clone();
            let _ = f.to_dataset(&ml_core::LoadOptions::with_target(first));
        });
    }
}
