//! Times `OnnxModel::predict` on an ONNX file, for `benches/compare_onnx.py`,
//! which times Python onnxruntime on the same file and rows.
//!
//! `compare_onnx MODEL ROWS_CSV RUNTIME BATCH ROUNDS CALLS`: each round
//! predicts `CALLS` times on the first `BATCH` rows; prints
//! `{"seconds_per_call"}` as the median over rounds of round time / calls.
//! `RUNTIME` is `tract` or `ort` (through `OnnxModel`), or `ort-raw`: the ort
//! crate's `Session::run` on a borrowed `f32` tensor with no ml-sdk code at
//! all (no checks, no conversions, outputs left in ONNX Runtime's buffers),
//! which is the least time a call through ONNX Runtime can take.

use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use ml_sdk::core::Model;
use ml_sdk::core::ndarray::Array2;
use ml_sdk::onnx::{OnnxModel, Runtime};
use serde_json::json;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, rows, runtime, batch, rounds, calls] = args.as_slice() else {
        bail!("usage: compare_onnx MODEL ROWS_CSV tract|ort|ort-raw BATCH ROUNDS CALLS");
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

/// One call of ONNX Runtime through the ort crate alone, on `f32` rows
/// converted once beforehand, with ONNX Runtime's default session options.
fn raw_ort(model: &str, x: &Array2<f64>) -> Result<Box<dyn FnMut() -> Result<()>>> {
    let lib = std::env::var("ORT_DYLIB_PATH").context("ORT_DYLIB_PATH")?;
    let env = ort::init_from(&lib)
        .map_err(|e| anyhow!("{e}"))?
        .build()
        .map_err(|e| anyhow!("{e}"))?;
    let mut session = ort::session::Session::builder(&env)
        .map_err(|e| anyhow!("{e}"))?
        .commit_from_file(model)
        .map_err(|e| anyhow!("{e}"))?;
    let input = session.inputs()[0].name().to_string();
    let shape = [x.nrows() as i64, x.ncols() as i64];
    let rows: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    Ok(Box::new(move || {
        let value = ort::value::TensorRef::from_array_view((shape, &rows[..])).map_err(|e| anyhow!("{e}"))?;
        let outputs = session
            .run(ort::inputs![input.as_str() => value])
            .map_err(|e| anyhow!("{e}"))?;
        std::hint::black_box(outputs);
        Ok(())
    }))
}
