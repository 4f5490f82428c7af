//! The wire format of keys, requests and responses.
//!
//! ```text
//! magic  "MLHE"                      4 bytes
//! format version (u16, LE)           2
//! kind (1 request, 2 response,       1
//!       3 client key, 4 public key,
//!       5 evaluation key)
//! reserved, 0                        1
//! parameter-set id (u16, LE)         2
//! key fingerprint                   16
//! model fingerprint (0 for keys)    16
//! body length (u64, LE)              8
//! body                               body length
//! SHA-256 of all the above, first   16
//! ```
//!
//! Readers check the size limit before anything else, then the magic,
//! version, kind, length and digest, so a truncated, oversized, bit-flipped
//! or foreign buffer is an error before any body is parsed. The digest
//! detects corruption, not tampering: ciphertexts are malleable by design.

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The magic bytes.
pub const MAGIC: &[u8; 4] = b"MLHE";
/// The format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u16 = 1;
const HEADER: usize = 4 + 2 + 1 + 1 + 2 + 16 + 16 + 8;
const TRAILER: usize = 16;

/// What a message holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Encrypted features (client to server).
    Request = 1,
    /// Encrypted scores (server to client).
    Response = 2,
    /// A client key (never sent).
    ClientKey = 3,
    /// A compact public key (for circuit privacy; not secret).
    PublicKey = 4,
    /// Label mode's evaluation key (not secret).
    EvaluationKey = 5,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Response => "response",
            Kind::ClientKey => "client key",
            Kind::PublicKey => "public key",
            Kind::EvaluationKey => "evaluation key",
        }
    }
}

/// A decoded message whose body borrows the input.
#[derive(Debug)]
pub struct Message<'a> {
    /// Parameter-set id.
    pub params_id: u16,
    /// Fingerprint of the client key.
    pub key_fingerprint: [u8; 16],
    /// Fingerprint of the compiled model.
    pub model_fingerprint: [u8; 16],
    /// The body.
    pub body: &'a [u8],
}

/// Frame a body.
pub fn encode(kind: Kind, params_id: u16, key_fp: [u8; 16], model_fp: [u8; 16], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len() + TRAILER);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(kind as u8);
    out.push(0);
    out.extend_from_slice(&params_id.to_le_bytes());
    out.extend_from_slice(&key_fp);
    out.extend_from_slice(&model_fp);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest[..TRAILER]);
    out
}

/// Check and unframe a message of `kind` at most `limit` bytes long.
///
/// # Errors
/// [`Error::Format`] (size, magic, kind, length, digest) and
/// [`Error::Version`].
pub fn decode<'a>(what: &'static str, kind: Kind, bytes: &'a [u8], limit: usize) -> Result<Message<'a>> {
    if bytes.len() > limit {
        return Err(Error::format(
            what,
            format!("{} bytes exceed the limit of {limit}", bytes.len()),
        ));
    }
    if bytes.len() < HEADER + TRAILER {
        return Err(Error::format(
            what,
            format!(
                "truncated: {} bytes, a header alone is {}",
                bytes.len(),
                HEADER + TRAILER
            ),
        ));
    }
    if &bytes[..4] != MAGIC {
        return Err(Error::format(what, "not an ml-he message (bad magic)"));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version == 0 || version > FORMAT_VERSION {
        return Err(Error::Version {
            what,
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if bytes[6] != kind as u8 {
        let found = [
            Kind::Request,
            Kind::Response,
            Kind::ClientKey,
            Kind::PublicKey,
            Kind::EvaluationKey,
        ]
        .into_iter()
        .find(|k| *k as u8 == bytes[6])
        .map_or_else(|| format!("kind {}", bytes[6]), |k| format!("a {}", k.name()));
        return Err(Error::format(
            what,
            format!("expected a {}, found {found}", kind.name()),
        ));
    }
    let len = u64::from_le_bytes(bytes[HEADER - 8..HEADER].try_into().unwrap_or_default());
    let expected = (bytes.len() - HEADER - TRAILER) as u64;
    if len != expected {
        return Err(Error::format(
            what,
            format!("body of {len} bytes announced, {expected} present (truncated or padded)"),
        ));
    }
    let end = bytes.len() - TRAILER;
    let digest = Sha256::digest(&bytes[..end]);
    if digest[..TRAILER] != bytes[end..] {
        return Err(Error::format(what, "digest mismatch (corrupted)"));
    }
    let mut key_fingerprint = [0u8; 16];
    key_fingerprint.copy_from_slice(&bytes[10..26]);
    let mut model_fingerprint = [0u8; 16];
    model_fingerprint.copy_from_slice(&bytes[26..42]);
    Ok(Message {
        params_id: u16::from_le_bytes([bytes[8], bytes[9]]),
        key_fingerprint,
        model_fingerprint,
        body: &bytes[HEADER..end],
    })
}

/// A little-endian reader over a body that fails, never panics, at its end.
pub(crate) struct Reader<'a> {
    what: &'static str,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Self { what, bytes }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(Error::format(self.what, "body ends early"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default()))
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn u64s(&mut self, n: usize, out: &mut Vec<u64>) -> Result<()> {
        let bytes = self.take(
            n.checked_mul(8)
                .ok_or_else(|| Error::format(self.what, "count overflows"))?,
        )?;
        out.extend(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())),
        );
        Ok(())
    }

    pub(crate) fn u128s(&mut self, n: usize, out: &mut Vec<u128>) -> Result<()> {
        let bytes = self.take(
            n.checked_mul(16)
                .ok_or_else(|| Error::format(self.what, "count overflows"))?,
        )?;
        out.extend(
            bytes
                .chunks_exact(16)
                .map(|c| u128::from_le_bytes(c.try_into().unwrap_or_default())),
        );
        Ok(())
    }
}
