//! Encryption, encrypted scoring and decryption.

use ml_core::Predictions;
use ml_core::ndarray::{Array2, ArrayView2};
use tfhe::core_crypto::commons::math::random::Seed;
use tfhe::core_crypto::prelude::*;

use crate::keys::{ClientKey, KeyFingerprint};
use crate::model::HeModel;
use crate::params::Parameters;
use crate::privacy::CircuitPrivacy;
use crate::wire::{self, Kind, Reader};
use crate::{Error, Result};

/// Default read limit for requests and responses: 1 GiB.
pub const DEFAULT_MESSAGE_LIMIT: usize = 1 << 30;

/// Encrypted, quantized features: per row one seeded LWE ciphertext list
/// (a 128-bit seed from which the server regenerates the masks, and one
/// 64-bit body per feature).
#[derive(Debug, Clone, PartialEq)]
pub struct EncryptedRequest {
    params_id: u16,
    key: [u8; 16],
    model: [u8; 16],
    plaintext_bits: u32,
    n_features: usize,
    seeds: Vec<u128>,
    bodies: Vec<u64>,
}

/// Encrypted accumulators: per row and output one full LWE ciphertext.
#[derive(Debug, Clone, PartialEq)]
pub struct EncryptedScores {
    params_id: u16,
    key: [u8; 16],
    model: [u8; 16],
    plaintext_bits: u32,
    n_outputs: usize,
    lwe_size: usize,
    data: Vec<u64>,
}

impl EncryptedRequest {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.seeds.len()
    }

    /// Fingerprint of the key the rows are encrypted under.
    pub fn key_fingerprint(&self) -> KeyFingerprint {
        KeyFingerprint(self.key)
    }

    /// The 64-bit bodies, `rows × features` (exposed so that tests and
    /// auditors can tamper with them: ciphertexts are malleable).
    pub fn bodies_mut(&mut self) -> &mut [u64] {
        &mut self.bodies
    }

    /// The wire format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(9 + self.seeds.len() * 16 + self.bodies.len() * 8);
        body.push(self.plaintext_bits as u8);
        body.extend_from_slice(&(self.seeds.len() as u32).to_le_bytes());
        body.extend_from_slice(&(self.n_features as u32).to_le_bytes());
        for (seed, row) in self.seeds.iter().zip(self.bodies.chunks_exact(self.n_features.max(1))) {
            body.extend_from_slice(&seed.to_le_bytes());
            for v in row {
                body.extend_from_slice(&v.to_le_bytes());
            }
        }
        wire::encode(Kind::Request, self.params_id, self.key, self.model, &body)
    }

    /// Read a request of at most `limit` bytes.
    ///
    /// # Errors
    /// [`Error::Format`], [`Error::Version`], [`Error::Parameters`].
    pub fn from_bytes(bytes: &[u8], limit: usize) -> Result<Self> {
        const W: &str = "request";
        let msg = wire::decode(W, Kind::Request, bytes, limit)?;
        let params = Parameters::require(W, msg.params_id)?;
        let mut r = Reader::new(W, msg.body);
        let plaintext_bits = u32::from(r.u8()?);
        let rows = r.u32()? as usize;
        let n_features = r.u32()? as usize;
        if n_features == 0 {
            return Err(Error::format(W, "no features"));
        }
        check_plaintext_bits(W, params, plaintext_bits)?;
        let per_row = 16 + 8 * n_features as u128;
        if per_row * rows as u128 != r.remaining() as u128 {
            return Err(Error::format(
                W,
                format!(
                    "{rows} rows of {n_features} features announced, {} body bytes present",
                    r.remaining()
                ),
            ));
        }
        let mut seeds = Vec::with_capacity(rows);
        let mut bodies = Vec::with_capacity(rows * n_features);
        for _ in 0..rows {
            r.u128s(1, &mut seeds)?;
            r.u64s(n_features, &mut bodies)?;
        }
        Ok(Self {
            params_id: msg.params_id,
            key: msg.key_fingerprint,
            model: msg.model_fingerprint,
            plaintext_bits,
            n_features,
            seeds,
            bodies,
        })
    }
}

