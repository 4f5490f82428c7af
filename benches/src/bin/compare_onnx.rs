//! Times `OnnxModel::predict` on an ONNX file, for `benches/compare_onnx.py`,
//! which times Python onnxruntime on the same file and rows.
//!
//! `compare_onnx MODEL ROWS_CSV RUNTIME(tract|ort) BATCH ROUNDS CALLS`: each
//! round predicts `CALLS` times on the first `BATCH` rows; prints
//! `{"seconds_per_call"}` as the median over rounds of round time / calls.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use ml_sdk::core::Model;
use ml_sdk::core::ndarray::Array2;
use ml_sdk::onnx::{OnnxModel, Runtime};
use serde_json::json;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, rows, runtime, batch, rounds, calls] = args.as_slice() else {
        bail!("usage: compare_onnx MODEL ROWS_CSV tract|ort BATCH ROUNDS CALLS");
    };
    let (batch, rounds, calls): (usize, usize, usize) = (batch.parse()?, rounds.parse()?, calls.parse()?);
    let text = std::fs::read_to_string(rows).with_context(|| format!("reading {rows}"))?;
    let data: Vec<Vec<f64>> = text
        .lines()
        .take(batch)
        .map(|l| l.split(',').map(str::parse).collect::<Result<_, _>>())
        .collect::<Result<_, _>>()?;
    let x = Array2::from_shape_vec((data.len(), data[0].len()), data.concat())?;
    let model = OnnxModel::load_with(model, Runtime::from_name(runtime)?)?;
    model.predict(x.view())?; // warm-up
    let mut per_call = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..calls {
            std::hint::black_box(model.predict(std::hint::black_box(x.view()))?);
        }
        per_call.push(start.elapsed().as_secs_f64() / calls as f64);
    }
    per_call.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"runtime": runtime, "rows": x.nrows(), "seconds_per_call": per_call[per_call.len() / 2]})
    );
    Ok(())
}
