//! The `MLmodel` file that makes a logged model visible to MLflow: its
//! flavor, the run, and the signature in MLflow's column-spec JSON.

use ml_core::{FeatureKind, RunId, Signature, Task, Tracker};

use crate::store::now_ms;

/// MLflow's JSON for a signature: inputs as named columns (`double` for
/// numbers, `string` for categories), the output as one unnamed column.
pub fn signature_json(signature: &Signature) -> (String, String) {
    let inputs: Vec<serde_json::Value> = signature
        .inputs
        .iter()
        .map(|c| {
            let ty = match c.kind {
                FeatureKind::Numeric => "double",
                FeatureKind::Categorical { .. } => "string",
            };
            serde_json::json!({"type": ty, "name": c.name, "required": true})
        })
        .collect();
    let output = match signature.task {
        Task::Classification { .. } => "string",
        Task::Regression => "double",
        Task::Clustering { .. } => "long",
        // A task this version does not know: its outputs stay untyped.
        _ => "double",
    };
    (
        serde_json::Value::Array(inputs).to_string(),
        serde_json::json!([{"type": output, "required": true}]).to_string(),
    )
}

fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The text of an `MLmodel` file for a model stored as `data_file` under
/// `artifact_path`, with an `mlsdk` flavor.
pub fn mlmodel_text(
    artifact_path: &str,
    data_file: &str,
    run: &RunId,
    signature: &Signature,
    extra: &[(&str, &str)],
) -> String {
    let mut flavors = format!(
        "  mlsdk:\n    data: {}\n    sdk_version: {}\n",
        quoted(data_file),
        quoted(env!("CARGO_PKG_VERSION"))
    );
    for (k, v) in extra {
        flavors.push_str(&format!("    {k}: {}\n", quoted(v)));
    }
    mlmodel_file(artifact_path, &flavors, run, signature_json(signature))
}

/// An `MLmodel` file: the flavors block (already indented YAML), a fresh
/// model UUID, the run, the signature, the creation time.
fn mlmodel_file(artifact_path: &str, flavors: &str, run: &RunId, (inputs, outputs): (String, String)) -> String {
    let mut bytes = [0u8; 16];
    rand::RngExt::fill(&mut rand::rng(), &mut bytes);
    format!(
        "artifact_path: {}\nflavors:\n{flavors}model_uuid: {}\nrun_id: {}\nsignature:\n  inputs: {}\n  outputs: {}\n  params: null\nutc_time_created: {}\n",
        quoted(artifact_path),
        quoted(&ml_core::io::hex(&bytes)),
        quoted(&run.0),
        quoted(&inputs),
        quoted(&outputs),
        quoted(&utc(now_ms() / 1000)),
    )
}

/// `YYYY-MM-DD HH:MM:SS.000000` in UTC (MLflow's `utc_time_created`).
fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.000000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// MLflow's tensor-spec signature of an ONNX export: one `float64 [-1, inputs]`
/// tensor in; `label` and `probabilities`, `variable`, or `label` and
/// `scores` out (see `ml_onnx::export`).
pub fn onnx_signature_json(signature: &Signature) -> (String, String) {
    let n = signature.n_inputs() as i64;
    let inputs =
        serde_json::json!([{"type": "tensor", "name": "input", "tensor-spec": {"dtype": "float64", "shape": [-1, n]}}]);
    let outputs = match &signature.task {
        Task::Classification { classes } => serde_json::json!([
            {"type": "tensor", "name": "label", "tensor-spec": {"dtype": "int64", "shape": [-1]}},
            {"type": "tensor", "name": "probabilities", "tensor-spec": {"dtype": "float64", "shape": [-1, classes.len()]}},
        ]),
        Task::Regression => {
            serde_json::json!([{"type": "tensor", "name": "variable", "tensor-spec": {"dtype": "float64", "shape": [-1, 1]}}])
        }
        Task::Clustering { n_clusters } => serde_json::json!([
            {"type": "tensor", "name": "label", "tensor-spec": {"dtype": "int64", "shape": [-1]}},
            {"type": "tensor", "name": "scores", "tensor-spec": {"dtype": "float64", "shape": [-1, n_clusters]}},
        ]),
        _ => serde_json::json!([]),
    };
    (inputs.to_string(), outputs.to_string())
}

/// The file name of the graph in an MLflow model of the `onnx` flavor.
pub const ONNX_MODEL_FILE: &str = "model.onnx";

/// Log an ONNX model as an MLflow model with MLflow's `onnx` flavor and a
/// `python_function` flavor (loader `mlflow.onnx`), so `mlflow.pyfunc.load_model`
/// runs it with ONNX Runtime. `onnx_bytes` is the exported model.
///
/// # Errors
/// Tracker failures.
pub fn log_onnx_model(
    tracker: &dyn Tracker,
    run: &RunId,
    artifact_path: &str,
    onnx_bytes: &[u8],
    signature: &Signature,
) -> ml_core::Result<()> {
    tracker.log_artifact(run, &format!("{artifact_path}/{ONNX_MODEL_FILE}"), onnx_bytes)?;
    let flavors = format!(
        "  onnx:\n    code: null\n    data: {ONNX_MODEL_FILE}\n    providers:\n    - CPUExecutionProvider\n  python_function:\n    data: {ONNX_MODEL_FILE}\n    loader_module: mlflow.onnx\n  mlsdk:\n    sdk_version: {}\n",
        quoted(env!("CARGO_PKG_VERSION"))
    );
    let text = mlmodel_file(artifact_path, &flavors, run, onnx_signature_json(signature));
    tracker.log_artifact(run, &format!("{artifact_path}/MLmodel"), text.as_bytes())
}

/// Log a model: its file and an `MLmodel` beside it under `artifact_path`.
///
/// # Errors
/// Tracker failures.
pub fn log_model(
    tracker: &dyn Tracker,
    run: &RunId,
    artifact_path: &str,
    data_file: &str,
    bytes: &[u8],
    signature: &Signature,
    extra: &[(&str, &str)],
) -> ml_core::Result<()> {
    tracker.log_artifact(run, &format!("{artifact_path}/{data_file}"), bytes)?;
    let text = mlmodel_text(artifact_path, data_file, run, signature, extra);
    tracker.log_artifact(run, &format!("{artifact_path}/MLmodel"), text.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00.000000");
        assert_eq!(super::utc(1_795_729_127), "2026-11-26 21:38:47.000000");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00.000000");
    }
}
