//! Reading ONNX models: the parts of `onnx.proto` this crate needs (model,
//! graph, nodes, attributes, initializers, value infos), decoded with
//! ml-core's protobuf reader. Every field not understood here is kept as the
//! bytes it came in, so a graph can be edited and written back without
//! losing anything (see [`crate::rewrite`]).

use ml_core::protobuf::{Field, ProtoReader};

use crate::proto::{Attr, DataType, Msg};
use crate::{Error, Result};

/// Largest number of elements a tensor or attribute may declare; a guard
/// against hostile files that declare more than they hold.
const MAX_ELEMENTS: u64 = 1 << 31;

/// `TensorProto.DataType` numbers this crate handles.
pub(crate) mod dtype {
    pub const FLOAT: i64 = 1;
    pub const INT32: i64 = 6;
    pub const INT64: i64 = 7;
    pub const STRING: i64 = 8;
    pub const DOUBLE: i64 = 11;
}

/// The ONNX name of a `TensorProto.DataType`.
pub fn dtype_name(t: i64) -> &'static str {
    match t {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "other",
    }
}

fn corrupt(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{what}: {e}"))
}

fn fields<'a>(what: &'static str, bytes: &'a [u8]) -> impl Iterator<Item = Result<Field<'a>>> + 'a {
    ProtoReader::new(bytes).map(move |f| f.map_err(|e| corrupt(what, e)))
}

fn string(what: &'static str, f: &Field<'_>) -> Result<String> {
    f.as_str().map(str::to_string).map_err(|e| corrupt(what, e))
}

/// A decoded ONNX model.
#[derive(Debug, Clone)]
pub struct OnnxGraph {
    /// ONNX IR version.
    pub ir_version: i64,
    /// Operator sets by domain (`""` is the default domain).
    pub opsets: Vec<(String, i64)>,
    /// Producer name and version.
    pub producer: (String, String),
    /// `metadata_props`.
    pub metadata: Vec<(String, String)>,
    /// The main graph.
    pub graph: Graph,
    /// The model's fields, graph excluded, as they came.
    other: Vec<Vec<u8>>,
}

/// A graph: nodes in topological order, initializers, inputs and outputs.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Constant tensors.
    pub initializers: Vec<Tensor>,
    /// Graph inputs (initializers may also be listed here).
    pub inputs: Vec<ValueInfo>,
    /// Graph outputs.
    pub outputs: Vec<ValueInfo>,
    other: Vec<Vec<u8>>,
}

/// One node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Operator.
    pub op_type: String,
    /// Operator domain (`""` or `"ai.onnx"` for the default one).
    pub domain: String,
    /// Node name.
    pub name: String,
    /// Input value names (`""` for an omitted optional input).
    pub inputs: Vec<String>,
    /// Output value names.
    pub outputs: Vec<String>,
    /// Attributes.
    pub attributes: Vec<Attribute>,
    raw: Vec<u8>,
}

/// A node attribute.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// Name.
    pub name: String,
    /// Value.
    pub value: AttrValue,
    raw: Vec<u8>,
}

/// An attribute's value, for the kinds this crate reads.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// `f`.
    Float(f32),
    /// `i`.
    Int(i64),
    /// `s`.
    Str(Vec<u8>),
    /// `floats`.
    Floats(Vec<f32>),
    /// `ints`.
    Ints(Vec<i64>),
    /// `strings`.
    Strs(Vec<Vec<u8>>),
    /// `t`: a tensor (kept encoded).
    Tensor(Vec<u8>),
    /// Graphs, sparse tensors, type protos: kept as bytes, not interpreted.
    Other,
}

/// A tensor (initializer), decoded lazily: name, shape and type up front,
/// values on request.
#[derive(Debug, Clone)]
pub struct Tensor {
    /// Name.
    pub name: String,
    /// Shape.
    pub dims: Vec<i64>,
    /// `TensorProto.DataType`.
    pub data_type: i64,
    raw: Vec<u8>,
}

/// A dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Value(i64),
    /// A named symbolic size (`"N"`, `"batch"`).
    Param(String),
    /// Not given.
    Unknown,
}

/// A graph input or output.
#[derive(Debug, Clone)]
pub struct ValueInfo {
    /// Name.
    pub name: String,
    /// Element type for tensors; `None` for sequences, maps and the like.
    pub elem_type: Option<i64>,
    /// Shape, when declared.
    pub dims: Option<Vec<Dim>>,
    raw: Vec<u8>,
}

