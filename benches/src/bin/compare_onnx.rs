//! Times `OnnxModel::predict` on an ONNX file, for `benches/compare_onnx.py`,
//! which times Python onnxruntime on the same file and rows.
//!
//! `compare_onnx MODEL ROWS_CSV RUNTIME BATCH ROUNDS CALLS`: each round
//! predicts `CALLS` times on the first `BATCH` rows; prints
//! `{"seconds_per_call"}` as the median over rounds of round time / calls.
//! `RUNTIME` is `tract` or `ort` (through `OnnxModel`), `spec` (the graph
//! imported to a `ModelSpec`, compiled as `mlsdk serve` serves it
//! (`CompiledSpec`) and evaluated by ml-sdk, no runtime), or `ort-raw`: ONNX
//! Runtime's bare run, through the ort crate, of the graph `OnnxModel` would
//! hand it, with no ml-sdk code in the call (rows bound once, no checks, no
//! conversions, outputs left in ONNX Runtime's buffers): the least time a
//! call through ONNX Runtime can take on that graph.

use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use ml_sdk::core::Model;
use ml_sdk::core::ndarray::Array2;
use ml_sdk::onnx::{OnnxModel, Runtime};
use serde_json::json;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, rows, runtime, batch, rounds, calls] = args.as_slice() else {
        bail!("usage: compare_onnx MODEL ROWS_CSV tract|ort|spec|ort-raw BATCH ROUNDS CALLS");
    };
    let (batch, rounds, calls): (usize, usize, usize) = (batch.parse()?, rounds.parse()?, calls.parse()?);
    let text = std::fs::read_to_string(rows).with_context(|| format!("reading {rows}"))?;
    let data: Vec<Vec<f64>> = text
        .lines()
        .take(batch)
        .map(|l| l.split(',').map(str::parse).collect::<Result<_, _>>())
        .collect::<Result<_, _>>()?;
    let x = Array2::from_shape_vec((data.len(), data[0].len()), data.concat())?;
    let mut call: Box<dyn FnMut() -> Result<()>> = if runtime == "ort-raw" {
        raw_ort(model, &x)?
    } else if runtime == "spec" {
        // The graph imported to a ModelSpec and evaluated by ml-sdk itself,
        // compiled once as the server does.
        let spec = ml_sdk::core::CompiledSpec::new(OnnxModel::load(model)?.describe()?);
        Box::new(move || {
            std::hint::black_box(spec.predict(std::hint::black_box(x.view()))?);
            Ok(())
        })
    } else {
        let model = OnnxModel::load_with(model, Runtime::from_name(runtime)?)?;
        Box::new(move || {
            std::hint::black_box(model.predict(std::hint::black_box(x.view()))?);
            Ok(())
        })
    };
    call()?; // warm-up
    let mut per_call = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..calls {
            call()?;
        }
        per_call.push(start.elapsed().as_secs_f64() / calls as f64);
    }
    per_call.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"runtime": runtime, "rows": batch, "seconds_per_call": per_call[per_call.len() / 2]})
    );
    Ok(())
}

/// One call of ONNX Runtime through the ort crate alone on the graph
/// `OnnxModel` runs, with ONNX Runtime's default session options: `f32` rows written once into a tensor
/// bound as the input, the `f32` outputs (the scores a prediction reads)
/// bound to CPU memory ONNX Runtime allocates once and reuses, nothing read
/// back. (A plain `Session::run`, which
/// resolves names and wraps a borrowed input per call, is slower.)
fn raw_ort(model: &str, x: &Array2<f64>) -> Result<Box<dyn FnMut() -> Result<()>>> {
    fn e(e: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{e}")
    }
    let lib = std::env::var("ORT_DYLIB_PATH").context("ORT_DYLIB_PATH")?;
    let env = ort::init_from(&lib).map_err(e)?.build().map_err(e)?;
    // The graph OnnxModel hands ONNX Runtime: ZipMap stripped, scalers
    // folded into the linear operators that read them.
    let mut graph = ml_sdk::onnx::graph::OnnxGraph::parse(&std::fs::read(model)?)?;
    ml_sdk::onnx::rewrite::strip_zipmap(&mut graph)?;
    ml_sdk::onnx::rewrite::fold_scalers(&mut graph)?;
    let mut session = ort::session::Session::builder(&env)
        .map_err(e)?
        .commit_from_memory(&graph.to_bytes())
        .map_err(e)?;
    let mut input = ort::value::Tensor::<f32>::new(session.allocator(), [x.nrows(), x.ncols()]).map_err(e)?;
    for (d, &v) in input.extract_tensor_mut().1.iter_mut().zip(x.iter()) {
        *d = v as f32;
    }
    let mut binding = session.create_binding().map_err(e)?;
    binding.bind_input(session.inputs()[0].name(), &input).map_err(e)?;
    let cpu = session.allocator().memory_info();
    let scores = |o: &&ort::value::Outlet| matches!(o.dtype(), ort::value::ValueType::Tensor { ty, .. } if *ty == ort::value::TensorElementType::Float32);
    for o in session.outputs().iter().filter(scores) {
        binding.bind_output_to_device(o.name(), cpu).map_err(e)?;
    }
    Ok(Box::new(move || {
        std::hint::black_box(session.run_binding(&binding).map_err(e)?);
        Ok(())
    }))
}
