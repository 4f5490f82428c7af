//! Checkpoints: a network's architecture, weights, preprocessing, optimizer
//! state and history in a versioned container of ours.
//!
//! burn changed its weights format between releases; a checkpoint written
//! here depends on none of burn's types. The file is ml-core's sealed
//! container (`MLSDK neural-checkpoint <version> <length> <sha256>`) around a
//! JSON header (everything but the numbers) and the weights as
//! little-endian `f32`, so a truncated, altered or newer file is refused by
//! name before anything is parsed.

use std::path::{Path, PathBuf};

use ml_core::{Error, Result, io};

use crate::train::{NeuralNetwork, TrainState};

/// The file name inside a model directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.mlnn";
/// The format version this build writes and the newest it reads.
pub const CHECKPOINT_VERSION: u32 = 1;
/// Files larger than this are refused before parsing.
pub const MAX_CHECKPOINT_BYTES: u64 = 4 << 30;
const KIND: &str = "neural-checkpoint";

fn corrupt(reason: impl ToString) -> Error {
    Error::Corrupt {
        what: "checkpoint",
        reason: reason.to_string(),
    }
}

/// The stored bytes of a training state.
///
/// # Errors
/// Serialization failure.
pub fn to_bytes(state: &TrainState) -> Result<Vec<u8>> {
    let header = serde_json::to_vec(state).map_err(corrupt)?;
    let mut payload = Vec::with_capacity(header.len() + 8 + 4 * state.network.n_trainable() * 4);
    payload.extend_from_slice(&(header.len() as u64).to_le_bytes());
    payload.extend_from_slice(&header);
    let mut put = |v: &[f32]| {
        payload.extend_from_slice(&(v.len() as u64).to_le_bytes());
        v.iter().for_each(|x| payload.extend_from_slice(&x.to_le_bytes()));
    };
    for p in &state.network.params {
        put(&p.value);
    }
    for slots in &state.optimizer.slots {
        put(&[slots.len() as f32]);
        slots.iter().for_each(|s| put(s));
    }
    if let Some(best) = &state.best_weights {
        best.iter().for_each(|w| put(w));
    }
    Ok(io::seal(KIND, CHECKPOINT_VERSION, &payload))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| corrupt("ends early"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn vector(&mut self, expected: Option<usize>) -> Result<Vec<f32>> {
        let n = usize::try_from(self.u64()?).map_err(corrupt)?;
        if expected.is_some_and(|e| e != n) || n > (self.bytes.len() - self.at) / 4 {
            return Err(corrupt("a weight vector of the wrong length"));
        }
        let raw = self.take(n * 4)?;
        let v: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        if v.iter().any(|x| !x.is_finite()) {
            return Err(corrupt("non-finite weight"));
        }
        Ok(v)
    }
}

/// Parse stored bytes, checking the container, the header and every
/// weight's length against the architecture.
///
/// # Errors
/// [`Error::Corrupt`] for a foreign, truncated or altered file;
/// [`Error::UnsupportedVersion`] for a newer one.
pub fn from_bytes(bytes: &[u8]) -> Result<TrainState> {
    let (_, payload) = io::unseal("checkpoint", KIND, CHECKPOINT_VERSION, bytes)?;
    let mut r = Reader { bytes: payload, at: 0 };
    let len = usize::try_from(r.u64()?).map_err(corrupt)?;
    let mut state: TrainState = serde_json::from_slice(r.take(len)?).map_err(corrupt)?;
    // The architecture first: its shapes bound every length read below.
    state.network.shapes().map_err(corrupt)?;
    let sizes = state
        .network
        .params
        .iter()
        .map(|p| crate::network::element_count(&p.shape).ok_or_else(|| corrupt("a parameter shape overflows")))
        .collect::<Result<Vec<usize>>>()?;
    for (p, &n) in state.network.params.iter_mut().zip(&sizes) {
        p.value = r.vector(Some(n))?;
    }
    let mut slots = Vec::new();
    for &n in &sizes {
        let count = r.vector(Some(1))?[0];
        if !(0.0..=2.0).contains(&count) || count.fract() != 0.0 {
            return Err(corrupt("bad optimizer state"));
        }
        let mut s = Vec::new();
        for _ in 0..count as usize {
            s.push(r.vector(Some(n))?);
        }
        slots.push(s);
        if r.at == payload.len() && slots.len() < sizes.len() {
            return Err(corrupt("ends early"));
        }
    }
    state.optimizer.slots = slots;
    if r.at < payload.len() {
        let mut best = Vec::new();
        for &n in &sizes {
            best.push(r.vector(Some(n))?);
        }
        state.best_weights = Some(best);
    }
    if r.at != payload.len() {
        return Err(corrupt("trailing bytes"));
    }
    state.network.validate()?;
    Ok(state)
}

/// Write a training state to `dir/checkpoint.mlnn` (the directory is created), atomically.
///
/// # Errors
/// I/O failures.
pub fn save(state: &TrainState, dir: &Path) -> Result<PathBuf> {
    io::save_in_dir(dir, CHECKPOINT_FILE, &to_bytes(state)?)
}

/// Read a training state from a model directory or a checkpoint file.
///
/// # Errors
/// A missing, oversized, corrupt, truncated or newer file.
pub fn load(path: &Path) -> Result<TrainState> {
    from_bytes(&io::read_in("checkpoint", path, CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES)?)
}

/// A fitted network from a checkpoint (no privacy report: a checkpoint's
/// private run is reported when it is trained).
///
/// # Errors
/// As [`load`].
pub fn load_model(path: &Path) -> Result<NeuralNetwork> {
    NeuralNetwork::from_state(load(path)?, None)
}