impl OnnxGraph {
    /// Decode a serialized `ModelProto`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for bytes that are not an ONNX model (truncated,
    /// corrupt, no graph, declared sizes beyond what the bytes hold).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::Invalid("empty ONNX model".into()));
        }
        let mut m = OnnxGraph {
            ir_version: 0,
            opsets: Vec::new(),
            producer: (String::new(), String::new()),
            metadata: Vec::new(),
            graph: Graph::empty(),
            other: Vec::new(),
        };
        let mut graph = None;
        for f in fields("model", bytes) {
            let f = f?;
            match f.number {
                1 => m.ir_version = f.as_i64().map_err(|e| corrupt("ir_version", e))?,
                2 => m.producer.0 = string("producer_name", &f)?,
                3 => m.producer.1 = string("producer_version", &f)?,
                7 => {
                    graph = Some(Graph::parse(f.as_bytes().map_err(|e| corrupt("graph", e))?)?);
                    continue;
                }
                8 => {
                    let (mut domain, mut version) = (String::new(), 0);
                    for g in fields("opset_import", f.as_bytes().map_err(|e| corrupt("opset_import", e))?) {
                        let g = g?;
                        match g.number {
                            1 => domain = string("opset domain", &g)?,
                            2 => version = g.as_i64().map_err(|e| corrupt("opset version", e))?,
                            _ => {}
                        }
                    }
                    m.opsets.push((domain, version));
                }
                14 => {
                    let (mut k, mut v) = (String::new(), String::new());
                    for g in fields(
                        "metadata_props",
                        f.as_bytes().map_err(|e| corrupt("metadata_props", e))?,
                    ) {
                        let g = g?;
                        match g.number {
                            1 => k = string("metadata key", &g)?,
                            2 => v = string("metadata value", &g)?,
                            _ => {}
                        }
                    }
                    m.metadata.push((k, v));
                }
                _ => {}
            }
            m.other.push(f.raw.to_vec());
        }
        m.graph = graph.ok_or_else(|| Error::Invalid("ONNX model without a graph".into()))?;
        if m.ir_version <= 0 {
            return Err(Error::Invalid("ONNX model without an IR version".into()));
        }
        Ok(m)
    }

    /// The model encoded again, with the (possibly edited) graph.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in &self.other {
            out.extend_from_slice(f);
        }
        out.extend_from_slice(&Msg::new().bytes(7, &self.graph.to_bytes()).into_bytes());
        out
    }

    /// The opset version imported for `domain` (`""` is the default domain).
    pub fn opset(&self, domain: &str) -> Option<i64> {
        self.opsets
            .iter()
            .find(|(d, _)| d == domain || (domain.is_empty() && d == "ai.onnx"))
            .map(|(_, v)| *v)
    }

    /// Import the default domain at `version` when the model does not
    /// import it at all (rewrites add default-domain nodes).
    pub(crate) fn ensure_default_opset(&mut self, version: i64) {
        if self.opset("").is_none() {
            self.opsets.push((String::new(), version));
            self.other
                .push(Msg::new().msg(8, &Msg::new().str(1, "").int(2, version)).into_bytes());
        }
    }

    /// A `metadata_props` value.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl Graph {
    fn empty() -> Self {
        Graph {
            nodes: Vec::new(),
            initializers: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            other: Vec::new(),
        }
    }

    fn parse(bytes: &[u8]) -> Result<Self> {
        let mut g = Graph::empty();
        for f in fields("graph", bytes) {
            let f = f?;
            let b = || f.as_bytes().map_err(|e| corrupt("graph field", e));
            match f.number {
                1 => g.nodes.push(Node::parse(b()?)?),
                5 => g.initializers.push(Tensor::parse(b()?)?),
                11 => g.inputs.push(ValueInfo::parse(b()?)?),
                12 => g.outputs.push(ValueInfo::parse(b()?)?),
                _ => g.other.push(f.raw.to_vec()),
            }
        }
        Ok(g)
    }

    /// The graph encoded again (edits included).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut m = Msg::new();
        for n in &self.nodes {
            m = m.bytes(1, &n.raw);
        }
        for t in &self.initializers {
            m = m.bytes(5, &t.raw);
        }
        for i in &self.inputs {
            m = m.bytes(11, &i.raw);
        }
        for o in &self.outputs {
            m = m.bytes(12, &o.raw);
        }
        let mut out = m.into_bytes();
        for f in &self.other {
            out.extend_from_slice(f);
        }
        out
    }

    /// The inputs that are fed at run time (not initializers).
    pub fn runtime_inputs(&self) -> Vec<&ValueInfo> {
        self.inputs
            .iter()
            .filter(|i| !self.initializers.iter().any(|t| t.name == i.name))
            .collect()
    }

    /// The node that produces `value`.
    pub fn producer(&self, value: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.outputs.iter().any(|o| o == value))
    }

    /// The nodes that read `value`.
    pub fn consumers<'a>(&'a self, value: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes.iter().filter(move |n| n.inputs.iter().any(|i| i == value))
    }

    /// The initializer named `name`.
    pub fn initializer(&self, name: &str) -> Option<&Tensor> {
        self.initializers.iter().find(|t| t.name == name)
    }

    /// A value name not used in the graph yet.
    pub(crate) fn fresh_name(&self, prefix: &str) -> String {
        let taken = |n: &str| {
            self.nodes
                .iter()
                .any(|x| x.outputs.iter().any(|o| o == n) || x.name == n)
                || self.initializers.iter().any(|t| t.name == n)
                || self.inputs.iter().any(|i| i.name == n)
        };
        (0..)
            .map(|i| format!("{prefix}_mlsdk{i}"))
            .find(|n| !taken(n))
            .unwrap_or_else(|| prefix.to_string())
    }

    /// Add a float initializer and return its name.
    pub(crate) fn add_f32(&mut self, prefix: &str, dims: &[i64], data: &[f32]) -> Result<String> {
        let name = self.fresh_name(prefix);
        self.add_initializer(crate::proto::tensor_f32(&name, dims, data))
    }

    /// Add an int64 initializer and return its name.
    pub(crate) fn add_i64(&mut self, prefix: &str, dims: &[i64], data: &[i64]) -> Result<String> {
        let name = self.fresh_name(prefix);
        self.add_initializer(crate::proto::tensor_i64(&name, dims, data))
    }

    fn add_initializer(&mut self, tensor: Msg) -> Result<String> {
        let t = Tensor::parse(tensor.as_bytes())?;
        let name = t.name.clone();
        self.initializers.push(t);
        Ok(name)
    }
}

