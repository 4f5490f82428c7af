//! A minimal protocol-buffers writer and reader, shared by the crates that
//! handle protobuf formats by hand (ONNX models, TensorBoard events): fields
//! are written and read with their schema numbers and wire types. No `protoc`,
//! no generated code. The reader borrows from its input and never panics on
//! hostile bytes: truncation, overlong varints and unknown wire types are
//! [`ProtoError`]s.

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

/// Why bytes are not a well-formed protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The message ends inside a field.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// A varint longer than ten bytes.
    #[error("malformed varint at byte {0}")]
    Varint(usize),
    /// A wire type protobuf does not define (or the deprecated groups).
    #[error("unsupported wire type {wire} at byte {at}")]
    WireType {
        /// The wire type found.
        wire: u8,
        /// Offset of the field key.
        at: usize,
    },
    /// Field number 0, which protobuf forbids.
    #[error("field number 0 at byte {0}")]
    FieldZero(usize),
    /// A field with a different wire type than its schema says.
    #[error("field {field}: expected {expected}")]
    WrongType {
        /// Field number.
        field: u32,
        /// What the schema wants.
        expected: &'static str,
    },
    /// A packed array whose byte length is not a multiple of its element size.
    #[error("field {0}: packed data of a length that is not a multiple of its element")]
    PackedLength(u32),
    /// A string field that is not UTF-8.
    #[error("field {0}: string is not UTF-8")]
    Utf8(u32),
}

/// A field's value as it sits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireValue<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1 (`double`, `fixed64`).
    Fixed64(u64),
    /// Wire type 2 (strings, bytes, messages, packed arrays).
    Bytes(&'a [u8]),
    /// Wire type 5 (`float`, `fixed32`).
    Fixed32(u32),
}

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// Field number.
    pub number: u32,
    /// Its value.
    pub value: WireValue<'a>,
    /// The field's bytes, key included, as they appear in the message (to
    /// copy a field through unchanged).
    pub raw: &'a [u8],
}

impl<'a> Field<'a> {
    /// As a varint (`int32`, `int64`, `bool`, enums).
    ///
    /// # Errors
    /// [`ProtoError::WrongType`].
    pub fn as_i64(&self) -> Result<i64, ProtoError> {
        match self.value {
            WireValue::Varint(v) => Ok(v as i64),
            _ => Err(self.wrong("a varint")),
        }
    }

    /// As a length-delimited value (bytes, embedded message).
    ///
    /// # Errors
    /// [`ProtoError::WrongType`].
    pub fn as_bytes(&self) -> Result<&'a [u8], ProtoError> {
        match self.value {
            WireValue::Bytes(b) => Ok(b),
            _ => Err(self.wrong("length-delimited bytes")),
        }
    }

    /// As a UTF-8 string.
    ///
    /// # Errors
    /// [`ProtoError::WrongType`], [`ProtoError::Utf8`].
    pub fn as_str(&self) -> Result<&'a str, ProtoError> {
        std::str::from_utf8(self.as_bytes()?).map_err(|_| ProtoError::Utf8(self.number))
    }

    /// As a `float`.
    ///
    /// # Errors
    /// [`ProtoError::WrongType`].
    pub fn as_f32(&self) -> Result<f32, ProtoError> {
        match self.value {
            WireValue::Fixed32(v) => Ok(f32::from_bits(v)),
            _ => Err(self.wrong("a float")),
        }
    }

    /// As a `double`.
    ///
    /// # Errors
    /// [`ProtoError::WrongType`].
    pub fn as_f64(&self) -> Result<f64, ProtoError> {
        match self.value {
            WireValue::Fixed64(v) => Ok(f64::from_bits(v)),
            _ => Err(self.wrong("a double")),
        }
    }

    /// Append a repeated varint field's values, packed or not.
    ///
    /// # Errors
    /// [`ProtoError`] on malformed packed data.
    pub fn extend_i64(&self, out: &mut Vec<i64>) -> Result<(), ProtoError> {
        match self.value {
            WireValue::Varint(v) => out.push(v as i64),
            WireValue::Bytes(b) => {
                let mut pos = 0;
                while pos < b.len() {
                    out.push(read_varint(b, &mut pos)? as i64);
                }
            }
            _ => return Err(self.wrong("varints")),
        }
        Ok(())
    }

    /// Append a repeated `float` field's values, packed or not.
    ///
    /// # Errors
    /// [`ProtoError`] on malformed packed data.
    pub fn extend_f32(&self, out: &mut Vec<f32>) -> Result<(), ProtoError> {
        match self.value {
            WireValue::Fixed32(v) => out.push(f32::from_bits(v)),
            WireValue::Bytes(b) => {
                if b.len() % 4 != 0 {
                    return Err(ProtoError::PackedLength(self.number));
                }
                out.extend(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
            }
            _ => return Err(self.wrong("floats")),
        }
        Ok(())
    }

    /// Append a repeated `double` field's values, packed or not.
    ///
    /// # Errors
    /// [`ProtoError`] on malformed packed data.
    pub fn extend_f64(&self, out: &mut Vec<f64>) -> Result<(), ProtoError> {
        match self.value {
            WireValue::Fixed64(v) => out.push(f64::from_bits(v)),
            WireValue::Bytes(b) => {
                if b.len() % 8 != 0 {
                    return Err(ProtoError::PackedLength(self.number));
                }
                out.extend(b.chunks_exact(8).map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    f64::from_le_bytes(a)
                }));
            }
            _ => return Err(self.wrong("doubles")),
        }
        Ok(())
    }

    fn wrong(&self, expected: &'static str) -> ProtoError {
        ProtoError::WrongType {
            field: self.number,
            expected,
        }
    }
}

