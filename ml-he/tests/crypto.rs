//! The cryptographic layer: pinned parameters, round trips over the whole
//! plaintext space, noise against the formula, keys, malleability, and the
//! wire format's refusals.
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use ml_core::ndarray::{Array1, Array2, array};
use ml_core::{InputColumn, Link, Signature, Task};
use ml_he::{
    ClientKey, DEFAULT_MESSAGE_LIMIT, EncryptedRequest, EncryptedScores, Error, FeatureQuant, HeModel,
    PARAMS_2048_TUNIFORM17, QuantConfig, ServerContext,
};

fn signature(n: usize) -> Signature {
    Signature {
        inputs: (0..n).map(|j| InputColumn::numeric(format!("x{j}"))).collect(),
        unknown_category: Default::default(),
        task: Task::Regression,
        accepts_missing: false,
    }
}

/// Several outputs: a softmax classifier over as many classes.
fn classifier(n: usize, k: usize) -> Signature {
    Signature {
        task: Task::Classification {
            classes: (0..k).map(|c| format!("c{c}")).collect(),
        },
        ..signature(n)
    }
}

/// A model with exact integer weights over features of `[min, max]`.
fn integer_model(weights: Array2<i64>, bias: Array1<i64>, min: i64, max: i64) -> HeModel {
    let n = weights.ncols();
    let features = vec![
        FeatureQuant {
            center: 0.0,
            step: 1.0,
            min,
            max
        };
        n
    ];
    let k = weights.nrows();
    let (sig, link) = if k == 1 {
        (signature(n), Link::Identity)
    } else {
        (classifier(n, k), Link::Softmax)
    };
    HeModel::from_parts(
        sig,
        vec![],
        features,
        QuantConfig::default(),
        weights,
        bias,
        Array1::ones(k),
        link,
    )
    .unwrap()
}

#[test]
fn parameters_are_pinned_to_tfhe_versioned_constants() {
    use tfhe::core_crypto::prelude::*;
    use tfhe::shortint::parameters::v1_8::V1_8_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128 as P;
    let ours = PARAMS_2048_TUNIFORM17;
    assert_eq!(P.glwe_dimension, GlweDimension(1));
    assert_eq!(P.polynomial_size, PolynomialSize(2048));
    assert_eq!(ours.lwe_dimension, P.glwe_dimension.0 * P.polynomial_size.0);
    assert_eq!(P.glwe_noise_distribution, DynamicDistribution::<u64>::new_t_uniform(17));
    assert_eq!(ours.noise_bound_log2, 17);
    assert!(P.ciphertext_modulus.is_native_modulus());
    assert_eq!(ours.modulus_log2, 64);
    const { assert!(P.log2_p_fail <= -128.0) };
    // The values themselves, so that a change on either side is seen.
    assert_eq!((ours.id, ours.lwe_dimension, ours.noise_bound_log2), (1, 2048, 17));
    // TUniform(17): variance (2·4^17 + 1)/6.
    assert!(
        (ours.fresh_noise_std() - 75674.0).abs() < 1.0,
        "{}",
        ours.fresh_noise_std()
    );
}

