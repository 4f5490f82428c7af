//! A minimal protocol-buffers writer, shared by the crates that write
//! protobuf formats by hand (ONNX models, TensorBoard events): fields are
//! written with their schema numbers and wire types, which is all a reader
//! needs. No `protoc`, no generated code.

/// A message being written; each method appends one field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProtoWriter(Vec<u8>);

impl ProtoWriter {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

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

    /// A varint field (`int32`, `int64`, `bool`, enums; negative numbers as
    /// ten-byte two's complement, as protobuf's `int64`).
    pub fn int(mut self, field: u32, v: i64) -> Self {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }

    /// A `double` field.
    pub fn double(mut self, field: u32, v: f64) -> Self {
        self.key(field, 1);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A `float` field.
    pub fn float(mut self, field: u32, v: f32) -> Self {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A `bytes` field.
    pub fn bytes(mut self, field: u32, v: &[u8]) -> Self {
        self.key(field, 2);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }

    /// A `string` field.
    pub fn str(self, field: u32, v: &str) -> Self {
        self.bytes(field, v.as_bytes())
    }

    /// An embedded message.
    pub fn msg(self, field: u32, m: &ProtoWriter) -> Self {
        self.bytes(field, &m.0)
    }

    /// A packed repeated `float` field.
    pub fn packed_floats(self, field: u32, vs: &[f32]) -> Self {
        let b: Vec<u8> = vs.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.bytes(field, &b)
    }

    /// A packed repeated `double` field.
    pub fn packed_doubles(self, field: u32, vs: &[f64]) -> Self {
        let b: Vec<u8> = vs.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.bytes(field, &b)
    }

    /// A packed repeated varint field.
    pub fn packed_ints(self, field: u32, vs: &[i64]) -> Self {
        let mut inner = ProtoWriter::new();
        for &v in vs {
            inner.varint(v as u64);
        }
        self.bytes(field, &inner.0)
    }

    /// The encoded message.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The encoded message so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_protobuf_does() {
        // Field 1 varint 150: 08 96 01 (the protobuf documentation's example).
        assert_eq!(ProtoWriter::new().int(1, 150).into_bytes(), [0x08, 0x96, 0x01]);
        // Field 2 string "testing": 12 07 74 65 73 74 69 6e 67.
        assert_eq!(ProtoWriter::new().str(2, "testing").into_bytes(), b"\x12\x07testing");
        assert_eq!(ProtoWriter::new().int(1, -1).into_bytes().len(), 11);
        assert_eq!(
            ProtoWriter::new().packed_ints(4, &[3, 270]).into_bytes(),
            [0x22, 0x03, 0x03, 0x8e, 0x02]
        );
    }
}