impl Node {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let mut n = Node {
            op_type: String::new(),
            domain: String::new(),
            name: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            attributes: Vec::new(),
            raw: bytes.to_vec(),
        };
        for f in fields("node", bytes) {
            let f = f?;
            match f.number {
                1 => n.inputs.push(string("node input", &f)?),
                2 => n.outputs.push(string("node output", &f)?),
                3 => n.name = string("node name", &f)?,
                4 => n.op_type = string("op_type", &f)?,
                5 => n
                    .attributes
                    .push(Attribute::parse(f.as_bytes().map_err(|e| corrupt("attribute", e))?)?),
                7 => n.domain = string("node domain", &f)?,
                _ => {}
            }
        }
        if n.op_type.is_empty() {
            return Err(Error::Invalid(format!("node '{}' without an op_type", n.name)));
        }
        Ok(n)
    }

    /// A new node (for graph rewrites).
    pub(crate) fn new(
        op: &str,
        domain: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: &[(&str, Attr)],
    ) -> Result<Self> {
        Node::parse(&crate::proto::node(op, domain, name, inputs, outputs, attrs).into_bytes())
    }

    /// A copy with other attributes: `keep` picks the original ones to copy
    /// as they are, `extra` adds new ones; the op type may change too.
    pub(crate) fn rebuilt(
        &self,
        op: &str,
        outputs: &[&str],
        keep: impl Fn(&str) -> bool,
        extra: &[(&str, Attr)],
    ) -> Result<Self> {
        let inputs: Vec<&str> = self.inputs.iter().map(String::as_str).collect();
        self.rebuilt_reading(&inputs, op, outputs, keep, extra)
    }

    /// As [`Node::rebuilt`], reading other inputs.
    pub(crate) fn rebuilt_reading(
        &self,
        inputs: &[&str],
        op: &str,
        outputs: &[&str],
        keep: impl Fn(&str) -> bool,
        extra: &[(&str, Attr)],
    ) -> Result<Self> {
        let mut m = Msg::new();
        for i in inputs {
            m = m.str(1, i);
        }
        for o in outputs {
            m = m.str(2, o);
        }
        m = m.str(3, &self.name).str(4, op);
        for a in self.attributes.iter().filter(|a| keep(&a.name)) {
            m = m.bytes(5, &a.raw);
        }
        for (k, v) in extra {
            m = m.msg(5, &crate::proto::attribute(k, v));
        }
        if !self.domain.is_empty() {
            m = m.str(7, &self.domain);
        }
        Node::parse(&m.into_bytes())
    }

    /// Whether this is an `ai.onnx.ml` operator.
    pub fn is_ml(&self) -> bool {
        self.domain == "ai.onnx.ml"
    }

    /// An attribute by name.
    pub fn attr(&self, name: &str) -> Option<&AttrValue> {
        self.attributes.iter().find(|a| a.name == name).map(|a| &a.value)
    }

    fn attr_err(&self, name: &str, want: &str) -> Error {
        Error::Invalid(format!(
            "{} node '{}': attribute {name} is missing or not {want}",
            self.op_type, self.name
        ))
    }

    /// An `ints` attribute.
    ///
    /// # Errors
    /// [`Error::Invalid`] when missing or of another kind.
    pub fn ints(&self, name: &str) -> Result<&[i64]> {
        match self.attr(name) {
            Some(AttrValue::Ints(v)) => Ok(v),
            _ => Err(self.attr_err(name, "ints")),
        }
    }

    /// A `floats` attribute.
    ///
    /// # Errors
    /// [`Error::Invalid`] when missing or of another kind.
    pub fn floats(&self, name: &str) -> Result<&[f32]> {
        match self.attr(name) {
            Some(AttrValue::Floats(v)) => Ok(v),
            _ => Err(self.attr_err(name, "floats")),
        }
    }

    /// An optional `floats` attribute.
    pub fn floats_opt(&self, name: &str) -> Option<&[f32]> {
        match self.attr(name) {
            Some(AttrValue::Floats(v)) => Some(v),
            _ => None,
        }
    }

    /// An `int` attribute, or `default` when absent.
    ///
    /// # Errors
    /// [`Error::Invalid`] when of another kind.
    pub fn int_or(&self, name: &str, default: i64) -> Result<i64> {
        match self.attr(name) {
            None => Ok(default),
            Some(AttrValue::Int(v)) => Ok(*v),
            _ => Err(self.attr_err(name, "an int")),
        }
    }

    /// A `string` attribute, or `default` when absent.
    ///
    /// # Errors
    /// [`Error::Invalid`] when of another kind or not UTF-8.
    pub fn str_or(&self, name: &str, default: &str) -> Result<String> {
        match self.attr(name) {
            None => Ok(default.to_string()),
            Some(AttrValue::Str(v)) => String::from_utf8(v.clone()).map_err(|_| self.attr_err(name, "UTF-8")),
            _ => Err(self.attr_err(name, "a string")),
        }
    }

    /// The class labels of a classifier or `ZipMap` node, as strings:
    /// `classlabels_int64s` (`classlabels_ints` in `LinearClassifier`) or
    /// `classlabels_strings`; `None` when it has none.
    ///
    /// # Errors
    /// [`Error::Invalid`] for labels that are not UTF-8.
    pub fn class_labels(&self) -> Result<Option<Vec<String>>> {
        match (
            self.attr("classlabels_int64s")
                .or_else(|| self.attr("classlabels_ints")),
            self.attr("classlabels_strings"),
        ) {
            (Some(AttrValue::Ints(v)), _) => Ok(Some(v.iter().map(i64::to_string).collect())),
            (_, Some(AttrValue::Strs(_))) => self.strings("classlabels_strings").map(Some),
            _ => Ok(None),
        }
    }

    /// A `strings` attribute, decoded as UTF-8.
    ///
    /// # Errors
    /// [`Error::Invalid`] when missing, of another kind or not UTF-8.
    pub fn strings(&self, name: &str) -> Result<Vec<String>> {
        match self.attr(name) {
            Some(AttrValue::Strs(v)) => v
                .iter()
                .map(|s| String::from_utf8(s.clone()).map_err(|_| self.attr_err(name, "UTF-8")))
                .collect(),
            _ => Err(self.attr_err(name, "strings")),
        }
    }
}

