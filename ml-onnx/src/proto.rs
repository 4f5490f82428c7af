//! Just enough of the ONNX protobuf schema (`onnx.proto`, IR version 8) to
//! write models, with ml-core's protobuf writer: no `protoc`, no generated code.

pub(crate) use ml_core::protobuf::ProtoWriter as Msg;

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
    let m = Msg::new().str(1, name);
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
    let mut m = Msg::new();
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
    Msg::new()
        .packed_ints(1, dims)
        .int(2, DataType::Double as i64)
        .bytes(10, &bytes)
        .str(8, name)
}

pub(crate) fn tensor_f32(name: &str, dims: &[i64], data: &[f32]) -> Msg {
    Msg::new()
        .packed_ints(1, dims)
        .int(2, DataType::Float as i64)
        .packed_floats(4, data)
        .str(8, name)
}

pub(crate) fn tensor_i64(name: &str, dims: &[i64], data: &[i64]) -> Msg {
    Msg::new()
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
    let mut shape = Msg::new();
    for d in dims {
        let dm = match d {
            Dim::Fixed(v) => Msg::new().int(1, *v),
            Dim::Named(p) => Msg::new().str(2, p),
        };
        shape = shape.msg(1, &dm);
    }
    let tensor = Msg::new().int(1, elem as i64).msg(2, &shape);
    let ty = Msg::new().msg(1, &tensor);
    Msg::new().str(1, name).msg(2, &ty)
}
