//! Helpers shared by the tests that compare with scikit-learn's fixtures.

use serde_json::Value;

/// A fixture file from testdata/ (or `$MLSDK_FIXTURES`, where
/// scripts/test.sh puts freshly regenerated ones).
pub fn fixture(name: &str) -> Value {
    let dir =
        std::env::var("MLSDK_FIXTURES").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata").into());
    let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("fixture present");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A JSON array of row indices.
pub fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("an array of indices")
        .iter()
        .map(|x| x.as_u64().expect("an index") as usize)
        .collect()
}

/// breast_cancer's features with the cells a fixture's `missing_mask` (a
/// 0/1 string per row) marks set to NaN.
#[allow(dead_code)] // Not every test binary blanks cells.
pub fn breast_cancer_with_holes(f: &Value) -> ml_core::ndarray::Array2<f64> {
    let data = ml_datasets::breast_cancer().expect("bundled");
    let mut x = data.features().to_owned();
    for (i, row) in f["missing_mask"].as_array().expect("a mask").iter().enumerate() {
        for (j, c) in row.as_str().expect("a row of 0/1").chars().enumerate() {
            if c == '1' {
                x[[i, j]] = f64::NAN;
            }
        }
    }
    x
}