impl Attribute {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let mut name = String::new();
        let mut kind = 0;
        let (mut f, mut i, mut s, mut t) = (None, None, None, None);
        let (mut floats, mut ints, mut strs) = (Vec::new(), Vec::new(), Vec::new());
        for fl in fields("attribute", bytes) {
            let fl = fl?;
            let e = |err| corrupt("attribute", err);
            match fl.number {
                1 => name = string("attribute name", &fl)?,
                2 => f = Some(fl.as_f32().map_err(e)?),
                3 => i = Some(fl.as_i64().map_err(e)?),
                4 => s = Some(fl.as_bytes().map_err(e)?.to_vec()),
                5 => t = Some(fl.as_bytes().map_err(e)?.to_vec()),
                7 => fl.extend_f32(&mut floats).map_err(e)?,
                8 => fl.extend_i64(&mut ints).map_err(e)?,
                9 => strs.push(fl.as_bytes().map_err(e)?.to_vec()),
                20 => kind = fl.as_i64().map_err(e)?,
                _ => {}
            }
        }
        // AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4,
        // FLOATS 6, INTS 7, STRINGS 8; files from old exporters may omit it.
        let value = match kind {
            1 => AttrValue::Float(f.unwrap_or(0.0)),
            2 => AttrValue::Int(i.unwrap_or(0)),
            3 => AttrValue::Str(s.unwrap_or_default()),
            4 => AttrValue::Tensor(t.unwrap_or_default()),
            6 => AttrValue::Floats(floats),
            7 => AttrValue::Ints(ints),
            8 => AttrValue::Strs(strs),
            0 => match (f, i, s, t) {
                (Some(v), ..) => AttrValue::Float(v),
                (_, Some(v), ..) => AttrValue::Int(v),
                (_, _, Some(v), _) => AttrValue::Str(v),
                (.., Some(v)) => AttrValue::Tensor(v),
                _ if !floats.is_empty() => AttrValue::Floats(floats),
                _ if !ints.is_empty() => AttrValue::Ints(ints),
                _ if !strs.is_empty() => AttrValue::Strs(strs),
                _ => AttrValue::Other,
            },
            _ => AttrValue::Other,
        };
        Ok(Attribute {
            name,
            value,
            raw: bytes.to_vec(),
        })
    }
}