#[test]
fn every_plaintext_round_trips() {
    // One feature, weight 1: the accumulator is the feature itself. With
    // features over 10 bits the plaintext space is 11 bits wide.
    let model = integer_model(array![[1]], array![0], -512, 511);
    let bits = model.budget.plaintext_bits;
    assert_eq!(bits, 11);
    let key = ClientKey::generate();
    let server = ServerContext::new(model.clone()).unwrap();
    let lo = -(1i64 << (bits - 1));
    let hi = (1i64 << (bits - 1)) - 1;
    // Every value of the 11-bit space: the extremes wrap if anything is off by one.
    let values: Vec<i64> = (lo..=hi).collect();
    let q = Array2::from_shape_vec((values.len(), 1), values.clone()).unwrap();
    let req = key.encrypt_quantized(&model, q.view()).unwrap();
    let scores = server.score(&req).unwrap();
    let out = key.decrypt(&model, &scores).unwrap();
    assert_eq!(out.column(0).to_vec(), values);
    // Outside the space: refused, not wrapped.
    let bad = array![[hi + 1]];
    assert!(matches!(
        key.encrypt_quantized(&model, bad.view()),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn encrypted_scores_equal_integer_ground_truth() {
    let weights = array![[127, -128, 5, 0, 77, -3], [-1, 2, -3, 4, -5, 6]];
    let bias = array![-1000, 123_456];
    let model = integer_model(weights, bias, -128, 127);
    let key = ClientKey::generate();
    let server = ServerContext::new(model.clone()).unwrap();
    let q = Array2::from_shape_fn((200, 6), |(i, j)| ((i * 37 + j * 101) % 256) as i64 - 128);
    let req = EncryptedRequest::from_bytes(
        &key.encrypt_quantized(&model, q.view()).unwrap().to_bytes(),
        DEFAULT_MESSAGE_LIMIT,
    )
    .unwrap();
    let scores = EncryptedScores::from_bytes(&server.score(&req).unwrap().to_bytes(), DEFAULT_MESSAGE_LIMIT).unwrap();
    assert_eq!(key.decrypt(&model, &scores).unwrap(), model.accumulate_clear(q.view()));
}

#[test]
fn output_noise_matches_the_formula() {
    // σ_out = ‖w‖₂·σ_fresh: measure it over many evaluations.
    let weights = array![[100, -50, 25, 12, -6, 3, 90, -127]];
    let model = integer_model(weights.clone(), array![0], -128, 127);
    let key = ClientKey::generate();
    let server = ServerContext::new(model.clone()).unwrap();
    let q = Array2::from_shape_fn((4000, 8), |(i, j)| ((i * 7 + j * 13) % 256) as i64 - 128);
    let scores = server.score(&key.encrypt_quantized(&model, q.view()).unwrap()).unwrap();
    let phases = key.phases(&model, &scores).unwrap();
    let expected = model.accumulate_clear(q.view());
    let delta_log2 = model.delta_log2();
    let errors: Vec<f64> = phases
        .iter()
        .zip(expected.iter())
        .map(|(&p, &m)| p.wrapping_sub((m as u64).wrapping_shl(delta_log2)) as i64 as f64)
        .collect();
    let n = errors.len() as f64;
    let mean = errors.iter().sum::<f64>() / n;
    let std = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n).sqrt();
    let norm = weights.iter().map(|&w| (w * w) as f64).sum::<f64>().sqrt();
    let formula = norm * PARAMS_2048_TUNIFORM17.fresh_noise_std();
    assert!((model.budget.output_noise_std - formula).abs() < 1e-6 * formula);
    // 4000 samples: the standard deviation's estimate is within a few percent.
    assert!((std / formula - 1.0).abs() < 0.06, "measured {std}, formula {formula}");
    assert!(mean.abs() < 0.1 * formula, "mean {mean}");
    // Never beyond the hard bound Σ|w|·2^17, and far under Δ/2.
    let worst = errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    assert!(worst <= model.budget.worst_case_noise);
    assert!(worst < model.budget.half_step);
}

#[test]
fn another_key_is_refused_by_fingerprint_and_decrypts_to_garbage() {
    let model = integer_model(array![[3, -2, 1]], array![7], -128, 127);
    let (alice, mallory) = (ClientKey::generate(), ClientKey::generate());
    assert_ne!(alice.fingerprint(), mallory.fingerprint());
    let server = ServerContext::new(model.clone()).unwrap();
    let q = array![[1, 2, 3], [-100, 50, 127]];
    let scores = server
        .score(&alice.encrypt_quantized(&model, q.view()).unwrap())
        .unwrap();
    assert!(matches!(
        mallory.decrypt(&model, &scores),
        Err(Error::KeyMismatch { .. })
    ));
    // Past the fingerprint check (a forged header), the wrong key yields
    // values unrelated to the truth.
    let mut bytes = scores.to_bytes();
    forge_key_fingerprint(&mut bytes, mallory.fingerprint().0);
    let forged = EncryptedScores::from_bytes(&bytes, DEFAULT_MESSAGE_LIMIT).unwrap();
    let wrong = mallory.decrypt(&model, &forged).unwrap();
    assert_ne!(wrong, model.accumulate_clear(q.view()));
}

/// Rewrite a message's key fingerprint and its digest (what an attacker can
/// do: the digest detects corruption, not tampering).
fn forge_key_fingerprint(bytes: &mut [u8], fp: [u8; 16]) {
    use sha2::Digest;
    bytes[10..26].copy_from_slice(&fp);
    let end = bytes.len() - 16;
    let digest = sha2::Sha256::digest(&bytes[..end]);
    bytes[end..].copy_from_slice(&digest[..16]);
}

#[test]
fn ciphertexts_are_malleable() {
    // No integrity: adding Δ·k to a body shifts the decrypted value by k.
    let model = integer_model(array![[1, 1]], array![0], -128, 127);
    let key = ClientKey::generate();
    let server = ServerContext::new(model.clone()).unwrap();
    let mut req = key.encrypt_quantized(&model, array![[10, 20]].view()).unwrap();
    let delta = 1u64 << model.delta_log2();
    req.bodies_mut()[0] = req.bodies_mut()[0].wrapping_add(delta.wrapping_mul(5));
    let out = key.decrypt(&model, &server.score(&req).unwrap()).unwrap();
    assert_eq!(out[[0, 0]], 35, "the tampered ciphertext decrypts to 10 + 5 + 20");
}

#[test]
fn client_key_round_trips_and_is_private_on_disk() {
    let key = ClientKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let path = key.save(&dir.path().join("keys")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let back = ClientKey::load(&dir.path().join("keys")).unwrap();
    assert_eq!(back.fingerprint(), key.fingerprint());
    // The debug form shows the fingerprint, not the secret.
    let debug = format!("{key:?}");
    assert!(
        debug.contains(&key.fingerprint().to_string()) && debug.len() < 300,
        "{debug}"
    );
    // Both keys decrypt the same ciphertexts.
    let model = integer_model(array![[2]], array![1], -128, 127);
    let scores = ServerContext::new(model.clone())
        .unwrap()
        .score(&key.encrypt_quantized(&model, array![[21]].view()).unwrap())
        .unwrap();
    assert_eq!(back.decrypt(&model, &scores).unwrap()[[0, 0]], 43);
    // A corrupted key file is an error.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[60] ^= 1;
    assert!(matches!(ClientKey::from_bytes(&bytes), Err(Error::Format { .. })));
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    let model = integer_model(array![[1, -1, 2]], array![0], -128, 127);
    let key = ClientKey::generate();
    let req = key
        .encrypt_quantized(&model, array![[1, 2, 3], [4, 5, 6]].view())
        .unwrap();
    let bytes = req.to_bytes();
    let read = |b: &[u8]| EncryptedRequest::from_bytes(b, DEFAULT_MESSAGE_LIMIT);
    assert_eq!(read(&bytes).unwrap(), req);
    // Every truncation.
    for n in 0..bytes.len() {
        assert!(
            matches!(read(&bytes[..n]), Err(Error::Format { .. })),
            "truncated to {n}"
        );
    }
    // Every single bit flip.
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            assert!(read(&b).is_err(), "flip of bit {bit} in byte {i} accepted");
        }
    }
    // Oversized (beyond the caller's limit), wrong kind, wrong version,
    // wrong parameters (with a valid digest, as a foreign writer would send).
    assert!(matches!(
        EncryptedRequest::from_bytes(&bytes, bytes.len() - 1),
        Err(Error::Format { .. })
    ));
    assert!(matches!(
        EncryptedScores::from_bytes(&bytes, DEFAULT_MESSAGE_LIMIT),
        Err(Error::Format { .. })
    ));
    let mut future = bytes.clone();
    future[4] = 2;
    redigest(&mut future);
    assert!(matches!(read(&future), Err(Error::Version { found: 2, .. })));
    let mut foreign = bytes.clone();
    foreign[8] = 9;
    redigest(&mut foreign);
    assert!(matches!(read(&foreign), Err(Error::Parameters { found: 9, .. })));
    // A request for another model is refused by the server.
    let other = integer_model(array![[1, -1, 3]], array![0], -128, 127);
    let server = ServerContext::new(other).unwrap();
    assert!(matches!(server.score(&req), Err(Error::ModelMismatch { .. })));
}

fn redigest(bytes: &mut [u8]) {
    use sha2::Digest;
    let end = bytes.len() - 16;
    let digest = sha2::Sha256::digest(&bytes[..end]);
    bytes[end..].copy_from_slice(&digest[..16]);
}

#[test]
fn a_model_beyond_the_budget_is_refused_naming_the_bound() {
    // 16-bit weights on 16-bit features over 64 columns: far past Δ/2 ≥ 13.2·σ_out.
    let weights = Array2::from_elem((1, 64), 32_000i64);
    let features = vec![
        FeatureQuant {
            center: 0.0,
            step: 1.0,
            min: -32_768,
            max: 32_767
        };
        64
    ];
    let err = HeModel::from_parts(
        signature(64),
        vec![],
        features,
        QuantConfig::default(),
        weights,
        array![0],
        array![1.0],
        Link::Identity,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Budget {
                bound: "noise budget",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("13.2"), "{err}");
}

/// The masks of a one-row request's ciphertexts, regenerated from its seed
/// as anyone holding the request can.
fn request_masks(request: &EncryptedRequest, n: usize) -> Vec<Vec<u64>> {
    use tfhe::core_crypto::commons::math::random::Seed;
    use tfhe::core_crypto::prelude::*;
    let bytes = request.to_bytes();
    // Frame header (50), plaintext bits (1), rows (4), features (4), then the seed.
    let seed = u128::from_le_bytes(bytes[59..75].try_into().unwrap());
    let bodies: Vec<u64> = bytes[75..75 + 8 * n]
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let seeded = SeededLweCiphertextList::from_container(
        bodies,
        LweSize(2049),
        Seed(seed).into(),
        CiphertextModulus::new_native(),
    );
    let list = seeded.decompress_into_lwe_ciphertext_list();
    list.iter().map(|ct| ct.get_mask().as_ref().to_vec()).collect()
}

#[test]
fn circuit_privacy_hides_the_weights_in_the_mask_and_keeps_results_exact() {
    use ml_he::CircuitPrivacy;
    let weights = array![[100, -50, 25, 12, -6, 3, 90, -127]];
    let model = integer_model(weights.clone(), array![17], -128, 127);
    let key = ClientKey::generate();
    let q = array![[1, 2, 3, 4, 5, 6, 7, 8]];
    let request = key.encrypt_quantized(&model, q.view()).unwrap();
    let masks = request_masks(&request, 8);
    let combination: Vec<u64> = (0..2048)
        .map(|i| {
            masks
                .iter()
                .zip(weights.iter())
                .fold(0u64, |acc, (m, &w)| acc.wrapping_add(m[i].wrapping_mul(w as u64)))
        })
        .collect();

    // Without circuit privacy the client reads Σ w·a off the answer.
    let plain = ServerContext::new(model.clone()).unwrap();
    let mut scores = plain.score(&request).unwrap();
    assert_eq!(
        &scores.ciphertexts_mut()[..2048],
        &combination[..],
        "the plain answer's mask is Σ w·a"
    );

    // With it, the mask is fresh and the result still exact.
    let public = ml_he::PublicKey::from_bytes(&key.public_key().to_bytes()).unwrap();
    let privacy = CircuitPrivacy::new(&model, &public, None).unwrap();
    assert!(privacy.statistical_bits > 10.0, "{}", privacy.statistical_bits);
    let private = ServerContext::new(model.clone())
        .unwrap()
        .with_circuit_privacy(privacy.clone());
    let mut scores = private.score(&request).unwrap();
    assert_ne!(&scores.ciphertexts_mut()[..2048], &combination[..]);
    assert_eq!(key.decrypt(&model, &scores).unwrap(), model.accumulate_clear(q.view()));
    // Many rows: exact every time, and the noise is the flood's (TUniform(F): σ ≈ 2^F/√3).
    let rows = Array2::from_shape_fn((400, 8), |(i, j)| ((i * 31 + j * 7) % 256) as i64 - 128);
    let scores = private
        .score(&key.encrypt_quantized(&model, rows.view()).unwrap())
        .unwrap();
    let expected = model.accumulate_clear(rows.view());
    assert_eq!(key.decrypt(&model, &scores).unwrap(), expected);
    let phases = key.phases(&model, &scores).unwrap();
    let errors: Vec<f64> = phases
        .iter()
        .zip(expected.iter())
        .map(|(&p, &m)| p.wrapping_sub((m as u64).wrapping_shl(model.delta_log2())) as i64 as f64)
        .collect();
    let std = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
    let flood = 2f64.powi(privacy.flood_bits as i32) / 3f64.sqrt();
    assert!((std / flood - 1.0).abs() < 0.15, "noise {std}, flood {flood}");

    // Requests under another key are refused; a flood past the budget is an error.
    let other = ClientKey::generate();
    let err = private
        .score(&other.encrypt_quantized(&model, q.view()).unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");
    let err = CircuitPrivacy::new(&model, &public, Some(privacy.flood_bits + 1)).unwrap_err();
    assert!(matches!(err, Error::Budget { .. }), "{err}");
}

#[test]
fn requests_are_tfhe_seeded_ciphertexts_with_tuniform_noise() {
    // TFHE-rs's own decompression and decryption read our requests: each
    // phase is the encoded feature plus fresh TUniform(17) noise.
    let model = integer_model(Array2::ones((1, 16)), array![0], -128, 127);
    let key = ClientKey::generate();
    let q = Array2::from_shape_fn((300, 16), |(i, j)| ((i * 13 + j * 29) % 256) as i64 - 128);
    let request = key.encrypt_quantized(&model, q.view()).unwrap();
    let phases = key.request_phases(&request).unwrap();
    let bound = PARAMS_2048_TUNIFORM17.fresh_noise_bound() as i64;
    let errors: Vec<f64> = phases
        .iter()
        .zip(q.iter())
        .map(|(&p, &m)| {
            let e = p.wrapping_sub((m as u64).wrapping_shl(model.delta_log2())) as i64;
            assert!(e.abs() <= bound, "noise {e} beyond 2^17");
            e as f64
        })
        .collect();
    let n = errors.len() as f64;
    let mean = errors.iter().sum::<f64>() / n;
    let std = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n).sqrt();
    let sigma = PARAMS_2048_TUNIFORM17.fresh_noise_std();
    assert!((std / sigma - 1.0).abs() < 0.05, "std {std}, TUniform(17) {sigma}");
    assert!(mean.abs() < 0.05 * sigma, "mean {mean}");
    // Fresh seeds: no two rows share one.
    let other = key.encrypt_quantized(&model, q.view()).unwrap();
    assert_ne!(request.to_bytes()[59..75], other.to_bytes()[59..75]);
    assert!(ClientKey::generate().request_phases(&request).is_err());
}
