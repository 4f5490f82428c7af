#![doc = include_str!("../README.md")]

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
