//! A small Open Inference Protocol v2 client over JSON (feature `client`):
//! what a plain HTTP caller of a served ml-sdk model sends and reads.

use std::io::Read;

use ml_core::ndarray::ArrayView2;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::model::DEFAULT_INPUT;

/// The largest response read, in bytes.
const MAX_RESPONSE: u64 = 64 << 20;

/// Send `rows` to `base/v2/models/{model}/infer` as the `[N, d]` FP64 tensor
/// `input` (how ml-sdk's models are served) and return the response.
///
/// # Errors
/// A transport failure or an error status (with the server's message, and
/// its status), a response that is not JSON.
pub fn infer(base: &str, model: &str, rows: ArrayView2<'_, f64>) -> Result<Value> {
    let body = json!({"inputs": [{
        "name": DEFAULT_INPUT,
        "shape": [rows.nrows(), rows.ncols()],
        "datatype": "FP64",
        "data": rows.iter().collect::<Vec<_>>(),
    }]});
    let url = format!("{}/v2/models/{model}/infer", base.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut response = agent
        .post(&url)
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .map_err(|e| Error::new(502, format!("{url}: {e}")))?;
    let status = response.status().as_u16();
    let mut text = String::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_RESPONSE)
        .read_to_string(&mut text)
        .map_err(|e| Error::new(502, format!("{url}: {e}")))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| Error::new(502, format!("{url}: not JSON ({e})")))?;
    if status != 200 {
        let message = value["error"].as_str().unwrap_or(&text);
        return Err(Error::new(status, format!("{url}: {message}")));
    }
    Ok(value)
}

/// [`infer`], and the class index of each row from the `label` output.
///
/// # Errors
/// As [`infer`]; a response without an integer `label` output.
pub fn infer_labels(base: &str, model: &str, rows: ArrayView2<'_, f64>) -> Result<Vec<usize>> {
    let answer = infer(base, model, rows)?;
    let bad = || Error::new(502, format!("{model}: no integer 'label' output in {answer}"));
    answer["outputs"]
        .as_array()
        .and_then(|o| o.iter().find(|t| t["name"] == "label"))
        .and_then(|t| t["data"].as_array())
        .ok_or_else(bad)?
        .iter()
        .map(|v| v.as_u64().map(|v| v as usize).ok_or_else(bad))
        .collect()
}
