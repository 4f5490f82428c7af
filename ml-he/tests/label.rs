//! Label mode: a binary model's encrypted class, one key switch and one
//! bootstrap a row, with an evaluation key the client sends once.
#![cfg(feature = "label")]
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::Instant;

use ml_core::{Model, Predictions, train_test_split};
use ml_he::{Calibration, ClientKey, EvaluationKey, HeModel, LABEL_PARAMS, LabelContext, QuantConfig, ServerContext};

#[test]
fn label_parameters_are_pinned_to_tfhe_versioned_constants() {
    use tfhe::core_crypto::prelude::*;
    use tfhe::shortint::parameters::v1_8::V1_8_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128 as P;
    assert_eq!(P.lwe_dimension, LweDimension(LABEL_PARAMS.small_lwe_dimension));
    assert_eq!(
        P.lwe_noise_distribution,
        DynamicDistribution::<u64>::new_t_uniform(LABEL_PARAMS.small_noise_bound_log2)
    );
    assert_eq!(P.pbs_base_log, DecompositionBaseLog(LABEL_PARAMS.pbs_base_log));
    assert_eq!(P.pbs_level, DecompositionLevelCount(LABEL_PARAMS.pbs_level));
    assert_eq!(P.ks_base_log, DecompositionBaseLog(LABEL_PARAMS.ks_base_log));
    assert_eq!(P.ks_level, DecompositionLevelCount(LABEL_PARAMS.ks_level));
    assert_eq!(
        (918, 45, 23, 1, 4, 4),
        (
            LABEL_PARAMS.small_lwe_dimension,
            LABEL_PARAMS.small_noise_bound_log2,
            LABEL_PARAMS.pbs_base_log,
            LABEL_PARAMS.pbs_level,
            LABEL_PARAMS.ks_base_log,
            LABEL_PARAMS.ks_level
        )
    );
}

#[test]
fn breast_cancer_labels_match_the_quantized_model_outside_the_uncertain_band() {
    let data = ml_datasets::breast_cancer().unwrap();
    let (train, test) = train_test_split(&data, 0.25, 7, true).unwrap();
    let spec = ml_learn::Pipeline::from_params("logistic", &[], Some(3))
        .unwrap()
        .fit_pipeline(&train)
        .unwrap()
        .describe()
        .unwrap();
    let model = HeModel::compile(&spec, Calibration::Data(train.features()), QuantConfig::default()).unwrap();
    let key = ClientKey::generate();
    let t = Instant::now();
    let ek = EvaluationKey::from_bytes(&key.evaluation_key().to_bytes()).unwrap();
    let keygen = t.elapsed();
    let ek_bytes = ek.to_bytes().len();
    let t = Instant::now();
    let labeler = LabelContext::new(&model, &ek).unwrap();
    let setup = t.elapsed();
    let server = ServerContext::new(model.clone()).unwrap();
    let x = test.features();
    let scores = server.score(&key.encrypt(&model, x).unwrap()).unwrap();
    let t = Instant::now();
    let labels = labeler.labels(&scores).unwrap();
    let per_row = t.elapsed().as_secs_f64() / x.nrows() as f64;
    let got = key.decrypt_labels(&model, &labels).unwrap();

    let acc = model.accumulate_clear(model.quantize(x).unwrap().view());
    let Predictions::Classification { labels: clear, .. } = model.predictions(acc.view()).unwrap() else {
        panic!()
    };
    let band = labeler.uncertain_margin();
    let mut inside = 0;
    for (i, (&g, &c)) in got.iter().zip(clear.iter()).enumerate() {
        let margin = acc[[i, 0]] as f64 * model.output_scale[0];
        if margin.abs() < band {
            inside += 1;
        } else {
            assert_eq!(g, c, "row {i}: margin {margin} outside the band ±{band}");
        }
    }
    let truth = test.classes().unwrap().0.to_vec();
    let accuracy = got.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64;
    let Predictions::Classification { labels: float, .. } = spec.predict(x).unwrap() else {
        panic!()
    };
    let float_accuracy = float.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64;
    eprintln!(
        "label mode: {} rows, {inside} inside the band ±{band:.3}, accuracy {accuracy:.4} (float {float_accuracy:.4}), \
         {:.1} ms a row (debug build), evaluation key {ek_bytes} bytes, keygen {keygen:?}, server setup {setup:?}",
        got.len(),
        per_row * 1e3
    );
    // Inside the band the decrypted label may come out either way (that is what
    // the band means), so the deterministic checks are on the clear quantized
    // model and on how many rows the band holds; the encrypted accuracy can only
    // lose the band's rows.
    let clear_accuracy = clear.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64;
    assert!(
        clear_accuracy >= float_accuracy - 0.01,
        "quantized {clear_accuracy} against float {float_accuracy}"
    );
    assert!(
        inside * 5 <= got.len(),
        "{inside} of {} rows inside the uncertain band",
        got.len()
    );
    assert!(accuracy >= clear_accuracy - inside as f64 / truth.len() as f64);
    // Scores are not labels, and labels need the right key.
    assert!(key.decrypt_labels(&model, &scores).is_err());
    assert!(ClientKey::generate().decrypt_labels(&model, &labels).is_err());
    let other = ClientKey::generate();
    let foreign = server.score(&other.encrypt(&model, x).unwrap()).unwrap();
    assert!(labeler.labels(&foreign).is_err());
    // A truncated evaluation key is refused.
    let bytes = ek.to_bytes();
    assert!(EvaluationKey::from_bytes(&bytes[..bytes.len() - 8]).is_err());
}
