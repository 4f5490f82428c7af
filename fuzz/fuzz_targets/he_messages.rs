//! ml-he's decoders on arbitrary bytes: requests, responses, client keys and
//! compiled model files. Whatever decodes is used as the server and the
//! client would use it (scored, decrypted), so a message that passes the
//! checks cannot make either side panic. Any panic is a finding; errors are
//! the expected answer.
//!
//! The first byte picks the decoder, and whether the rest is a whole message
//! or a body the harness frames correctly (magic, version, parameter set,
//! the fixture's model fingerprint, length and digest): a mutated digest
//! almost never matches, so without framing the body parsers behind it would
//! go unexplored.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ml_core::ndarray::{Array1, Array2};
use ml_core::{InputColumn, Link, Signature, Task};
use ml_he::wire::{self, Kind};
use ml_he::{
    CircuitPrivacy, ClientKey, EncryptedRequest, EncryptedScores, FeatureQuant, HeModel, PublicKey, QuantConfig, ServerContext,
};

/// A three-feature model, its server context and a client key.
fn fixture() -> &'static (HeModel, ServerContext, ClientKey) {
    static F: OnceLock<(HeModel, ServerContext, ClientKey)> = OnceLock::new();
    F.get_or_init(|| {
        let signature = Signature {
            inputs: (0..3).map(|j| InputColumn::numeric(format!("x{j}"))).collect(),
            unknown_category: Default::default(),
            task: Task::Regression,
            accepts_missing: false,
        };
        let q = FeatureQuant {
            center: 0.0,
            step: 1.0,
            min: -128,
            max: 127,
        };
        let model = HeModel::from_parts(
            signature,
            vec![],
            vec![q; 3],
            QuantConfig::default(),
            Array2::from_shape_vec((1, 3), vec![3, -2, 1]).expect("a shape"),
            Array1::from_vec(vec![5]),
            Array1::from_vec(vec![1.0]),
            Link::Identity,
        )
        .expect("the fixture model");
        let server = ServerContext::new(model.clone()).expect("its context");
        (model, server, ClientKey::generate())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let (model, server, key) = fixture();
    const LIMIT: usize = 1 << 22;
    let framed;
    let bytes = if which & 4 == 0 {
        bytes
    } else {
        let kind = [Kind::Request, Kind::Response, Kind::ClientKey, Kind::PublicKey][usize::from(which % 4)];
        framed = wire::encode(kind, 1, key.fingerprint().0, model.fingerprint(), bytes);
        &framed[..]
    };
    match which % 4 {
        0 => {
            if let Ok(request) = EncryptedRequest::from_bytes(bytes, LIMIT)
                && let Ok(scores) = server.score(&request)
            {
                let _ = key.decrypt(model, &scores);
            }
        }
        1 => {
            if let Ok(scores) = EncryptedScores::from_bytes(bytes, LIMIT) {
                let _ = key.decrypt_predictions(model, &scores);
            }
        }
        2 => {
            let _ = ClientKey::from_bytes(bytes);
        }
        _ if which & 4 != 0 => {
            if let Ok(public) = PublicKey::from_bytes(bytes)
                && let Ok(privacy) = CircuitPrivacy::new(model, &public, None)
            {
                let _ = privacy.statistical_bits;
            }
        }
        _ => {
            if let Ok(m) = HeModel::from_bytes(bytes) {
                let _ = ServerContext::new(m);
            }
        }
    }
});
