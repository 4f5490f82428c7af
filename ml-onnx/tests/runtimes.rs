//! `OnnxModel` on our own exports and on hostile bytes; ONNX Runtime (feature
//! `ort`) against tract and against Python onnxruntime's outputs.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use ml_core::ndarray::Array2;
use ml_core::{Dataset, Model, Predictions};
use ml_learn::Pipeline;
use ml_onnx::{OnnxModel, Runtime};

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Every kind of model we train, fitted on bundled data.
fn trained() -> Vec<(&'static str, Box<dyn Model>, Dataset)> {
    let bc = ml_datasets::breast_cancer().unwrap();
    let iris = ml_datasets::iris().unwrap();
    let diabetes = ml_datasets::diabetes().unwrap();
    let german = ml_datasets::german_credit().unwrap();
    // A classifier that saw a single class.
    let one = ml_core::Frame::from_csv_reader("x,y\n1,a\n2,a\n3,a\n4,a\n5,a\n6,a\n7,a\n8,a\n".as_bytes())
        .unwrap()
        .to_dataset(&ml_core::LoadOptions::with_target("y"))
        .unwrap();
    let cases = [
        ("logistic", "logistic", params(&[]), &bc),
        ("softmax_minmax", "logistic", params(&[("scale", "minmax")]), &iris),
        ("logistic_onehot", "logistic", params(&[]), &german),
        ("linear", "linear", params(&[]), &diabetes),
        ("tree", "tree", params(&[]), &iris),
        ("tree_regression", "tree", params(&[("max_depth", "6")]), &diabetes),
        ("forest_binary_onehot", "forest", params(&[("n_trees", "20")]), &german),
        (
            "forest_regression",
            "forest",
            params(&[("n_trees", "10"), ("scale", "standard")]),
            &diabetes,
        ),
        ("kmeans", "kmeans", params(&[("k", "3")]), &iris),
        ("tree_one_class", "tree", params(&[]), &one),
        ("forest_one_class", "forest", params(&[("n_trees", "3")]), &one),
    ];
    cases
        .into_iter()
        .map(|(name, algorithm, ps, data)| {
            let model = Pipeline::from_params(algorithm, &ps, Some(3))
                .unwrap()
                .fit_pipeline(data)
                .unwrap();
            (name, Box::new(model) as Box<dyn Model>, data.clone())
        })
        .collect()
}

fn assert_close(name: &str, a: &Predictions, b: &Predictions, tol: f64) {
    match (a, b) {
        (
            Predictions::Classification {
                labels: la,
                probabilities: pa,
                classes: ca,
            },
            Predictions::Classification {
                labels: lb,
                probabilities: pb,
                classes: cb,
            },
        ) => {
            assert_eq!(ca, cb, "{name}");
            let (pa, pb) = (pa.as_ref().unwrap(), pb.as_ref().unwrap());
            assert_eq!(pa.dim(), pb.dim(), "{name}");
            for (i, (x, y)) in pa.iter().zip(pb).enumerate() {
                assert!((x - y).abs() <= tol, "{name} element {i}: {x} vs {y}");
            }
            // Labels may differ only where the two most probable classes tie
            // to rounding (a forest's 10 votes of 20).
            for (i, (x, y)) in la.iter().zip(lb).enumerate() {
                if x != y {
                    let (p, q) = (pa[[i, *x]], pa[[i, *y]]);
                    assert!((p - q).abs() <= tol, "{name} row {i}: label {x} ({p}) vs {y} ({q})");
                }
            }
        }
        (Predictions::Regression { values: va }, Predictions::Regression { values: vb }) => {
            for (i, (x, y)) in va.iter().zip(vb).enumerate() {
                assert!((x - y).abs() <= tol * y.abs().max(1.0), "{name} row {i}: {x} vs {y}");
            }
        }
        (Predictions::Clustering { clusters: ca }, Predictions::Clustering { clusters: cb }) => {
            assert_eq!(ca, cb, "{name}");
        }
        _ => panic!("{name}: different prediction kinds"),
    }
}

#[test]
fn our_exports_run_on_tract_and_import_back_exactly() {
    for (name, model, data) in trained() {
        let spec = model.describe().unwrap();
        let bytes = ml_onnx::export(&spec).unwrap();
        let onnx = OnnxModel::from_bytes(&bytes, Runtime::Tract).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(onnx.has_feature_names(), "{name}");
        assert_eq!(onnx.signature(), &spec.signature, "{name}");
        let x = data.features();
        assert_close(name, &onnx.predict(x).unwrap(), &model.predict(x).unwrap(), 1e-5);
        assert_eq!(onnx.describe().unwrap(), spec, "{name}: imported spec");
    }
}