impl Tensor {
    /// Decode a serialized `TensorProto` (values stay encoded until asked for).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed tensor.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut t = Tensor {
            name: String::new(),
            dims: Vec::new(),
            data_type: 0,
            raw: bytes.to_vec(),
        };
        for f in fields("tensor", bytes) {
            let f = f?;
            match f.number {
                1 => f.extend_i64(&mut t.dims).map_err(|e| corrupt("tensor dims", e))?,
                2 => t.data_type = f.as_i64().map_err(|e| corrupt("tensor data_type", e))?,
                8 => t.name = string("tensor name", &f)?,
                _ => {}
            }
        }
        if t.dims.iter().any(|&d| d < 0) {
            return Err(Error::Invalid(format!("tensor '{}': negative dimension", t.name)));
        }
        Ok(t)
    }

    /// Number of elements its shape declares.
    ///
    /// # Errors
    /// [`Error::Invalid`] when absurdly large.
    pub fn len(&self) -> Result<usize> {
        let mut n: u64 = 1;
        for &d in &self.dims {
            n = n.saturating_mul(d as u64);
        }
        if n > MAX_ELEMENTS {
            return Err(Error::Invalid(format!("tensor '{}' declares {n} elements", self.name)));
        }
        Ok(n as usize)
    }

    /// Whether the shape declares no elements.
    pub fn is_empty(&self) -> bool {
        self.len().is_ok_and(|n| n == 0)
    }

    /// The values as `f64` (from float, double, int32 or int64 data, typed or
    /// raw), checked against the declared shape.
    ///
    /// # Errors
    /// [`Error::Invalid`] for missing/short data or external data;
    /// [`Error::Unsupported`] for other element types.
    pub fn to_f64(&self) -> Result<Vec<f64>> {
        let n = self.len()?;
        let mut out: Vec<f64> = Vec::new();
        let mut raw_data: Option<&[u8]> = None;
        for f in fields("tensor", &self.raw) {
            let f = f?;
            let e = |err| corrupt("tensor data", err);
            match f.number {
                4 => {
                    let mut v = Vec::new();
                    f.extend_f32(&mut v).map_err(e)?;
                    out.extend(v.into_iter().map(f64::from));
                }
                5 | 7 => {
                    let mut v = Vec::new();
                    f.extend_i64(&mut v).map_err(e)?;
                    out.extend(v.into_iter().map(|x| x as f64));
                }
                10 => f.extend_f64(&mut out).map_err(e)?,
                9 => raw_data = Some(f.as_bytes().map_err(e)?),
                14 if f.as_i64().map_err(e)? == 1 => {
                    return Err(Error::Invalid(format!(
                        "tensor '{}' keeps its data in an external file",
                        self.name
                    )));
                }
                _ => {}
            }
        }
        if let Some(raw) = raw_data {
            let size = match self.data_type {
                dtype::FLOAT | dtype::INT32 => 4,
                dtype::DOUBLE | dtype::INT64 => 8,
                other => {
                    return Err(Error::Unsupported(format!(
                        "tensor '{}' of type {}",
                        self.name,
                        dtype_name(other)
                    )));
                }
            };
            if raw.len() != n * size {
                return Err(Error::Invalid(format!(
                    "tensor '{}': {} bytes of data for {n} elements",
                    self.name,
                    raw.len()
                )));
            }
            out = raw
                .chunks_exact(size)
                .map(|c| match self.data_type {
                    dtype::FLOAT => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    dtype::INT32 => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    dtype::DOUBLE => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
                    _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64,
                })
                .collect();
        } else if !matches!(
            self.data_type,
            dtype::FLOAT | dtype::DOUBLE | dtype::INT32 | dtype::INT64
        ) {
            return Err(Error::Unsupported(format!(
                "tensor '{}' of type {}",
                self.name,
                dtype_name(self.data_type)
            )));
        }
        if out.len() != n {
            return Err(Error::Invalid(format!(
                "tensor '{}': {} values for shape {:?}",
                self.name,
                out.len(),
                self.dims
            )));
        }
        Ok(out)
    }
}

