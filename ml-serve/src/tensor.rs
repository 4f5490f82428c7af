//! Open Inference Protocol v2 tensors on the wire: the JSON request and
//! response bodies, and Triton's binary tensor extension (a JSON header of
//! `Inference-Header-Content-Length` bytes followed by the raw tensors).
//!
//! Decoding is pure (bytes in, typed request or [`Error`] out) so it can be
//! fuzzed and reused by any transport.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A tensor element type, as the protocol names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataType {
    /// `BOOL`: one byte, 0 or 1.
    Bool,
    /// `UINT8`.
    Uint8,
    /// `UINT16`.
    Uint16,
    /// `UINT32`.
    Uint32,
    /// `UINT64`.
    Uint64,
    /// `INT8`.
    Int8,
    /// `INT16`.
    Int16,
    /// `INT32`.
    Int32,
    /// `INT64`.
    Int64,
    /// `FP16` (decoded, never produced).
    Fp16,
    /// `FP32`.
    Fp32,
    /// `FP64`.
    Fp64,
    /// `BYTES`: length-prefixed byte strings in binary form, strings in JSON.
    Bytes,
}

impl DataType {
    const ALL: [DataType; 13] = [
        DataType::Bool,
        DataType::Uint8,
        DataType::Uint16,
        DataType::Uint32,
        DataType::Uint64,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::Fp16,
        DataType::Fp32,
        DataType::Fp64,
        DataType::Bytes,
    ];

    /// The protocol's name (`"FP32"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Bool => "BOOL",
            DataType::Uint8 => "UINT8",
            DataType::Uint16 => "UINT16",
            DataType::Uint32 => "UINT32",
            DataType::Uint64 => "UINT64",
            DataType::Int8 => "INT8",
            DataType::Int16 => "INT16",
            DataType::Int32 => "INT32",
            DataType::Int64 => "INT64",
            DataType::Fp16 => "FP16",
            DataType::Fp32 => "FP32",
            DataType::Fp64 => "FP64",
            DataType::Bytes => "BYTES",
        }
    }

    /// Parse a protocol name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// Triton's model-configuration name (`"TYPE_FP32"`; `"TYPE_STRING"` for bytes).
    pub fn config_name(self) -> String {
        match self {
            DataType::Bytes => "TYPE_STRING".into(),
            other => format!("TYPE_{}", other.as_str()),
        }
    }

    /// Bytes per element in binary form (`None` for `BYTES`).
    pub fn size(self) -> Option<usize> {
        Some(match self {
            DataType::Bool | DataType::Uint8 | DataType::Int8 => 1,
            DataType::Uint16 | DataType::Int16 | DataType::Fp16 => 2,
            DataType::Uint32 | DataType::Int32 | DataType::Fp32 => 4,
            DataType::Uint64 | DataType::Int64 | DataType::Fp64 => 8,
            DataType::Bytes => return None,
        })
    }

    /// Whether elements are numbers (everything but `BYTES`).
    pub fn is_numeric(self) -> bool {
        self != DataType::Bytes
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The elements of a request tensor, flattened in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// Numbers of any numeric datatype (booleans as 0 and 1), widened to `f64`.
    Numbers(Vec<f64>),
    /// Byte strings (`BYTES`).
    Bytes(Vec<Vec<u8>>),
}

impl TensorData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::Numbers(v) => v.len(),
            TensorData::Bytes(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One input tensor of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTensor {
    /// The input's name.
    pub name: String,
    /// Its declared datatype.
    pub datatype: DataType,
    /// Its declared shape.
    pub shape: Vec<usize>,
    /// Its elements (as many as the shape says).
    pub data: TensorData,
}

/// An output the client asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestedOutput {
    /// The output's name.
    pub name: String,
    /// `parameters.binary_data`: send it as raw bytes (default: the request's choice).
    pub binary: Option<bool>,
}

/// A decoded inference request.
#[derive(Debug, Clone, PartialEq)]
pub struct InferRequest {
    /// The client's request id, echoed in the response.
    pub id: Option<String>,
    /// The inputs, in the order sent.
    pub inputs: Vec<InputTensor>,
    /// The outputs asked for (empty: all).
    pub outputs: Vec<RequestedOutput>,
    /// `parameters.binary_data_output`: send every output as raw bytes.
    pub binary_output: bool,
}