/// Calibrators at their edges, exported and run on tract: scores below the
/// first knot, on every knot, between knots and above the last, a
/// one-knot isotonic calibrator, and rows whose calibrated scores all
/// vanish (uniform). The identity as base, so the scores are the inputs.
#[test]
fn calibrators_export_exactly_at_their_edges() {
    use ml_core::{CalibrationInput, Calibrator, Estimator, InputColumn, Link, ModelSpec, Signature, Task};
    let classes = |k: usize| Task::Classification {
        classes: (0..k).map(|c| format!("c{c}")).collect(),
    };
    let identity = |k: usize| {
        let mut w = Array2::zeros((k, k));
        w.diag_mut().fill(1.0);
        Estimator::Linear {
            coefficients: w,
            intercepts: ml_core::ndarray::Array1::zeros(k),
            link: Link::Softmax,
        }
    };
    let isotonic = |x: &[f64], y: &[f64]| Calibrator::Isotonic {
        x: x.to_vec(),
        y: y.to_vec(),
    };
    let spec = |k: usize, base: Estimator, calibrators: Vec<Calibrator>| ModelSpec {
        signature: Signature::new(
            (0..k).map(|j| InputColumn::numeric(format!("s{j}"))).collect(),
            classes(k),
        ),
        preprocessing: Vec::new(),
        estimator: Estimator::Calibrated {
            base: Box::new(base),
            input: CalibrationInput::Decision,
            calibrators,
        },
    };
    let knots = isotonic(&[-1.0, 0.0, 2.0, 2.5], &[0.0, 0.25, 0.75, 1.0]);
    // Two classes: one margin, which the calibrator reads.
    let binary = spec(
        2,
        Estimator::Linear {
            coefficients: Array2::from_shape_vec((1, 2), vec![1.0, 0.0]).unwrap(),
            intercepts: ml_core::ndarray::Array1::zeros(1),
            link: Link::Logistic,
        },
        vec![knots.clone()],
    );
    let scores = [-7.0, -1.0, -0.5, 0.0, 1e-9, 1.3, 2.0, 2.25, 2.5, 9.0];
    let x = Array2::from_shape_fn((scores.len(), 2), |(i, j)| if j == 0 { scores[i] } else { 0.0 });
    // Three classes: knots, a one-knot isotonic calibrator and a sigmoid;
    // rows of zeros everywhere are uniform.
    let three = spec(
        3,
        identity(3),
        vec![knots, isotonic(&[0.5], &[0.0]), Calibrator::Sigmoid { a: -2.0, b: 0.5 }],
    );
    let rows = [
        [-7.0, 0.5, 0.0],
        [-1.0, 3.0, -40.0],
        [0.0, -3.0, 1.0],
        [2.25, 0.0, 2.0],
        [9.0, 0.5, -1.0],
        [-1.0, 0.0, -800.0],
    ];
    let y = Array2::from_shape_fn((rows.len(), 3), |(i, j)| rows[i][j]);
    for (name, spec, x) in [("two classes", binary, x), ("three classes", three, y)] {
        spec.validate().unwrap();
        let bytes = ml_onnx::export(&spec).unwrap();
        let onnx = OnnxModel::from_bytes(&bytes, Runtime::Tract).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The same ops in double: equal but for tract's division (by a
        // reciprocal, a last bit).
        let (got, want) = (onnx.predict(x.view()).unwrap(), spec.predict(x.view()).unwrap());
        assert_close(name, &got, &want, 1e-15);
    }
}