impl EncryptedScores {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.data.len() / (self.n_outputs * self.lwe_size).max(1)
    }

    /// The ciphertexts, `rows × outputs × (n + 1)` words.
    pub fn ciphertexts_mut(&mut self) -> &mut [u64] {
        &mut self.data
    }

    /// The ciphertexts, `rows × outputs × (n + 1)` words.
    pub fn ciphertexts(&self) -> &[u64] {
        &self.data
    }

    /// Number of outputs per row.
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Words per ciphertext.
    pub fn lwe_size(&self) -> usize {
        self.lwe_size
    }

    /// Bits of the plaintext space the values are encoded in.
    pub fn plaintext_bits(&self) -> u32 {
        self.plaintext_bits
    }

    /// Fingerprint of the client key.
    pub fn key_fingerprint(&self) -> KeyFingerprint {
        KeyFingerprint(self.key)
    }

    /// Fingerprint of the model.
    pub fn model_fingerprint(&self) -> [u8; 16] {
        self.model
    }

    /// The same header over other ciphertexts (one output a row) in another
    /// plaintext space.
    #[cfg_attr(not(feature = "label"), allow(dead_code))]
    pub(crate) fn with_data(&self, plaintext_bits: u32, data: Vec<u64>) -> Self {
        Self {
            plaintext_bits,
            n_outputs: 1,
            data,
            ..self.clone()
        }
    }

    /// The wire format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(13 + self.data.len() * 8);
        body.push(self.plaintext_bits as u8);
        body.extend_from_slice(&(self.n_rows() as u32).to_le_bytes());
        body.extend_from_slice(&(self.n_outputs as u32).to_le_bytes());
        body.extend_from_slice(&(self.lwe_size as u32).to_le_bytes());
        for v in &self.data {
            body.extend_from_slice(&v.to_le_bytes());
        }
        wire::encode(Kind::Response, self.params_id, self.key, self.model, &body)
    }

    /// Read a response of at most `limit` bytes.
    ///
    /// # Errors
    /// [`Error::Format`], [`Error::Version`], [`Error::Parameters`].
    pub fn from_bytes(bytes: &[u8], limit: usize) -> Result<Self> {
        const W: &str = "response";
        let msg = wire::decode(W, Kind::Response, bytes, limit)?;
        let params = Parameters::require(W, msg.params_id)?;
        let mut r = Reader::new(W, msg.body);
        let plaintext_bits = u32::from(r.u8()?);
        let rows = r.u32()? as usize;
        let n_outputs = r.u32()? as usize;
        let lwe_size = r.u32()? as usize;
        check_plaintext_bits(W, params, plaintext_bits)?;
        if lwe_size != params.lwe_size() || n_outputs == 0 {
            return Err(Error::format(
                W,
                format!("ciphertexts of {lwe_size} words, {n_outputs} outputs"),
            ));
        }
        if rows as u128 * n_outputs as u128 * lwe_size as u128 * 8 != r.remaining() as u128 {
            return Err(Error::format(
                W,
                format!(
                    "{rows} rows of {n_outputs} outputs announced, {} body bytes present",
                    r.remaining()
                ),
            ));
        }
        let mut data = Vec::with_capacity(rows * n_outputs * lwe_size);
        r.u64s(rows * n_outputs * lwe_size, &mut data)?;
        Ok(Self {
            params_id: msg.params_id,
            key: msg.key_fingerprint,
            model: msg.model_fingerprint,
            plaintext_bits,
            n_outputs,
            lwe_size,
            data,
        })
    }
}

fn check_plaintext_bits(what: &'static str, params: &Parameters, bits: u32) -> Result<()> {
    if !(2..params.modulus_log2).contains(&bits) {
        return Err(Error::format(what, format!("plaintext space of {bits} bits")));
    }
    Ok(())
}

/// Refuse a message made for another model than the one `expected` names.
fn check_model(what: &'static str, expected: [u8; 16], found: [u8; 16]) -> Result<()> {
    if found != expected {
        return Err(Error::ModelMismatch {
            what,
            found: ml_core::io::hex(&found),
            expected: ml_core::io::hex(&expected),
        });
    }
    Ok(())
}

