//! MLflow's scoring protocol (`POST /invocations`, as `mlflow models serve`
//! speaks it): `dataframe_split`, `dataframe_records`, `instances` and
//! `inputs` JSON payloads and `text/csv`, answered with `{"predictions": …}`.
//!
//! For ml-sdk's models MLflow's ONNX flavor answers tensor payloads
//! (`instances`, `inputs`) with one entry per output tensor
//! (`{"predictions": {"label": […], "probabilities": [[…]]}}`); this server
//! answers every payload form that way. (MLflow itself refuses the data-frame
//! forms for a classifier whose outputs have different widths.)

use ml_core::Frame;
use ml_core::ndarray::Array2;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::ServedModel;
use crate::tensor::{InferRequest, OutputData, OutputTensor};

/// The payload keys `/invocations` takes.
pub const PAYLOAD_KEYS: [&str; 4] = ["dataframe_split", "dataframe_records", "instances", "inputs"];

/// A table of cells (JSON scalars) with optional column names.
struct Table {
    columns: Option<Vec<String>>,
    rows: Vec<Vec<Value>>,
}

fn shape_error(key: &str, what: &str) -> Error {
    Error::bad_request(format!("`{key}` {what}"))
}

fn rows_of(key: &str, value: &Value) -> Result<Table> {
    match value {
        // A list of rows: lists of scalars, or records.
        Value::Array(items) => {
            if items.iter().all(Value::is_object) && !items.is_empty() {
                return records(key, items);
            }
            let rows = items
                .iter()
                .map(|row| match row {
                    Value::Array(cells) => Ok(cells.clone()),
                    scalar if !scalar.is_object() => Ok(vec![scalar.clone()]),
                    _ => Err(shape_error(key, "mixes records and rows")),
                })
                .collect::<Result<_>>()?;
            Ok(Table { columns: None, rows })
        }
        // Columns: {name: [values]}; a single tensor named as the model input is a matrix.
        Value::Object(map) => {
            let mut columns = Vec::with_capacity(map.len());
            let mut cols: Vec<&Vec<Value>> = Vec::with_capacity(map.len());
            for (name, values) in map {
                let Value::Array(values) = values else {
                    return Err(shape_error(key, &format!("column '{name}' is not a list")));
                };
                columns.push(name.clone());
                cols.push(values);
            }
            let n = cols.first().map_or(0, |c| c.len());
            if cols.iter().any(|c| c.len() != n) {
                return Err(shape_error(key, "has columns of different lengths"));
            }
            let rows = (0..n).map(|i| cols.iter().map(|c| c[i].clone()).collect()).collect();
            Ok(Table {
                columns: Some(columns),
                rows,
            })
        }
        _ => Err(shape_error(key, "must be a list of rows or an object of columns")),
    }
}

fn records(key: &str, items: &[Value]) -> Result<Table> {
    let mut columns: Vec<String> = Vec::new();
    for item in items {
        if let Value::Object(m) = item {
            for k in m.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        } else {
            return Err(shape_error(key, "mixes records and rows"));
        }
    }
    let rows = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| item.get(c).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect();
    Ok(Table {
        columns: Some(columns),
        rows,
    })
}

fn cell_text(v: &Value) -> Result<String> {
    match v {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(u8::from(*b).to_string()),
        Value::Null => Ok(String::new()),
        other => Err(Error::bad_request(format!(
            "a cell holds {}, not a number or string",
            ml_core::limits::shorten(&other.to_string(), 60)
        ))),
    }
}

/// Parse an `/invocations` body into the model's rows.
///
/// # Errors
/// Malformed JSON or CSV, no payload key or more than one, rows of different
/// lengths, missing columns, cells the model cannot read (400); an
/// unsupported content type (415).
pub fn parse_invocations(content_type: Option<&str>, body: &[u8], model: &ServedModel) -> Result<Array2<f64>> {
    let media = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_else(|| "application/json".into());
    let table = match media.as_str() {
        "text/csv" => {
            let frame = Frame::from_csv_reader(body)?;
            return encode(model, &frame, true);
        }
        "application/json" | "" => {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| Error::bad_request(format!("invalid JSON in /invocations: {e}")))?;
            json_table(&value, model)?
        }
        other => {
            return Err(Error::new(
                415,
                format!(
                    "content type '{}' is not supported; use application/json or text/csv",
                    ml_core::limits::shorten(other, 60)
                ),
            ));
        }
    };
    let width = table.rows.first().map_or(0, Vec::len);
    if let Some(row) = table.rows.iter().position(|r| r.len() != width) {
        return Err(Error::bad_request(format!(
            "row {row} has {} cells, the first {width}",
            table.rows[row].len()
        )));
    }
    let named = table.columns.is_some();
    let names = table
        .columns
        .unwrap_or_else(|| (0..width).map(|j| format!("x{j}")).collect());
    let mut columns: Vec<(String, Vec<String>)> = names.into_iter().map(|n| (n, Vec::new())).collect();
    for row in &table.rows {
        for (cell, (_, column)) in row.iter().zip(columns.iter_mut()) {
            column.push(cell_text(cell)?);
        }
    }
    let frame = Frame::from_columns(columns)?;
    encode(model, &frame, named)
}

