//! Circuit privacy: hiding the model's weights from the client that
//! decrypts the scores.
//!
//! A plain score ciphertext is `Σ w_j·c_j + b`: its mask is a linear
//! combination, with the weights as coefficients, of masks the client
//! generated itself, so a client that keeps them reads the weights off one
//! response, and its noise `Σ w_j·e_j` depends on the weights too. With
//! circuit privacy the server adds to every score a fresh encryption of zero
//! under the client's compact public key (an RLWE sample: its mask is
//! pseudorandom, hiding the combination) whose body noise is drawn from
//! TUniform(F), flooding `Σ w_j·e_j`.
//!
//! What it costs: the flood must stay under half a plaintext step together
//! with the rest of the noise, so `F` is bounded by the plaintext space the
//! model needs, and the flood hides the weight-dependent noise only up to a
//! statistical distance of about `Σ|w|·2^17 / 2^(F+1)` (reported as
//! [`CircuitPrivacy::statistical_bits`]); the client sends its public key
//! once (16 KiB); each score costs one negacyclic product of dimension 2048.

use tfhe::core_crypto::commons::generators::NoiseRandomGenerator;
use tfhe::core_crypto::commons::math::random::Seed;
use tfhe::core_crypto::prelude::*;

use crate::keys::{ClientKey, KeyFingerprint};
use crate::model::HeModel;
use crate::params::{PARAMS_2048_TUNIFORM17, Parameters};
use crate::wire::{self, Kind, Reader};
use crate::{Error, Result};

/// The client's compact public key: it encrypts (zeros, here) without the
/// secret. Public: the server may keep it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicKey {
    params: &'static Parameters,
    fingerprint: KeyFingerprint,
    seed: u128,
    bodies: Vec<u64>,
}

impl ClientKey {
    /// A compact public key of this key (seeded: a 16-byte seed and 2048
    /// words), for servers that score with circuit privacy.
    pub fn public_key(&self) -> PublicKey {
        let params = self.params();
        let mut seeder = new_seeder();
        let seed = seeder.seed().0;
        let mut pk = SeededLweCompactPublicKey::new(
            0u64,
            LweDimension(params.lwe_dimension),
            Seed(seed).into(),
            CiphertextModulus::new_native(),
        );
        generate_seeded_lwe_compact_public_key(
            self.secret(),
            &mut pk,
            TUniform::<u64>::new(params.noise_bound_log2),
            seeder.as_mut(),
        );
        PublicKey {
            params,
            fingerprint: self.fingerprint(),
            seed,
            bodies: pk.into_container(),
        }
    }
}

/// File name of the public key inside a key directory.
pub const PUBLIC_KEY_FILE: &str = "public.key";

impl PublicKey {
    /// Write the key to `dir/public.key` (creating `dir`), atomically.
    ///
    /// # Errors
    /// [`Error::Core`] for I/O failures.
    pub fn save(&self, dir: &std::path::Path) -> Result<std::path::PathBuf> {
        Ok(ml_core::io::save_in_dir(dir, PUBLIC_KEY_FILE, &self.to_bytes())?)
    }

    /// Read a public key file (`dir/public.key` when `path` is a directory).
    ///
    /// # Errors
    /// As [`PublicKey::from_bytes`], and I/O failures.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        Self::from_bytes(&ml_core::io::read_in("public key", path, PUBLIC_KEY_FILE, 1 << 20)?)
    }

    /// Fingerprint of the client key it belongs to.
    pub fn fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }

    /// The wire format (a [`Kind::PublicKey`] message).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(16 + self.bodies.len() * 8);
        body.extend_from_slice(&self.seed.to_le_bytes());
        for v in &self.bodies {
            body.extend_from_slice(&v.to_le_bytes());
        }
        wire::encode(Kind::PublicKey, self.params.id, self.fingerprint.0, [0; 16], &body)
    }

    /// Read a public key.
    ///
    /// # Errors
    /// [`Error::Format`], [`Error::Version`], [`Error::Parameters`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const W: &str = "public key";
        let msg = wire::decode(W, Kind::PublicKey, bytes, 1 << 20)?;
        let params = Parameters::require(W, msg.params_id)?;
        if msg.body.len() != 16 + params.lwe_dimension * 8 {
            return Err(Error::format(W, format!("{} body bytes", msg.body.len())));
        }
        let mut r = Reader::new(W, msg.body);
        let mut seed = Vec::new();
        r.u128s(1, &mut seed)?;
        let mut bodies = Vec::with_capacity(params.lwe_dimension);
        r.u64s(params.lwe_dimension, &mut bodies)?;
        Ok(Self {
            params,
            fingerprint: KeyFingerprint(msg.key_fingerprint),
            seed: seed[0],
            bodies,
        })
    }

    fn expand(&self) -> LweCompactPublicKeyOwned<u64> {
        SeededLweCompactPublicKey::from_container(
            self.bodies.clone(),
            Seed(self.seed).into(),
            CiphertextModulus::new_native(),
        )
        .decompress_into_lwe_compact_public_key()
    }
}

