//! The cryptographic parameters, pinned to TFHE-rs's versioned constants.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One LWE parameter set: the secret key and noise with which the client
/// encrypts, and the ciphertext modulus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// The id that travels in every key and message.
    pub id: u16,
    /// Where the values come from.
    pub name: &'static str,
    /// LWE dimension `n` of the binary secret key.
    pub lwe_dimension: usize,
    /// Fresh noise is TUniform(`noise_bound_log2`): integers in
    /// `[-2^b, 2^b]`, the two end points at half weight.
    pub noise_bound_log2: u32,
    /// Ciphertexts live modulo `2^modulus_log2` (64: tfhe's native modulus).
    pub modulus_log2: u32,
}

/// The only parameter set of this format version: the GLWE side of TFHE-rs
/// 1.8's `V1_8_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128` (k = 1,
/// N = 2048, so a binary LWE secret of dimension 2048; TUniform(17) noise;
/// q = 2^64). TFHE-rs documents the set as at least 128-bit secure under the
/// lattice estimator; `tests/params.rs` pins these values against tfhe's
/// constant, so a tfhe upgrade that changed them fails the build's tests.
pub const PARAMS_2048_TUNIFORM17: Parameters = Parameters {
    id: 1,
    name: "V1_8_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128 (GLWE secret: k=1, N=2048)",
    lwe_dimension: 2048,
    noise_bound_log2: 17,
    modulus_log2: 64,
};

/// The number of standard deviations the accumulated noise must stay under
/// half a plaintext step for a decoding failure probability of at most
/// 2^-128 (the Gaussian tail: P(|Z| > 13.2) ≈ 2^-129).
pub const SIGMA_FACTOR: f64 = 13.2;

impl Parameters {
    /// The parameter set of `id`, if this build knows it.
    pub fn by_id(id: u16) -> Option<&'static Parameters> {
        [&PARAMS_2048_TUNIFORM17].into_iter().find(|p| p.id == id)
    }

    /// The parameter set of `id`, or the error naming `what` carried it.
    ///
    /// # Errors
    /// [`Error::Parameters`] for an id this build does not know.
    pub fn require(what: &'static str, id: u16) -> Result<&'static Parameters> {
        Self::by_id(id).ok_or(Error::Parameters {
            what,
            found: id,
            expected: PARAMS_2048_TUNIFORM17.id,
        })
    }

    /// Standard deviation of fresh noise: TUniform(b) has variance
    /// `(2·4^b + 1) / 6`.
    pub fn fresh_noise_std(&self) -> f64 {
        let b = 2f64.powi(self.noise_bound_log2 as i32);
        ((2.0 * b * b + 1.0) / 6.0).sqrt()
    }

    /// Largest absolute value of fresh noise, `2^b`.
    pub fn fresh_noise_bound(&self) -> u64 {
        1u64 << self.noise_bound_log2
    }

    /// Number of `u64` words of one full LWE ciphertext (mask and body).
    pub fn lwe_size(&self) -> usize {
        self.lwe_dimension + 1
    }
}