/// Refuse values encoded in another plaintext space than the model's (a
/// model fingerprint fixes it, so this only fails for tampered headers).
fn check_plaintext_space(what: &'static str, model: &HeModel, bits: u32) -> Result<()> {
    if bits != model.budget.plaintext_bits {
        return Err(Error::format(
            what,
            format!(
                "values in a {bits}-bit plaintext space, the model's is {}",
                model.budget.plaintext_bits
            ),
        ));
    }
    Ok(())
}

/// `count` samples of TUniform(`bound_log2`) noise from TFHE-rs's CSPRNG,
/// seeded by `seeder`: the bodies of encryptions of zero under an all-zero
/// key of dimension one (body = noise), the way its public API hands out
/// noise samples.
fn tuniform_noise(count: usize, bound_log2: u32, seeder: &mut dyn Seeder) -> Vec<u64> {
    let zero_key = LweSecretKey::new_empty_key(0u64, LweDimension(1));
    let mut generator = EncryptionRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed(), seeder);
    let mut list = LweCiphertextList::new(
        0u64,
        LweSize(2),
        LweCiphertextCount(count.max(1)),
        CiphertextModulus::new_native(),
    );
    let zeros = PlaintextList::new(0u64, PlaintextCount(count.max(1)));
    encrypt_lwe_ciphertext_list(
        &zero_key,
        &mut list,
        &zeros,
        TUniform::<u64>::new(bound_log2),
        &mut generator,
    );
    list.iter().take(count).map(|ct| *ct.get_body().data).collect()
}

fn encode(m: i64, delta_log2: u32) -> u64 {
    (m as u64).wrapping_shl(delta_log2)
}

/// Round a phase to the nearest multiple of Δ and return the signed message.
fn decode(phase: u64, delta_log2: u32) -> i64 {
    let rounded = phase.wrapping_add(1u64 << (delta_log2 - 1));
    (rounded as i64) >> delta_log2
}

impl ClientKey {
    /// Quantize and encrypt rows (in the model's input columns).
    ///
    /// # Errors
    /// Input validation errors; [`Error::Parameters`] for a model compiled
    /// for other parameters.
    pub fn encrypt(&self, model: &HeModel, x: ArrayView2<'_, f64>) -> Result<EncryptedRequest> {
        let q = model.quantize(x)?;
        self.encrypt_quantized(model, q.view())
    }

    /// Encrypt already quantized features (`rows × model.n_features()`).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a matrix of the wrong width or values outside
    /// the plaintext space; [`Error::Parameters`].
    pub fn encrypt_quantized(&self, model: &HeModel, q: ArrayView2<'_, i64>) -> Result<EncryptedRequest> {
        if model.params_id != self.params().id {
            return Err(Error::Parameters {
                what: "model",
                found: model.params_id,
                expected: self.params().id,
            });
        }
        let n = model.n_features();
        if q.ncols() != n {
            return Err(Error::invalid(
                "features",
                format!("{} columns, the model encrypts {n}", q.ncols()),
            ));
        }
        let bits = model.budget.plaintext_bits;
        let half = 1i64 << (bits - 1);
        if let Some(v) = q.iter().find(|v| !(-half..half).contains(*v)) {
            return Err(Error::invalid(
                "features",
                format!("{v} is outside the {bits}-bit plaintext space"),
            ));
        }
        let delta_log2 = model.delta_log2();
        let params = self.params();
        // A seeded LWE list per row, in TFHE-rs's format: the masks are the
        // AES-CTR stream of a fresh seed (regenerated in bulk, see
        // `masks`), the noise TUniform samples from TFHE-rs's CSPRNG.
        let mut seeder = new_seeder();
        let noise = tuniform_noise(q.len(), params.noise_bound_log2, seeder.as_mut());
        let secret = self.secret().as_ref();
        let mut seeds = Vec::with_capacity(q.nrows());
        let mut bodies = Vec::with_capacity(q.nrows() * n);
        for (row, e) in q.outer_iter().zip(noise.chunks_exact(n)) {
            let seed = seeder.seed().0;
            crate::masks::for_each_mask(seed, n, params.lwe_dimension, |j, mask| {
                let dot = mask
                    .iter()
                    .zip(secret)
                    .fold(0u64, |acc, (&a, &s)| acc.wrapping_add(a.wrapping_mul(s)));
                bodies.push(dot.wrapping_add(encode(row[j], delta_log2)).wrapping_add(e[j]));
            })?;
            seeds.push(seed);
        }
        Ok(EncryptedRequest {
            params_id: params.id,
            key: self.fingerprint().0,
            model: model.fingerprint(),
            plaintext_bits: bits,
            n_features: n,
            seeds,
            bodies,
        })
    }