impl ValueInfo {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let mut v = ValueInfo {
            name: String::new(),
            elem_type: None,
            dims: None,
            raw: bytes.to_vec(),
        };
        for f in fields("value_info", bytes) {
            let f = f?;
            match f.number {
                1 => v.name = string("value name", &f)?,
                2 => {
                    for t in fields("type", f.as_bytes().map_err(|e| corrupt("type", e))?) {
                        let t = t?;
                        if t.number != 1 {
                            continue; // sequence, map, optional: not a tensor
                        }
                        let mut elem = 0;
                        for tt in fields("tensor type", t.as_bytes().map_err(|e| corrupt("tensor type", e))?) {
                            let tt = tt?;
                            match tt.number {
                                1 => elem = tt.as_i64().map_err(|e| corrupt("elem_type", e))?,
                                2 => v.dims = Some(parse_shape(tt.as_bytes().map_err(|e| corrupt("shape", e))?)?),
                                _ => {}
                            }
                        }
                        v.elem_type = Some(elem);
                    }
                }
                _ => {}
            }
        }
        Ok(v)
    }

    /// A tensor value info (for graph rewrites).
    pub(crate) fn tensor(name: &str, elem: DataType, dims: &[crate::proto::Dim]) -> Result<Self> {
        ValueInfo::parse(&crate::proto::value_info(name, elem, dims).into_bytes())
    }

    /// The fixed size of dimension `i`, if declared.
    pub fn fixed_dim(&self, i: usize) -> Option<i64> {
        match self.dims.as_ref()?.get(i)? {
            Dim::Value(v) => Some(*v),
            _ => None,
        }
    }
}

fn parse_shape(bytes: &[u8]) -> Result<Vec<Dim>> {
    let mut dims = Vec::new();
    for f in fields("shape", bytes) {
        let f = f?;
        if f.number != 1 {
            continue;
        }
        let mut d = Dim::Unknown;
        for g in fields("dimension", f.as_bytes().map_err(|e| corrupt("dimension", e))?) {
            let g = g?;
            match g.number {
                1 => d = Dim::Value(g.as_i64().map_err(|e| corrupt("dim_value", e))?),
                2 => d = Dim::Param(string("dim_param", &g)?),
                _ => {}
            }
        }
        dims.push(d);
    }
    Ok(dims)
}
