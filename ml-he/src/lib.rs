//! Encrypted inference for ml-sdk.
//!
//! A client encrypts its quantized features under its own secret key; the
//! server computes a linear model's scores on the ciphertexts with clear
//! integer weights; the client decrypts the scores and applies the link.
//! Multiplying LWE ciphertexts by clear integers and adding them needs no
//! bootstrap and no evaluation key, so the server holds nothing but the
//! model, and the result is exact (it equals the quantized model computed in
//! clear) while the noise stays within the budget checked when the model is
//! compiled.
//!
//! Built on TFHE-rs's `core_crypto` LWE primitives with parameters pinned to
//! its versioned constants ([`params`]).
//!
//! # Threat model
//!
//! - **Protected:** the client's inputs, against an honest-but-curious
//!   server: LWE encryption is IND-CPA secure under the parameters' 128-bit
//!   estimate. The server learns the number of rows and that the model was
//!   applied, nothing of the values.
//! - **Not protected: integrity.** Ciphertexts are malleable; anyone on the
//!   path can add to or scale an encrypted value and the result decrypts to
//!   the changed value (`tests/crypto.rs` shows it). Authenticate the
//!   transport (TLS) and the parties.
//! - **Not protected: the model against the client.** The client sees the
//!   scores, so many queries reveal a linear model (a linear model of `d`
//!   features is recovered from `d + 1` scores in clear). Worse, the returned
//!   ciphertexts are a known linear combination of the client's own masks, so
//!   a client that keeps its masks can read the weights from one response:
//!   there is no circuit privacy by default. [`CircuitPrivacy`] re-randomizes
//!   each score with an encryption of zero under the client's public key and
//!   floods its noise: the mask then hides the weights (RLWE), and the noise
//!   hides them only up to the statistical distance the plaintext space
//!   leaves room for (about 17 bits for breast_cancer at 8 bits; see its
//!   docs for the costs).
//! - **Key handling:** the [`ClientKey`] is a distinct type from the server's
//!   [`ServerContext`], is zeroized on drop, is written only by
//!   [`ClientKey::save`] (mode 0600), and is passed explicitly: there are no
//!   global or thread-local keys.

mod cipher;
#[cfg(feature = "client")]
mod client;
mod error;
mod keys;
#[cfg(feature = "label")]
mod label;
pub mod masks;
mod model;
pub mod params;
mod privacy;
pub mod wire;

pub use cipher::{DEFAULT_MESSAGE_LIMIT, EncryptedRequest, EncryptedScores, ServerContext};
#[cfg(feature = "client")]
pub use client::HttpClient;
pub use error::{Error, Result};
pub use keys::{CLIENT_KEY_FILE, ClientKey, KeyFingerprint};
#[cfg(feature = "label")]
pub use label::{EvaluationKey, LABEL_PARAMS, LabelContext, LabelParameters};
pub use model::{Budget, Calibration, FeatureQuant, HE_MODEL_VERSION, HeModel, QuantConfig};
pub use params::{PARAMS_2048_TUNIFORM17, Parameters, SIGMA_FACTOR};
pub use privacy::{CircuitPrivacy, PUBLIC_KEY_FILE, PublicKey};