#[test]
fn an_embedded_spec_that_disagrees_with_the_graph_is_refused() {
    let bc = ml_datasets::breast_cancer().unwrap();
    let model = Pipeline::from_params("logistic", &[], Some(1))
        .unwrap()
        .fit_pipeline(&bc)
        .unwrap();
    let mut forged = ml_onnx::export(&model.describe().unwrap()).unwrap();
    // Change one digit of the intercept in the embedded spec (same length,
    // so the protobuf stays well-formed): the metadata now claims another model.
    let at = find(&forged, b"\"intercepts\"").unwrap();
    let at = at + find(&forged[at..], b"\"data\":[").unwrap();
    let digit = at + forged[at..].iter().position(u8::is_ascii_digit).unwrap();
    forged[digit] = if forged[digit] == b'1' { b'2' } else { b'1' };
    let onnx = OnnxModel::from_bytes(&forged, Runtime::Tract).unwrap();
    let err = onnx.describe().unwrap_err().to_string();
    assert!(err.contains("does not describe this graph"), "{err}");
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn hostile_bytes_and_bad_input_are_typed_errors() {
    let iris = ml_datasets::iris().unwrap();
    let model = Pipeline::from_params("forest", &params(&[("n_trees", "3")]), Some(1))
        .unwrap()
        .fit_pipeline(&iris)
        .unwrap();
    let bytes = ml_onnx::export(&model.describe().unwrap()).unwrap();
    assert!(OnnxModel::from_bytes(&[], Runtime::Tract).is_err());
    assert!(OnnxModel::from_bytes(b"not an onnx model at all", Runtime::Tract).is_err());
    // Every truncation: an error, never a panic (or, rarely, a shorter valid model).
    for cut in (0..bytes.len()).step_by(7) {
        let _ = OnnxModel::from_bytes(&bytes[..cut], Runtime::Tract);
    }
    // Flipped bytes throughout.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = (state % b.len() as u64) as usize;
            b[i] ^= (state >> 32) as u8 | 1;
        }
        if let Ok(m) = OnnxModel::from_bytes(&b, Runtime::Tract) {
            let _ = m.predict(iris.features());
        }
    }
    let onnx = OnnxModel::from_bytes(&bytes, Runtime::Tract).unwrap();
    let narrow = Array2::<f64>::zeros((2, 3));
    assert!(
        onnx.predict(narrow.view())
            .unwrap_err()
            .to_string()
            .contains("4 input columns")
    );
    let mut nan = Array2::<f64>::zeros((2, 4));
    nan[[1, 2]] = f64::NAN;
    assert!(onnx.predict(nan.view()).is_err());
    assert!(onnx.predict(Array2::<f64>::zeros((0, 4)).view()).is_err());
    let missing = OnnxModel::load("/nonexistent/model.onnx").unwrap_err().to_string();
    assert!(missing.contains("/nonexistent/model.onnx"), "{missing}");
}

/// Inputs the fuzz target (`ml-onnx/fuzz`) found: each once took the
/// process down inside tract; now each is an error.
#[test]
fn fuzz_findings_are_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/onnx/fuzz");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let err = OnnxModel::from_bytes(&bytes, Runtime::Tract).unwrap_err().to_string();
        assert!(err.contains("TreeEnsembleClassifier"), "{err}");
        n += 1;
    }
    assert!(n >= 1);
}

#[test]
fn unsupported_operators_and_inputs_are_named() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/onnx");
    let linreg = std::fs::read(fixtures.join("linreg.onnx")).unwrap();
    // An operator no runtime knows (same length, so the protobuf stays valid).
    // NodeProto.op_type: field 4, length 15.
    let at = find(&linreg, b"\x22\x0fLinearRegressor").unwrap() + 2;
    let mut unknown = linreg.clone();
    unknown[at..at + 15].copy_from_slice(b"LinearRegressoX");
    let err = OnnxModel::from_bytes(&unknown, Runtime::Tract).unwrap_err().to_string();
    assert!(err.contains("LinearRegressoX"), "{err}");
    // An integer input: the element type is named.
    // The input's ValueInfoProto: name "X", then type { tensor_type { elem_type: 1 (float) } }.
    let at = find(&linreg, b"\x0a\x01X\x12").unwrap();
    let elem = at + 4 + linreg[at + 4..].windows(2).position(|w| w == [0x08, 0x01]).unwrap();
    let mut ints = linreg.clone();
    ints[elem + 1] = 7; // int64
    let err = OnnxModel::from_bytes(&ints, Runtime::Tract).unwrap_err().to_string();
    assert!(err.contains("int64"), "{err}");
    // Native categorical splits export as ai.onnx.ml's opset-5
    // TreeEnsemble, which tract does not run: the error says where it runs.
    let err = OnnxModel::from_bytes(&native_categorical_export().1, Runtime::Tract)
        .unwrap_err()
        .to_string();
    assert!(err.contains("TreeEnsemble") && err.contains("ONNX Runtime"), "{err}");
}

/// Gradient boosting on German credit with native categorical splits, and
/// its ONNX export.
fn native_categorical_export() -> (Box<dyn Model>, Vec<u8>, Dataset) {
    let german = ml_datasets::german_credit().unwrap();
    let model = Pipeline::from_params("hgb", &params(&[("max_iter", "30")]), Some(3))
        .unwrap()
        .fit_pipeline(&german)
        .unwrap();
    let bytes = ml_onnx::export(&model.describe().unwrap()).unwrap();
    (Box::new(model), bytes, german)
}