    /// The phases of a request's ciphertexts (`rows × features`: each
    /// encoded feature plus its noise), computed by TFHE-rs alone: its
    /// decompression of each row's seeded list and its decryption. For
    /// auditing a request, and the proof that requests are TFHE-rs's
    /// seeded ciphertexts.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] for a request under another key.
    pub fn request_phases(&self, request: &EncryptedRequest) -> Result<Array2<u64>> {
        self.fingerprint().check("request", request.key)?;
        let n = request.n_features;
        let size = LweSize(self.params().lwe_size());
        let mut out = Array2::zeros((request.n_rows(), n));
        for ((seed, bodies), mut row) in request
            .seeds
            .iter()
            .zip(request.bodies.chunks_exact(n))
            .zip(out.outer_iter_mut())
        {
            let seeded = SeededLweCiphertextList::from_container(
                bodies,
                size,
                Seed(*seed).into(),
                CiphertextModulus::new_native(),
            );
            let list = seeded.decompress_into_lwe_ciphertext_list();
            let mut plain = PlaintextList::new(0u64, PlaintextCount(n));
            decrypt_lwe_ciphertext_list(self.secret(), &list, &mut plain);
            for (o, p) in row.iter_mut().zip(plain.iter()) {
                *o = *p.0;
            }
        }
        Ok(out)
    }

    /// The raw phases `b - ⟨a, s⟩` of every score ciphertext, `rows ×
    /// outputs`: message times Δ plus noise. For measuring noise.
    ///
    /// # Errors
    /// As [`ClientKey::decrypt`].
    pub fn phases(&self, model: &HeModel, scores: &EncryptedScores) -> Result<Array2<u64>> {
        check_plaintext_space("response", model, scores.plaintext_bits)?;
        self.phases_unchecked(model, scores)
    }

    /// Phases after checking the key, the model's fingerprint and the
    /// output count, whatever the plaintext space.
    pub(crate) fn phases_unchecked(&self, model: &HeModel, scores: &EncryptedScores) -> Result<Array2<u64>> {
        self.fingerprint().check("response", scores.key)?;
        check_model("response", model.fingerprint(), scores.model)?;
        if scores.n_outputs != model.n_outputs() && scores.n_outputs != 1 {
            return Err(Error::format("response", "output count differs from the model's"));
        }
        let rows = scores.n_rows();
        let mut out = Array2::zeros((rows, scores.n_outputs));
        for (o, ct) in out.iter_mut().zip(scores.data.chunks_exact(scores.lwe_size)) {
            let ct = LweCiphertext::from_container(ct, CiphertextModulus::new_native());
            *o = decrypt_lwe_ciphertext(self.secret(), &ct).0;
        }
        Ok(out)
    }

    /// Decrypt the accumulators, `rows × outputs`.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`] for scores under another key,
    /// [`Error::ModelMismatch`] for scores of another model.
    pub fn decrypt(&self, model: &HeModel, scores: &EncryptedScores) -> Result<Array2<i64>> {
        let delta_log2 = model.delta_log2();
        Ok(self.phases(model, scores)?.mapv(|p| decode(p, delta_log2)))
    }

    /// Decrypt and turn the accumulators into the model's predictions; with
    /// the `label` feature, labels from label mode become predictions too
    /// (classes without probabilities).
    ///
    /// # Errors
    /// As [`ClientKey::decrypt`].
    pub fn decrypt_predictions(&self, model: &HeModel, scores: &EncryptedScores) -> Result<Predictions> {
        #[cfg(feature = "label")]
        if crate::label::holds_labels(scores) {
            return self.decrypt_label_predictions(model, scores);
        }
        let acc = self.decrypt(model, scores)?;
        model.predictions(acc.view())
    }
}

