//! ONNX both ways: export models trained here to standard ONNX files, run
//! them back through tract (pure Rust) and, when `ORT_DYLIB_PATH` names an
//! ONNX Runtime library, through ONNX Runtime, and import the graphs back
//! to `ModelSpec`s; every path must predict what the original model does.
//!
//! ```text
//! cargo run --release -p ml-sdk-examples --features onnx-runtimes --bin onnx_interop [-- OUT_DIR]
//! # with ONNX Runtime too (the onnxruntime wheel's library, for instance):
//! ORT_DYLIB_PATH=.venv/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.32.0 \
//!   cargo run --release -p ml-sdk-examples --features onnx-runtimes --bin onnx_interop
//! ```

use std::time::Instant;

use anyhow::{Result, bail};
use ml_sdk::learn::Pipeline;
use ml_sdk::ndarray::{Array2, ArrayView2, s};
use ml_sdk::onnx::{OnnxModel, Runtime};
use ml_sdk::prelude::*;

fn main() -> Result<()> {
    let out_dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "out/onnx_interop".into()));
    std::fs::create_dir_all(&out_dir)?;
    let cases = [
        ("breast_cancer", "logistic", vec![]),
        ("iris", "forest", vec![("n_trees", "50"), ("max_depth", "6")]),
        ("diabetes", "forest", vec![("n_trees", "30")]),
    ];
    for (dataset, algorithm, params) in cases {
        let data = ml_sdk::datasets::load(dataset)?;
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let model = Pipeline::from_params(algorithm, &params, Some(0))?.fit(&data)?;
        let x = data.features();
        let want = model.predict(x)?;

        // Export: the model's spec as standard ONNX (opset 17, ai.onnx.ml).
        let spec = model.describe()?;
        let bytes = ml_sdk::onnx::export(&spec)?;
        let path = out_dir.join(format!("{dataset}_{algorithm}.onnx"));
        std::fs::write(&path, &bytes)?;
        println!("{dataset} {algorithm}: {} ({} bytes)", path.display(), bytes.len());

        // Run it back on tract, and on ONNX Runtime when one is named.
        let mut runtimes = vec![Runtime::Tract];
        if std::env::var_os("ORT_DYLIB_PATH").is_some() {
            runtimes.push(Runtime::Ort { library: None });
        }
        for runtime in runtimes {
            let onnx = OnnxModel::from_bytes(&bytes, runtime.clone())?;
            let got = onnx.predict(x)?;
            let start = Instant::now();
            let calls = 200;
            for i in 0..calls {
                std::hint::black_box(onnx.predict(x.slice(s![i % x.nrows()..i % x.nrows() + 1, ..]))?);
            }
            println!(
                "  {:<5} largest difference from the model: {:.1e}; one row in {:.1} us",
                runtime.name(),
                largest_difference(&want, &got)?,
                start.elapsed().as_secs_f64() * 1e6 / calls as f64
            );
        }

        // Import: the graph read back as a ModelSpec, which predicts, explains
        // and exports like one trained here.
        let imported = OnnxModel::from_bytes(&bytes, Runtime::Tract)?.describe()?;
        println!(
            "  imported back as a {} spec: largest difference {:.1e}",
            estimator_kind(&imported),
            largest_difference(&want, &imported.predict(x)?)?
        );
    }
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        println!("(set ORT_DYLIB_PATH to an ONNX Runtime library, 1.31 or newer, to run the ort back end too)");
    }
    Ok(())
}

/// The largest absolute difference between two predictions' probabilities
/// or values (labels must agree where probabilities are not given).
fn largest_difference(a: &Predictions, b: &Predictions) -> Result<f64> {
    let values = |p: &Predictions| -> Option<Array2<f64>> {
        match p {
            Predictions::Classification {
                probabilities: Some(p), ..
            } => Some(p.clone()),
            Predictions::Regression { values } => Some(values.clone().insert_axis(ml_sdk::ndarray::Axis(1))),
            _ => None,
        }
    };
    match (values(a), values(b)) {
        (Some(x), Some(y)) if x.dim() == y.dim() => Ok(max_abs(x.view(), y.view())),
        _ => bail!("the predictions are of different kinds"),
    }
}

fn max_abs(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

fn estimator_kind(spec: &ModelSpec) -> &'static str {
    match spec.estimator {
        ml_sdk::core::Estimator::Linear { .. } => "linear",
        ml_sdk::core::Estimator::TreeEnsemble { .. } => "tree-ensemble",
        _ => "other",
    }
}