impl InferRequest {
    /// Whether output `name` goes out as raw bytes.
    pub fn wants_binary(&self, name: &str) -> bool {
        self.outputs
            .iter()
            .find(|o| o.name == name)
            .and_then(|o| o.binary)
            .unwrap_or(self.binary_output)
    }
}

#[derive(Deserialize)]
struct WireRequest {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    inputs: Vec<WireInput>,
    #[serde(default)]
    outputs: Vec<WireOutput>,
}

#[derive(Deserialize)]
struct WireInput {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    data: Option<FlatData>,
}

#[derive(Deserialize)]
struct WireOutput {
    name: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

/// The `data` of a JSON tensor, flat or nested to any depth, flattened.
#[derive(Debug, Default)]
struct FlatData {
    numbers: Vec<f64>,
    strings: Vec<Vec<u8>>,
}

impl<'de> Deserialize<'de> for FlatData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let mut out = FlatData::default();
        Flatten(&mut out).deserialize(deserializer)?;
        if !out.numbers.is_empty() && !out.strings.is_empty() {
            return Err(de::Error::custom("`data` mixes numbers and strings"));
        }
        Ok(out)
    }
}

struct Flatten<'a>(&'a mut FlatData);

impl<'de> DeserializeSeed<'de> for Flatten<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Flatten<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("numbers, booleans or strings, in a flat or nested array")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<(), E> {
        self.0.numbers.push(f64::from(u8::from(v)));
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<(), E> {
        self.0.numbers.push(v as f64);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<(), E> {
        self.0.numbers.push(v as f64);
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<(), E> {
        self.0.numbers.push(v);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        self.0.strings.push(v.as_bytes().to_vec());
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq.next_element_seed(Flatten(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// The datatype an input declares, refusing names the protocol lacks.
pub(crate) fn input_datatype(input: &str, name: &str) -> Result<DataType> {
    DataType::parse(name).ok_or_else(|| {
        Error::bad_request(format!(
            "input '{input}': unknown datatype '{}'",
            ml_core::limits::shorten(name, 40)
        ))
    })
}

/// Elements a shape holds, refusing negative dimensions and overflow.
pub(crate) fn element_count(name: &str, shape: &[i64]) -> Result<(Vec<usize>, usize)> {
    let mut dims = Vec::with_capacity(shape.len());
    let mut count: usize = 1;
    for &d in shape {
        let d = usize::try_from(d)
            .map_err(|_| Error::bad_request(format!("input '{name}': shape {shape:?} has a negative dimension")))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| Error::bad_request(format!("input '{name}': shape {shape:?} is too large")))?;
        dims.push(d);
    }
    Ok((dims, count))
}

fn bool_param(params: Option<&Map<String, Value>>, key: &str) -> Result<Option<bool>> {
    match params.and_then(|p| p.get(key)) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(Error::bad_request(format!(
            "parameter '{key}' must be a boolean, not {other}"
        ))),
    }
}

fn size_param(params: Option<&Map<String, Value>>, key: &str) -> Result<Option<usize>> {
    match params.and_then(|p| p.get(key)) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| Error::bad_request(format!("parameter '{key}' must be a non-negative integer, not {v}"))),
    }
}

/// Parse the `Inference-Header-Content-Length` header's value.
///
/// # Errors
/// A value that is not a non-negative integer.
pub fn parse_header_length(value: &str) -> Result<usize> {
    value.trim().parse::<usize>().map_err(|_| {
        Error::bad_request(format!(
            "Inference-Header-Content-Length must be a non-negative integer, not '{}'",
            ml_core::limits::shorten(value, 40)
        ))
    })
}

/// Decode a request body: JSON alone, or with `header_length` set, a JSON
/// header of that many bytes followed by the binary tensors it announces.
///
/// # Errors
/// [`Error`] with status 400 for malformed JSON, a header length beyond the
/// body, unknown datatypes, negative shapes, element counts that do not match
/// the shape, binary sizes that do not match the shape or the body.
pub fn decode_request(body: &[u8], header_length: Option<usize>) -> Result<InferRequest> {
    let (json, mut binary) = match header_length {
        None => (body, &[][..]),
        Some(n) if n > body.len() => {
            return Err(Error::bad_request(format!(
                "Inference-Header-Content-Length is {n} but the body has {} bytes",
                body.len()
            )));
        }
        Some(n) => body.split_at(n),
    };
    let wire: WireRequest =
        serde_json::from_slice(json).map_err(|e| Error::bad_request(format!("invalid inference request: {e}")))?;
    let binary_output = bool_param(wire.parameters.as_ref(), "binary_data_output")?.unwrap_or(false);
    let mut inputs = Vec::with_capacity(wire.inputs.len());
    for input in wire.inputs {
        let datatype = input_datatype(&input.name, &input.datatype)?;
        let (shape, count) = element_count(&input.name, &input.shape)?;
        let binary_size = size_param(input.parameters.as_ref(), "binary_data_size")?;
        let data = match (binary_size, input.data) {
            (Some(_), Some(_)) => {
                return Err(Error::bad_request(format!(
                    "input '{}' has both `data` and binary_data_size",
                    input.name
                )));
            }
            (None, None) => {
                return Err(Error::bad_request(format!("input '{}' has no `data`", input.name)));
            }
            (Some(size), None) => {
                if size > binary.len() {
                    return Err(Error::bad_request(format!(
                        "input '{}': binary_data_size {size} exceeds the {} bytes left in the body",
                        input.name,
                        binary.len()
                    )));
                }
                let (raw, rest) = binary.split_at(size);
                binary = rest;
                decode_binary(&input.name, datatype, raw, count)?
            }
            (None, Some(flat)) => json_data(&input.name, datatype, flat, count)?,
        };
        inputs.push(InputTensor {
            name: input.name,
            datatype,
            shape,
            data,
        });
    }
    if !binary.is_empty() {
        return Err(Error::bad_request(format!(
            "{} bytes after the tensors the header announces",
            binary.len()
        )));
    }
    let mut outputs = Vec::with_capacity(wire.outputs.len());
    for output in wire.outputs {
        let binary = bool_param(output.parameters.as_ref(), "binary_data")?;
        outputs.push(RequestedOutput {
            name: output.name,
            binary,
        });
    }
    Ok(InferRequest {
        id: wire.id,
        inputs,
        outputs,
        binary_output,
    })
}

fn json_data(name: &str, datatype: DataType, flat: FlatData, count: usize) -> Result<TensorData> {
    let data = if datatype == DataType::Bytes {
        if !flat.numbers.is_empty() {
            return Err(Error::bad_request(format!(
                "input '{name}' is BYTES but its data holds numbers"
            )));
        }
        TensorData::Bytes(flat.strings)
    } else {
        if !flat.strings.is_empty() {
            return Err(Error::bad_request(format!(
                "input '{name}' is {datatype} but its data holds strings"
            )));
        }
        TensorData::Numbers(flat.numbers)
    };
    if data.len() != count {
        return Err(Error::bad_request(format!(
            "input '{name}': its shape holds {count} elements but its data has {}",
            data.len()
        )));
    }
    Ok(data)
}

pub(crate) fn decode_binary(name: &str, datatype: DataType, raw: &[u8], count: usize) -> Result<TensorData> {
    let Some(size) = datatype.size() else {
        let mut strings = Vec::with_capacity(count.min(raw.len() / 4));
        let mut rest = raw;
        while !rest.is_empty() {
            let (len, tail) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| Error::bad_request(format!("input '{name}': truncated BYTES element length")))?;
            let len = u32::from_le_bytes(*len) as usize;
            if len > tail.len() {
                return Err(Error::bad_request(format!("input '{name}': truncated BYTES element")));
            }
            let (item, after) = tail.split_at(len);
            strings.push(item.to_vec());
            rest = after;
        }
        if strings.len() != count {
            return Err(Error::bad_request(format!(
                "input '{name}': its shape holds {count} elements but its binary data has {}",
                strings.len()
            )));
        }
        return Ok(TensorData::Bytes(strings));
    };
    if Some(raw.len()) != count.checked_mul(size) {
        return Err(Error::bad_request(format!(
            "input '{name}': {count} {datatype} elements need {} bytes, binary_data_size is {}",
            count.saturating_mul(size),
            raw.len()
        )));
    }
    let chunks = raw.chunks_exact(size);
    let numbers: Vec<f64> = match datatype {
        DataType::Bool => raw.iter().map(|&b| f64::from(u8::from(b != 0))).collect(),
        DataType::Uint8 => raw.iter().map(|&b| f64::from(b)).collect(),
        DataType::Int8 => raw.iter().map(|&b| f64::from(b as i8)).collect(),
        DataType::Uint16 => chunks.map(|c| f64::from(u16::from_le_bytes([c[0], c[1]]))).collect(),
        DataType::Int16 => chunks.map(|c| f64::from(i16::from_le_bytes([c[0], c[1]]))).collect(),
        DataType::Fp16 => chunks.map(|c| f16_to_f64(u16::from_le_bytes([c[0], c[1]]))).collect(),
        DataType::Uint32 => chunks.map(|c| f64::from(u32::from_le_bytes(array(c)))).collect(),
        DataType::Int32 => chunks.map(|c| f64::from(i32::from_le_bytes(array(c)))).collect(),
        DataType::Fp32 => chunks.map(|c| f64::from(f32::from_le_bytes(array(c)))).collect(),
        DataType::Uint64 => chunks.map(|c| u64::from_le_bytes(array(c)) as f64).collect(),
        DataType::Int64 => chunks.map(|c| i64::from_le_bytes(array(c)) as f64).collect(),
        DataType::Fp64 => chunks.map(|c| f64::from_le_bytes(array(c))).collect(),
        DataType::Bytes => unreachable!("BYTES has no fixed size"),
    };
    Ok(TensorData::Numbers(numbers))
}

fn array<const N: usize>(chunk: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(chunk);
    out
}

/// IEEE half precision to double.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    match exponent {
        0 => sign * fraction * 2f64.powi(-24),
        0x1f if fraction == 0.0 => sign * f64::INFINITY,
        0x1f => f64::NAN,
        e => sign * (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}

/// The elements of a response tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputData {
    /// `FP32`.
    F32(Vec<f32>),
    /// `FP64`.
    F64(Vec<f64>),
    /// `INT64`.
    I64(Vec<i64>),
    /// `BYTES`.
    Bytes(Vec<String>),
}

