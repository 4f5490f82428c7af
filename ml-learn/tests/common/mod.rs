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
