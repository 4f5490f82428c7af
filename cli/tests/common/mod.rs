//! Running the `mlsdk` binary from the CLI's tests.

use std::process::{Command, Output};

use serde_json::Value;

/// The `mlsdk` binary with these arguments, outside any tracking store or
/// experiment the environment names.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mlsdk"));
    c.args(args)
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_EXPERIMENT_NAME");
    c
}

/// Require success; the output as it was.
pub fn succeeded(args: &[&str], out: Output) -> Output {
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Run `mlsdk` with these arguments, outside any tracking store the
/// environment names.
pub fn mlsdk(args: &[&str]) -> Output {
    command(args).output().expect("mlsdk runs")
}

/// Run `mlsdk`, require success, parse its standard output as JSON.
pub fn ok_json(args: &[&str]) -> Value {
    let out = succeeded(args, mlsdk(args));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}