impl OutputData {
    /// The datatype these elements go out as.
    pub fn datatype(&self) -> DataType {
        match self {
            OutputData::F32(_) => DataType::Fp32,
            OutputData::F64(_) => DataType::Fp64,
            OutputData::I64(_) => DataType::Int64,
            OutputData::Bytes(_) => DataType::Bytes,
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        match self {
            OutputData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            OutputData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            OutputData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            OutputData::Bytes(v) => {
                let mut out = Vec::new();
                for s in v {
                    // Strings come from class names, far below 4 GiB.
                    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
                out
            }
        }
    }
}

/// One output tensor of a response.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTensor {
    /// The output's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its elements.
    pub data: OutputData,
    /// Send it as raw bytes after the JSON header.
    pub binary: bool,
}

/// An inference response.
#[derive(Debug, Clone, PartialEq)]
pub struct InferResponse {
    /// The model that answered.
    pub model_name: String,
    /// Its version.
    pub model_version: String,
    /// The request's id, echoed.
    pub id: Option<String>,
    /// The outputs.
    pub outputs: Vec<OutputTensor>,
}

impl InferResponse {
    /// The response body, and the JSON header's length when some output
    /// is binary (for `Inference-Header-Content-Length`).
    pub fn encode(&self) -> (Vec<u8>, Option<usize>) {
        use serde_json::json;
        let mut binary = Vec::new();
        let outputs: Vec<Value> = self
            .outputs
            .iter()
            .map(|o| {
                let mut t = Map::new();
                t.insert("name".into(), json!(o.name));
                t.insert("datatype".into(), json!(o.data.datatype().as_str()));
                t.insert("shape".into(), json!(o.shape));
                if o.binary {
                    let bytes = o.data.to_bytes();
                    t.insert("parameters".into(), json!({ "binary_data_size": bytes.len() }));
                    binary.extend_from_slice(&bytes);
                } else {
                    let data = match &o.data {
                        OutputData::F32(v) => json!(v),
                        OutputData::F64(v) => json!(v),
                        OutputData::I64(v) => json!(v),
                        OutputData::Bytes(v) => json!(v),
                    };
                    t.insert("data".into(), data);
                }
                Value::Object(t)
            })
            .collect();
        let mut head = Map::new();
        head.insert("model_name".into(), json!(self.model_name));
        head.insert("model_version".into(), json!(self.model_version));
        if let Some(id) = &self.id {
            head.insert("id".into(), json!(id));
        }
        head.insert("outputs".into(), Value::Array(outputs));
        let mut body = serde_json::to_vec(&Value::Object(head)).unwrap_or_default();
        if self.outputs.iter().any(|o| o.binary) {
            let header = body.len();
            body.extend_from_slice(&binary);
            (body, Some(header))
        } else {
            (body, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_flat_json_data_flatten_alike() {
        let flat = br#"{"id":"7","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4.5]}]}"#;
        let nested = br#"{"id":"7","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4.5]]}]}"#;
        let a = decode_request(flat, None).unwrap();
        let b = decode_request(nested, None).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.inputs[0].data, TensorData::Numbers(vec![1.0, 2.0, 3.0, 4.5]));
        assert_eq!(a.id.as_deref(), Some("7"));
    }

    #[test]
    fn binary_tensors_follow_the_header() {
        let header = br#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}},{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":7}}],"parameters":{"binary_data_output":true}}"#;
        let mut body = header.to_vec();
        body.extend_from_slice(&1.5f32.to_le_bytes());
        body.extend_from_slice(&(-2.0f32).to_le_bytes());
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(b"abc");
        let r = decode_request(&body, Some(header.len())).unwrap();
        assert_eq!(r.inputs[0].data, TensorData::Numbers(vec![1.5, -2.0]));
        assert_eq!(r.inputs[1].data, TensorData::Bytes(vec![b"abc".to_vec()]));
        assert!(r.binary_output && r.wants_binary("anything"));
    }

    #[test]
    fn malformed_requests_are_refused_with_the_reason() {
        let cases: [(&[u8], Option<usize>, &str); 8] = [
            (b"{", None, "invalid inference request"),
            (
                b"{}",
                Some(10),
                "Inference-Header-Content-Length is 10 but the body has 2 bytes",
            ),
            (
                br#"{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[]}]}"#,
                None,
                "negative",
            ),
            (
                br#"{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]}"#,
                None,
                "holds 3 elements but its data has 2",
            ),
            (
                br#"{"inputs":[{"name":"x","shape":[1],"datatype":"F32","data":[1]}]}"#,
                None,
                "unknown datatype 'F32'",
            ),
            (
                br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["a"]}]}"#,
                None,
                "holds strings",
            ),
            (
                br#"{"inputs":[{"name":"x","shape":[9223372036854775807,4],"datatype":"FP32","data":[1]}]}"#,
                None,
                "too large",
            ),
            (
                br#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#,
                None,
                "exceeds",
            ),
        ];
        for (body, header, expected) in cases {
            let err = decode_request(body, header).unwrap_err();
            assert_eq!(err.status(), 400);
            assert!(err.to_string().contains(expected), "{err} lacks {expected}");
        }
        assert!(parse_header_length("12x").is_err());
        assert_eq!(parse_header_length(" 12").unwrap(), 12);
    }

    #[test]
    fn responses_encode_binary_outputs_after_the_header() {
        let r = InferResponse {
            model_name: "m".into(),
            model_version: "1".into(),
            id: Some("9".into()),
            outputs: vec![
                OutputTensor {
                    name: "label".into(),
                    shape: vec![2],
                    data: OutputData::I64(vec![0, 1]),
                    binary: false,
                },
                OutputTensor {
                    name: "probabilities".into(),
                    shape: vec![1, 1],
                    data: OutputData::F32(vec![0.25]),
                    binary: true,
                },
            ],
        };
        let (body, header) = r.encode();
        let header = header.unwrap();
        let json: Value = serde_json::from_slice(&body[..header]).unwrap();
        assert_eq!(json["id"], "9");
        assert_eq!(json["outputs"][0]["data"], serde_json::json!([0, 1]));
        assert_eq!(json["outputs"][1]["parameters"]["binary_data_size"], 4);
        assert_eq!(&body[header..], &0.25f32.to_le_bytes());
    }

    #[test]
    fn half_precision_decodes() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert!(f16_to_f64(0x7c00).is_infinite());
    }
}
