//! Models exported by skl2onnx with its defaults (`scripts/gen_onnx_models.py`,
//! versions in `testdata/onnx/expected.json`): tract runs them as they are
//! and gives onnxruntime's outputs; the linear and tree ones import to a
//! `ModelSpec` that predicts the same. `MLSDK_ONNX_FIXTURES` points the
//! tests at a freshly generated set instead of the committed one.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::ndarray::Array2;
use ml_core::{Model, Predictions};
use ml_onnx::{OnnxModel, Runtime};
use serde_json::Value;

/// The committed fixtures, or a fresh set in `MLSDK_ONNX_FIXTURES`
/// (scripts/test.sh regenerates them with the pinned tools).
pub fn dir() -> std::path::PathBuf {
    std::env::var_os("MLSDK_ONNX_FIXTURES").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/onnx"),
        std::path::PathBuf::from,
    )
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap()).unwrap()
}

fn rows(case: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(case["rows"].clone()).unwrap();
    let w = rows[0].len();
    Array2::from_shape_vec((rows.len(), w), rows.into_iter().flatten().collect()).unwrap()
}

/// Compare predictions with onnxruntime's; `tol` on probabilities/values
/// (relative for values).
pub fn check(name: &str, case: &Value, got: &Predictions, tol: f64) {
    match got {
        Predictions::Classification {
            labels,
            probabilities,
            classes,
        } => {
            let want_classes: Vec<String> = serde_json::from_value(case["classes"].clone()).unwrap();
            assert_eq!(classes, &want_classes, "{name}: classes");
            let want_p: Vec<Vec<f64>> = serde_json::from_value(case["probabilities"].clone()).unwrap();
            let p = probabilities
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: no probabilities"));
            for (i, (row, want)) in p.outer_iter().zip(&want_p).enumerate() {
                for (a, b) in row.iter().zip(want) {
                    assert!((a - b).abs() <= tol, "{name} row {i}: {row} vs {want:?}");
                }
            }
            let want_l: Vec<String> = serde_json::from_value(case["labels"].clone()).unwrap();
            for (i, (l, w)) in labels.iter().zip(&want_l).enumerate() {
                // A label may only differ where the top two probabilities tie to rounding.
                if &classes[*l] != w {
                    let r = p.row(i);
                    let mut s: Vec<f64> = r.to_vec();
                    s.sort_by(|a, b| b.total_cmp(a));
                    assert!(s[0] - s[1] < 1e-5, "{name} row {i}: label {} vs {w}", classes[*l]);
                }
            }
        }
        Predictions::Regression { values } => {
            let want: Vec<f64> = serde_json::from_value(case["values"].clone()).unwrap();
            assert_eq!(values.len(), want.len());
            for (i, (a, b)) in values.iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= tol * b.abs().max(1.0), "{name} row {i}: {a} vs {b}");
            }
        }
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn tract_runs_skl2onnx_models_as_onnxruntime_does() {
    let exp = expected();
    let models = exp["models"].as_object().unwrap();
    assert!(models.len() >= 12);
    for (name, case) in models {
        let model = OnnxModel::load_with(dir().join(format!("{name}.onnx")), Runtime::Tract)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!model.has_feature_names());
        assert_eq!(
            model.signature().n_inputs(),
            case["n_features"].as_u64().unwrap() as usize
        );
        let x = rows(case);
        let got = model.predict(x.view()).unwrap_or_else(|e| panic!("{name}: {e}"));
        check(name, case, &got, 1e-5);
    }
}

#[test]
fn linear_tree_and_network_graphs_import_to_equal_specs() {
    let exp = expected();
    let mut imported = Vec::new();
    for (name, case) in exp["models"].as_object().unwrap() {
        let model = OnnxModel::load(dir().join(format!("{name}.onnx"))).unwrap();
        match model.describe() {
            Ok(spec) => {
                let got = spec.predict(rows(case).view()).unwrap();
                check(&format!("{name} (imported spec)"), case, &got, 1e-5);
                imported.push(name.clone());
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    // The MLP (Scaler, then MatMul/Add/Relu layers and a Softmax) imports
    // as a neural network spec.
    assert!(imported.contains(&"mlp".to_string()), "{imported:?}");
    assert_eq!(imported.len(), 12, "{imported:?}");
}

/// scikit-learn's scaler + logistic regression exports as `Scaler` →
/// `LinearClassifier`; loading folds the scaler into the coefficients, and
/// the folded graph still gives onnxruntime's outputs on the unfolded one.
#[test]
fn a_scaler_before_a_linear_model_folds_into_it() {
    use ml_onnx::graph::OnnxGraph;
    let exp = expected();
    let path = dir().join("logreg_binary.onnx");
    let bytes = std::fs::read(&path).unwrap();
    let original = OnnxGraph::parse(&bytes).unwrap();
    let ops = |g: &OnnxGraph| g.graph.nodes.iter().map(|n| n.op_type.clone()).collect::<Vec<_>>();
    assert!(ops(&original).contains(&"Scaler".to_string()), "{:?}", ops(&original));
    let mut folded = original.clone();
    ml_onnx::rewrite::fold_scalers(&mut folded).unwrap();
    assert!(!ops(&folded).contains(&"Scaler".to_string()), "{:?}", ops(&folded));
    assert_eq!(folded.graph.nodes.len(), original.graph.nodes.len() - 1);
    let input = &original.graph.inputs[0].name;
    let linear = folded
        .graph
        .nodes
        .iter()
        .find(|n| n.op_type == "LinearClassifier")
        .unwrap();
    assert_eq!(&linear.inputs[0], input);
    let case = &exp["models"]["logreg_binary"];
    let got = OnnxModel::from_bytes(&folded.to_bytes(), Runtime::Tract)
        .unwrap()
        .predict(rows(case).view())
        .unwrap();
    check("logreg_binary folded", case, &got, 1e-5);

    // A scaler whose output is also read elsewhere (here: a graph output)
    // stays, and so do the coefficients.
    let mut exposed = original.clone();
    let scaled = exposed
        .graph
        .nodes
        .iter()
        .find(|n| n.op_type == "Scaler")
        .unwrap()
        .outputs[0]
        .clone();
    let mut out = exposed.graph.outputs[0].clone();
    out.name = scaled;
    exposed.graph.outputs.push(out);
    let before = ops(&exposed);
    ml_onnx::rewrite::fold_scalers(&mut exposed).unwrap();
    assert_eq!(ops(&exposed), before);
}
