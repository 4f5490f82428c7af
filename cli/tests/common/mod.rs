//! Running the `mlsdk` binary from the CLI's tests.

use std::process::{Command, Output};

use serde_json::Value;

/// Run `mlsdk` with these arguments, outside any tracking store the
/// environment names.
pub fn mlsdk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlsdk"))
        .args(args)
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .expect("mlsdk runs")
}

/// Run `mlsdk`, require success, parse its standard output as JSON.
pub fn ok_json(args: &[&str]) -> Value {
    let out = mlsdk(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}