/// Worst-case noise of an encryption of zero under the compact public key
/// without the flood: `|⟨e, r⟩| + |⟨e₁, s⟩| ≤ 2·n·2^b`.
fn public_zero_noise_bound(params: &Parameters) -> f64 {
    2.0 * params.lwe_dimension as f64 * params.fresh_noise_bound() as f64
}

/// The circuit-privacy setting of a server: the client's public key
/// (expanded) and the flood width.
#[derive(Debug, Clone)]
pub struct CircuitPrivacy {
    pub(crate) key: LweCompactPublicKeyOwned<u64>,
    pub(crate) fingerprint: KeyFingerprint,
    /// Flood noise is TUniform(`flood_bits`).
    pub flood_bits: u32,
    /// About how many bits of statistical distance hide the weight-dependent
    /// noise: `flood_bits + 1 - log2(Σ|w|·2^17)`.
    pub statistical_bits: f64,
}

impl CircuitPrivacy {
    /// Circuit privacy for `model` with the client's `key`, flooding with
    /// TUniform(`flood_bits`), or with the widest flood the plaintext space
    /// leaves room for when `None`.
    ///
    /// # Errors
    /// [`Error::Budget`] when the flood (or any flood) does not fit under
    /// half a plaintext step with the rest of the noise.
    pub fn new(model: &HeModel, key: &PublicKey, flood_bits: Option<u32>) -> Result<Self> {
        let params = model.params();
        let room = model.budget.half_step - model.budget.worst_case_noise - public_zero_noise_bound(params);
        let widest = if room >= 1.0 { room.log2().floor() as u32 } else { 0 };
        let bits = flood_bits.unwrap_or(widest);
        if widest < 1 || bits > widest || bits + 2 > params.modulus_log2 {
            return Err(Error::Budget {
                bound: "plaintext space",
                detail: format!(
                    "a flood of 2^{bits} does not fit: Δ/2 = 2^{:.1}, weight noise ≤ 2^{:.1}, public-key noise ≤ 2^{:.1} leave room for at most 2^{widest}",
                    model.budget.half_step.log2(),
                    model.budget.worst_case_noise.log2(),
                    public_zero_noise_bound(params).log2()
                ),
            });
        }
        Ok(Self {
            key: key.expand(),
            fingerprint: key.fingerprint,
            flood_bits: bits,
            statistical_bits: f64::from(bits) + 1.0 - model.budget.worst_case_noise.max(1.0).log2(),
        })
    }

    /// Add a fresh, flooded encryption of zero to each ciphertext.
    pub(crate) fn rerandomize(&self, cts: &mut [u64], size: usize) {
        let mut seeder = new_seeder();
        let mut noise = NoiseRandomGenerator::<DefaultRandomGenerator>::new(seeder.as_mut());
        let mut zero = LweCiphertext::new(0u64, LweSize(size), CiphertextModulus::new_native());
        for ct in cts.chunks_exact_mut(size) {
            encrypt_lwe_ciphertext_with_compact_public_key(
                &self.key,
                &mut zero,
                Plaintext(0u64),
                TUniform::<u64>::new(PARAMS_2048_TUNIFORM17.noise_bound_log2),
                TUniform::<u64>::new(self.flood_bits),
                &mut noise,
            );
            for (a, &z) in ct.iter_mut().zip(zero.as_ref()) {
                *a = a.wrapping_add(z);
            }
        }
    }
}
