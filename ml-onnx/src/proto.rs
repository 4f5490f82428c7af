//! Builders for the ONNX messages the exporter and the graph rewrites write
//! (ml-proto's prost types), with the attribute kinds and element types this
//! crate uses.

use ml_proto::onnx::{
    AttributeProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto, tensor_proto,
    tensor_shape_proto, type_proto,
};

/// `TensorProto.DataType`, for the element types written here.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DataType {
    Float = tensor_proto::DataType::Float as isize,
    Int64 = tensor_proto::DataType::Int64 as isize,
    Double = tensor_proto::DataType::Double as isize,
    Uint8 = tensor_proto::DataType::Uint8 as isize,
}

/// An attribute value.
#[derive(Debug, Clone)]
pub(crate) enum Attr {
    Int(i64),
    Float(f32),
    Str(String),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Strs(Vec<String>),
    Tensor(Box<TensorProto>),
}

/// An `AttributeProto` with its type set, as ONNX requires.
pub(crate) fn attribute(name: &str, value: &Attr) -> AttributeProto {
    use attribute_proto::AttributeType as T;
    let mut a = AttributeProto {
        name: Some(name.to_string()),
        ..Default::default()
    };
    let kind = match value {
        Attr::Int(i) => {
            a.i = Some(*i);
            T::Int
        }
        Attr::Float(f) => {
            a.f = Some(*f);
            T::Float
        }
        Attr::Str(s) => {
            a.s = Some(s.as_bytes().to_vec());
            T::String
        }
        Attr::Floats(fs) => {
            a.floats = fs.clone();
            T::Floats
        }
        Attr::Ints(is) => {
            a.ints = is.clone();
            T::Ints
        }
        Attr::Strs(ss) => {
            a.strings = ss.iter().map(|s| s.as_bytes().to_vec()).collect();
            T::Strings
        }
        Attr::Tensor(t) => {
            a.t = Some((**t).clone());
            T::Tensor
        }
    };
    a.set_type(kind);
    a
}

/// A `NodeProto` (the default domain is left unset).
pub(crate) fn node(
    op: &str,
    domain: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: &[(&str, Attr)],
) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: Some(name.to_string()),
        op_type: Some(op.to_string()),
        attribute: attrs.iter().map(|(k, v)| attribute(k, v)).collect(),
        domain: (!domain.is_empty()).then(|| domain.to_string()),
        ..Default::default()
    }
}

fn tensor(name: &str, dims: &[i64], data_type: DataType) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: Some(data_type as i32),
        name: Some(name.to_string()),
        ..Default::default()
    }
}

/// A double tensor.
pub(crate) fn tensor_f64(name: &str, dims: &[i64], data: &[f64]) -> TensorProto {
    TensorProto {
        double_data: data.to_vec(),
        ..tensor(name, dims, DataType::Double)
    }
}

/// A float tensor.
pub(crate) fn tensor_f32(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        float_data: data.to_vec(),
        ..tensor(name, dims, DataType::Float)
    }
}

/// A uint8 tensor (its bytes as they are).
pub(crate) fn tensor_u8(name: &str, dims: &[i64], data: &[u8]) -> TensorProto {
    TensorProto {
        raw_data: Some(data.to_vec()),
        ..tensor(name, dims, DataType::Uint8)
    }
}

/// An int64 tensor.
pub(crate) fn tensor_i64(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        int64_data: data.to_vec(),
        ..tensor(name, dims, DataType::Int64)
    }
}

/// A dimension: a fixed size or a named symbolic one.
#[derive(Debug, Clone)]
pub(crate) enum Dim {
    Fixed(i64),
    Named(&'static str),
}

/// A tensor-typed `ValueInfoProto` of this element type and shape.
pub(crate) fn value_info(name: &str, elem: DataType, dims: &[Dim]) -> ValueInfoProto {
    use tensor_shape_proto::{Dimension, dimension::Value};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(v) => Value::DimValue(*v),
                Dim::Named(p) => Value::DimParam(p.to_string()),
            }),
            ..Default::default()
        })
        .collect();
    let tensor = type_proto::Tensor {
        elem_type: Some(elem as i32),
        shape: Some(TensorShapeProto { dim }),
    };
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor)),
            ..Default::default()
        }),
        ..Default::default()
    }
}