fn json_table(value: &Value, model: &ServedModel) -> Result<Table> {
    let Value::Object(map) = value else {
        return Err(Error::bad_request(format!(
            "the /invocations body must be a JSON object with one of {}",
            PAYLOAD_KEYS.join(", ")
        )));
    };
    let keys: Vec<&str> = PAYLOAD_KEYS.into_iter().filter(|k| map.contains_key(*k)).collect();
    let key = match keys.as_slice() {
        [one] => *one,
        [] => {
            return Err(Error::bad_request(format!(
                "the /invocations body needs one of {}",
                PAYLOAD_KEYS.join(", ")
            )));
        }
        more => {
            return Err(Error::bad_request(format!(
                "the /invocations body has {}; send one",
                more.join(" and ")
            )));
        }
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !PAYLOAD_KEYS.contains(&k.as_str()) && *k != "params")
    {
        return Err(Error::bad_request(format!(
            "unknown key '{}' in the /invocations body",
            ml_core::limits::shorten(unknown, 60)
        )));
    }
    let payload = &map[key];
    match key {
        "dataframe_split" => {
            let Value::Object(split) = payload else {
                return Err(shape_error(key, "must be an object with `columns` and `data`"));
            };
            let data = split.get("data").ok_or_else(|| shape_error(key, "has no `data`"))?;
            let Value::Array(rows) = data else {
                return Err(shape_error(key, "`data` must be a list of rows"));
            };
            let rows = rows
                .iter()
                .map(|r| match r {
                    Value::Array(cells) => Ok(cells.clone()),
                    _ => Err(shape_error(key, "`data` must be a list of rows")),
                })
                .collect::<Result<Vec<_>>>()?;
            let columns = match split.get("columns") {
                None => None,
                Some(Value::Array(names)) => Some(names.iter().map(cell_text).collect::<Result<Vec<_>>>()?),
                Some(_) => return Err(shape_error(key, "`columns` must be a list of names")),
            };
            Ok(Table { columns, rows })
        }
        "dataframe_records" => match payload {
            Value::Array(items) => records(key, items),
            _ => Err(shape_error(key, "must be a list of records")),
        },
        _ => {
            // {"inputs": {"<input name>": [[…]]}} is the model's one tensor.
            if let Value::Object(m) = payload
                && m.len() == 1
                && let Some(matrix) = m.get(&model.interface().input)
            {
                return rows_of(key, matrix);
            }
            rows_of(key, payload)
        }
    }
}

/// Rows in the model's column order: by name where every column the model
/// takes is named, else by position when the count matches.
fn encode(model: &ServedModel, frame: &Frame, named: bool) -> Result<Array2<f64>> {
    let sig = model.signature();
    let has_all = sig.inputs.iter().all(|c| frame.names().contains(&c.name));
    if named && has_all {
        return Ok(frame.encode(&sig.inputs, sig.unknown_category)?);
    }
    if frame.names().len() == sig.n_inputs() {
        // By position: the model's columns take the payload's in order.
        let renamed = Frame::from_columns(
            sig.inputs
                .iter()
                .zip(frame.names())
                .map(|(c, n)| Ok((c.name.clone(), frame.column(n)?.to_vec())))
                .collect::<Result<Vec<_>>>()?,
        )?;
        return Ok(renamed.encode(&sig.inputs, sig.unknown_category)?);
    }
    let missing: Vec<&str> = sig
        .inputs
        .iter()
        .filter(|c| !frame.names().contains(&c.name))
        .map(|c| c.name.as_str())
        .collect();
    Err(Error::bad_request(format!(
        "model '{}' takes {} columns; the payload has {} and lacks {}",
        model.name(),
        sig.n_inputs(),
        frame.names().len(),
        ml_core::limits::shorten(&missing.join(", "), 200)
    )))
}

/// `{"predictions": {output: values}}`, each output nested to its shape.
pub fn predictions_json(outputs: &[OutputTensor]) -> Value {
    let mut map = Map::new();
    for o in outputs {
        let flat: Vec<Value> = match &o.data {
            OutputData::F32(v) => v.iter().map(|x| Value::from(f64::from(*x))).collect(),
            OutputData::F64(v) => v.iter().map(|x| Value::from(*x)).collect(),
            OutputData::I64(v) => v.iter().map(|x| Value::from(*x)).collect(),
            OutputData::Bytes(v) => v.iter().map(|x| Value::from(x.as_str())).collect(),
        };
        let value = match o.shape.as_slice() {
            [_, w] if *w > 0 => Value::Array(flat.chunks(*w).map(|c| Value::Array(c.to_vec())).collect()),
            _ => Value::Array(flat),
        };
        map.insert(o.name.clone(), value);
    }
    let mut out = Map::new();
    out.insert("predictions".into(), Value::Object(map));
    Value::Object(out)
}

/// A request for every output, as JSON.
pub(crate) fn all_outputs() -> InferRequest {
    InferRequest {
        id: None,
        inputs: Vec::new(),
        outputs: Vec::new(),
        binary_output: false,
    }
}