fn read_varint(b: &[u8], pos: &mut usize) -> Result<u64, ProtoError> {
    let start = *pos;
    let mut v = 0u64;
    for i in 0..10 {
        let Some(&byte) = b.get(*pos) else {
            return Err(ProtoError::Truncated(*pos));
        };
        *pos += 1;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(ProtoError::Varint(start))
}

/// The fields of one message, in order (iterate it; each item is a field or
/// the error that stops the message).
#[derive(Debug, Clone)]
pub struct ProtoReader<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> ProtoReader<'a> {
    /// Read the message in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }

    fn field(&mut self) -> Result<Field<'a>, ProtoError> {
        let start = self.pos;
        let key = read_varint(self.buf, &mut self.pos)?;
        let number = u32::try_from(key >> 3).map_err(|_| ProtoError::Varint(start))?;
        if number == 0 {
            return Err(ProtoError::FieldZero(start));
        }
        let take = |pos: &mut usize, n: usize, buf: &'a [u8]| -> Result<&'a [u8], ProtoError> {
            let end = pos
                .checked_add(n)
                .filter(|&e| e <= buf.len())
                .ok_or(ProtoError::Truncated(*pos))?;
            let out = &buf[*pos..end];
            *pos = end;
            Ok(out)
        };
        let value = match (key & 7) as u8 {
            0 => WireValue::Varint(read_varint(self.buf, &mut self.pos)?),
            1 => {
                let b = take(&mut self.pos, 8, self.buf)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                WireValue::Fixed64(u64::from_le_bytes(a))
            }
            2 => {
                let len = read_varint(self.buf, &mut self.pos)?;
                let len = usize::try_from(len).map_err(|_| ProtoError::Truncated(self.pos))?;
                WireValue::Bytes(take(&mut self.pos, len, self.buf)?)
            }
            5 => {
                let b = take(&mut self.pos, 4, self.buf)?;
                WireValue::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            wire => return Err(ProtoError::WireType { wire, at: start }),
        };
        Ok(Field {
            number,
            value,
            raw: &self.buf[start..self.pos],
        })
    }
}

impl<'a> Iterator for ProtoReader<'a> {
    type Item = Result<Field<'a>, ProtoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let f = self.field();
        self.failed = f.is_err();
        Some(f)
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

    #[test]
    fn reads_what_it_writes() {
        let inner = ProtoWriter::new().str(1, "x");
        let msg = ProtoWriter::new()
            .int(1, -5)
            .double(2, 2.5)
            .float(3, 1.5)
            .msg(4, &inner)
            .packed_ints(5, &[3, 270, -1])
            .packed_floats(6, &[0.5, -2.0])
            .packed_doubles(7, &[1e300])
            .into_bytes();
        let fields: Vec<Field<'_>> = ProtoReader::new(&msg).collect::<Result<_, _>>().unwrap();
        assert_eq!(fields.len(), 7);
        assert_eq!(fields[0].as_i64().unwrap(), -5);
        assert_eq!(fields[1].as_f64().unwrap(), 2.5);
        assert_eq!(fields[2].as_f32().unwrap(), 1.5);
        let sub: Vec<_> = ProtoReader::new(fields[3].as_bytes().unwrap())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(sub[0].as_str().unwrap(), "x");
        let mut ints = Vec::new();
        fields[4].extend_i64(&mut ints).unwrap();
        assert_eq!(ints, [3, 270, -1]);
        let mut fs = Vec::new();
        fields[5].extend_f32(&mut fs).unwrap();
        assert_eq!(fs, [0.5, -2.0]);
        let mut ds = Vec::new();
        fields[6].extend_f64(&mut ds).unwrap();
        assert_eq!(ds, [1e300]);
        // Raw bytes of all fields concatenate back to the message.
        assert_eq!(
            fields.iter().flat_map(|f| f.raw.iter().copied()).collect::<Vec<_>>(),
            msg
        );
        assert!(fields[0].as_str().is_err());
    }

    #[test]
    fn hostile_bytes_are_errors() {
        let msg = ProtoWriter::new().str(1, "hello").into_bytes();
        for cut in 1..msg.len() {
            let r: Result<Vec<_>, _> = ProtoReader::new(&msg[..cut]).collect();
            assert!(matches!(r, Err(ProtoError::Truncated(_))), "cut at {cut}");
        }
        let overlong = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(matches!(
            ProtoReader::new(&overlong).next(),
            Some(Err(ProtoError::Varint(1)))
        ));
        assert!(matches!(
            ProtoReader::new(&[0x0b]).next(),
            Some(Err(ProtoError::WireType { wire: 3, .. }))
        ));
        assert!(matches!(
            ProtoReader::new(&[0x00]).next(),
            Some(Err(ProtoError::FieldZero(0)))
        ));
        // A length far past the end.
        assert!(matches!(
            ProtoReader::new(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).next(),
            Some(Err(ProtoError::Truncated(_)))
        ));
        let packed = ProtoWriter::new().bytes(6, &[0, 0, 0]).into_bytes();
        let f = ProtoReader::new(&packed).next().unwrap().unwrap();
        assert!(f.extend_f32(&mut Vec::new()).is_err());
        let mut ints = Vec::new();
        let bad = ProtoWriter::new().bytes(5, &[0x80]).into_bytes();
        let f = ProtoReader::new(&bad).next().unwrap().unwrap();
        assert!(f.extend_i64(&mut ints).is_err());
    }
}