/// The server's side: a compiled model and nothing secret. Scoring needs no
/// evaluation key.
#[derive(Debug, Clone)]
pub struct ServerContext {
    model: HeModel,
    privacy: Option<CircuitPrivacy>,
    fingerprint: [u8; 16],
    /// Weights as wrapping 64-bit multipliers.
    weights: Vec<u64>,
    /// Intercepts encoded as plaintexts (times Δ).
    bias: Vec<u64>,
}

impl ServerContext {
    /// A context for scoring `model`.
    ///
    /// # Errors
    /// The model's own validation ([`HeModel::validate`]).
    pub fn new(model: HeModel) -> Result<Self> {
        model.validate()?;
        let delta_log2 = model.delta_log2();
        let weights = model.weights.iter().map(|&w| w as u64).collect();
        let bias = model.bias.iter().map(|&b| encode(b, delta_log2)).collect();
        Ok(Self {
            fingerprint: model.fingerprint(),
            model,
            privacy: None,
            weights,
            bias,
        })
    }

    /// Score with circuit privacy for the client whose public key this is
    /// (see [`CircuitPrivacy`]): requests under other keys are refused.
    pub fn with_circuit_privacy(mut self, privacy: CircuitPrivacy) -> Self {
        self.privacy = Some(privacy);
        self
    }

    /// The circuit-privacy setting, if any.
    pub fn circuit_privacy(&self) -> Option<&CircuitPrivacy> {
        self.privacy.as_ref()
    }

    /// The compiled model.
    pub fn model(&self) -> &HeModel {
        &self.model
    }

    /// Compute `Σ w·x + b` on every row's ciphertexts: regenerate each row's
    /// masks from its seed, then multiply by the clear weights and add, with
    /// no bootstrap and no key.
    ///
    /// # Errors
    /// [`Error::ModelMismatch`] for a request made for another model;
    /// [`Error::Parameters`].
    pub fn score(&self, request: &EncryptedRequest) -> Result<EncryptedScores> {
        let params = self.model.params();
        if request.params_id != params.id {
            return Err(Error::Parameters {
                what: "request",
                found: request.params_id,
                expected: params.id,
            });
        }
        check_model("request", self.fingerprint, request.model)?;
        check_plaintext_space("request", &self.model, request.plaintext_bits)?;
        let n = self.model.n_features();
        if request.n_features != n {
            return Err(Error::format("request", "feature count differs from the model's"));
        }
        if let Some(p) = &self.privacy {
            p.fingerprint.check("request", request.key)?;
        }
        let size = params.lwe_size();
        let n_out = self.model.n_outputs();
        let mut data = vec![0u64; request.n_rows() * n_out * size];
        for ((seed, bodies), out) in request
            .seeds
            .iter()
            .zip(request.bodies.chunks_exact(n))
            .zip(data.chunks_exact_mut(n_out * size))
        {
            // out[o] = Σ_j w[o][j]·(mask_j, body_j) + bias[o], masks regenerated one at a time.
            crate::masks::for_each_mask(*seed, n, params.lwe_dimension, |j, mask| {
                for (acc, w) in out.chunks_exact_mut(size).zip(self.weights.chunks_exact(n)) {
                    let wj = w[j];
                    if wj == 0 {
                        continue;
                    }
                    for (a, &m) in acc.iter_mut().zip(mask) {
                        *a = a.wrapping_add(m.wrapping_mul(wj));
                    }
                }
            })?;
            for ((acc, w), b) in out
                .chunks_exact_mut(size)
                .zip(self.weights.chunks_exact(n))
                .zip(&self.bias)
            {
                let body = bodies
                    .iter()
                    .zip(w)
                    .fold(*b, |s, (&c, &wj)| s.wrapping_add(c.wrapping_mul(wj)));
                acc[size - 1] = body;
            }
        }
        if let Some(p) = &self.privacy {
            p.rerandomize(&mut data, size);
        }
        Ok(EncryptedScores {
            params_id: params.id,
            key: request.key,
            model: self.fingerprint,
            plaintext_bits: request.plaintext_bits,
            n_outputs: n_out,
            lwe_size: size,
            data,
        })
    }
}
