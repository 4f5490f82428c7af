//! Helpers shared by the test files (each uses some of them).
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![allow(dead_code)]

use serde_json::Value;

/// The reference values of `scripts/gen_interpret.py`: the committed
/// `testdata/interpret/reference.json`, or the copy in
/// `$MLSDK_INTERPRET_FIXTURES` (test.sh points it at a fresh one).
pub fn fixtures() -> Value {
    let dir = std::env::var_os("MLSDK_INTERPRET_FIXTURES").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/interpret"),
        std::path::PathBuf::from,
    );
    let text = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `key=value` parameters as `Pipeline::from_params` takes them.
pub fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// German credit, its class labels and its sensitive column (sex).
pub fn german_credit() -> (ml_core::Dataset, Vec<usize>, Vec<String>) {
    let data = ml_datasets::load("german_credit").unwrap();
    let Some(ml_core::Target::Classes { labels, .. }) = data.target() else {
        panic!("german_credit has class labels")
    };
    let y = labels.to_vec();
    let groups = data.sensitive()[0].values.clone();
    (data, y, groups)
}
