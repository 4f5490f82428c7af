//! Just enough of the ONNX protobuf schema (`onnx.proto`, IR version 8) to
//! write models, encoded by hand: no `protoc`, no generated code. Fields are
//! written with their schema numbers and wire types.

/// A protobuf message being written.
#[derive(Debug, Default, Clone)]
pub(crate) struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field << 3 | u32::from(wire)));
    }

    pub(crate) fn int(mut self, field: u32, v: i64) -> Self {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }

    pub(crate) fn bytes(mut self, field: u32, v: &[u8]) -> Self {
        self.key(field, 2);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }

    pub(crate) fn str(self, field: u32, v: &str) -> Self {
        self.bytes(field, v.as_bytes())
    }

    pub(crate) fn msg(self, field: u32, m: &Msg) -> Self {
        self.bytes(field, &m.0)
    }

    pub(crate) fn packed_floats(self, field: u32, vs: &[f32]) -> Self {
        let b: Vec<u8> = vs.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.bytes(field, &b)
    }

    pub(crate) fn packed_ints(self, field: u32, vs: &[i64]) -> Self {
        let mut inner = Msg::default();
        for &v in vs {
            inner.varint(v as u64);
        }
        self.bytes(field, &inner.0)
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// `TensorProto.DataType`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DataType {
    Float = 1,
    Int64 = 7,
    Double = 11,
}

/// An attribute value.
#[derive(Debug, Clone)]
pub(crate) enum Attr {
    Int(i64),
    Str(String),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Strs(Vec<String>),
}

/// `AttributeProto`: name=1, i=3, s=4, floats=7, ints=8, strings=9, type=20.
pub(crate) fn attribute(name: &str, value: &Attr) -> Msg {
    let m = Msg::default().str(1, name);
    match value {
        Attr::Int(i) => m.int(3, *i).int(20, 2),
        Attr::Str(s) => m.str(4, s).int(20, 3),
        Attr::Floats(fs) => m.packed_floats(7, fs).int(20, 6),
        Attr::Ints(is) => m.packed_ints(8, is).int(20, 7),
        Attr::Strs(ss) => ss.iter().fold(m, |m, s| m.str(9, s)).int(20, 8),
    }
}

/// `NodeProto`: input=1, output=2, name=3, op_type=4, attribute=5, domain=7.
pub(crate) fn node(
    op: &str,
    domain: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: &[(&str, Attr)],
) -> Msg {
    let mut m = Msg::default();
    for i in inputs {
        m = m.str(1, i);
    }
    for o in outputs {
        m = m.str(2, o);
    }
    m = m.str(3, name).str(4, op);
    for (k, v) in attrs {
        m = m.msg(5, &attribute(k, v));
    }
    if !domain.is_empty() {
        m = m.str(7, domain);
    }
    m
}

/// `TensorProto`: dims=1, data_type=2, float_data=4, int64_data=7, name=8.
/// A double tensor (`double_data`=10).
pub(crate) fn tensor_f64(name: &str, dims: &[i64], data: &[f64]) -> Msg {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    Msg::default()
        .packed_ints(1, dims)
        .int(2, DataType::Double as i64)
        .bytes(10, &bytes)
        .str(8, name)
}

pub(crate) fn tensor_i64(name: &str, dims: &[i64], data: &[i64]) -> Msg {
    Msg::default()
        .packed_ints(1, dims)
        .int(2, DataType::Int64 as i64)
        .packed_ints(7, data)
        .str(8, name)
}

/// A dimension: a fixed size or a named symbolic one.
#[derive(Debug, Clone)]
pub(crate) enum Dim {
    Fixed(i64),
    Named(&'static str),
}

/// `ValueInfoProto` name=1, type=2 → `TypeProto.tensor_type`=1 → elem_type=1,
/// shape=2 → `TensorShapeProto.dim`=1 → dim_value=1 | dim_param=2.
pub(crate) fn value_info(name: &str, elem: DataType, dims: &[Dim]) -> Msg {
    let mut shape = Msg::default();
    for d in dims {
        let dm = match d {
            Dim::Fixed(v) => Msg::default().int(1, *v),
            Dim::Named(p) => Msg::default().str(2, p),
        };
        shape = shape.msg(1, &dm);
    }
    let tensor = Msg::default().int(1, elem as i64).msg(2, &shape);
    let ty = Msg::default().msg(1, &tensor);
    Msg::default().str(1, name).msg(2, &ty)
}