#[test]
#[cfg(not(feature = "ort"))]
fn ort_without_its_feature_is_an_error() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/onnx/linreg.onnx")).unwrap();
    let err = OnnxModel::from_bytes(&bytes, Runtime::Ort { library: None }).unwrap_err();
    assert!(err.to_string().contains("`ort` feature"), "{err}");
}

/// ONNX Runtime from `ORT_DYLIB_PATH` (scripts/test.sh points it at the
/// onnxruntime wheel in .venv): bad libraries are errors; skl2onnx's models
/// give Python onnxruntime's outputs; our exports give tract's.
#[test]
#[cfg(feature = "ort")]
#[ignore = "needs ORT_DYLIB_PATH (scripts/test.sh)"]
fn ort_matches_tract_and_python_onnxruntime() {
    let lib = std::path::PathBuf::from(std::env::var("ORT_DYLIB_PATH").expect("ORT_DYLIB_PATH"));
    let linreg = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/onnx/linreg.onnx")).unwrap();
    let missing = OnnxModel::from_bytes(
        &linreg,
        Runtime::Ort {
            library: Some("/nonexistent/libonnxruntime.so".into()),
        },
    )
    .unwrap_err()
    .to_string();
    assert!(missing.contains("does not exist"), "{missing}");
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a library").unwrap();
    let bogus = OnnxModel::from_bytes(&linreg, Runtime::Ort { library: Some(fake) })
        .unwrap_err()
        .to_string();
    assert!(bogus.contains("loading"), "{bogus}");

    let ort = || Runtime::Ort {
        library: Some(lib.clone()),
    };
    let fixtures = std::env::var_os("MLSDK_ONNX_FIXTURES").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/onnx"),
        std::path::PathBuf::from,
    );
    let exp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("expected.json")).unwrap()).unwrap();
    for (name, case) in exp["models"].as_object().unwrap() {
        let model = OnnxModel::load_with(fixtures.join(format!("{name}.onnx")), ort()).unwrap();
        let rows: Vec<Vec<f64>> = serde_json::from_value(case["rows"].clone()).unwrap();
        let x = Array2::from_shape_vec((rows.len(), rows[0].len()), rows.concat()).unwrap();
        let got = model.predict(x.view()).unwrap();
        let tract = OnnxModel::load(fixtures.join(format!("{name}.onnx"))).unwrap();
        assert_close(name, &got, &tract.predict(x.view()).unwrap(), 1e-5);
        if let Predictions::Classification { probabilities, .. } = &got {
            let want: Vec<Vec<f64>> = serde_json::from_value(case["probabilities"].clone()).unwrap();
            for (r, w) in probabilities.as_ref().unwrap().outer_iter().zip(&want) {
                // The same library as Python's; tree sums may group
                // differently with another thread count (we run one).
                for (a, b) in r.iter().zip(w) {
                    assert!((a - b).abs() <= 1e-6, "{name}: {r} vs {w:?}");
                }
            }
        }
    }
    for (name, model, data) in trained() {
        let bytes = ml_onnx::export(&model.describe().unwrap()).unwrap();
        let on_ort = OnnxModel::from_bytes(&bytes, ort()).unwrap();
        let on_tract = OnnxModel::from_bytes(&bytes, Runtime::Tract).unwrap();
        let x = data.features();
        let batch = on_ort.predict(x).unwrap();
        assert_close(name, &batch, &on_tract.predict(x).unwrap(), 1e-5);
        assert_close(name, &batch, &model.predict(x).unwrap(), 1e-5);
        // The ort runner keeps its input tensor while the batch shape stays
        // the same and replaces it when the shape changes: one row at a time,
        // then two, then one again, each call must see its own rows.
        for (start, len) in [(0, 1), (1, 1), (2, 1), (3, 2), (5, 1), (0, x.nrows())] {
            let part = x.slice(ml_core::ndarray::s![start..start + len, ..]);
            let want = model.predict(part).unwrap();
            assert_close(
                &format!("{name} rows {start}..+{len}"),
                &on_ort.predict(part).unwrap(),
                &want,
                1e-5,
            );
        }
    }
    // Native categorical splits run on ONNX Runtime as the model predicts.
    let (model, bytes, german) = native_categorical_export();
    let on_ort = OnnxModel::from_bytes(&bytes, ort()).unwrap();
    assert_close(
        "hgb native categories",
        &on_ort.predict(german.features()).unwrap(),
        &model.predict(german.features()).unwrap(),
        1e-5,
    );
}
