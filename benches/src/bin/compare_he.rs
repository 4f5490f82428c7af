//! The ml-sdk side of `benches/compare_he.py`: a standardized logistic
//! regression on the breast_cancer split the script chose (DIR/split.json),
//! compiled for encrypted scoring (8-bit features and weights, ranges from
//! the training rows), then the test rows encrypted, scored on one core and
//! decrypted ROUNDS times. Prints one JSON object: milliseconds per sample
//! of each step (medians), bytes per sample up and down, key sizes,
//! accuracies, and whether every decrypted accumulator equals the clear
//! quantized model's. Arguments: DIR ROUNDS.

use anyhow::{Context, Result};
use ml_sdk::core::{Model, Predictions, metrics};
use ml_sdk::he::{
    Calibration, CircuitPrivacy, ClientKey, EncryptedRequest, EncryptedScores, HeModel, LabelContext, QuantConfig,
    ServerContext,
};
use ml_sdk_benches::{logistic, median_seconds};
use serde_json::json;

fn labels(p: &Predictions) -> Result<Vec<usize>> {
    match p {
        Predictions::Classification { labels, .. } => Ok(labels.to_vec()),
        _ => anyhow::bail!("not a classifier"),
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().context("usage: compare_he DIR ROUNDS")?);
    let rounds: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let split: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("split.json"))?)?;
    let idx = |k: &str| -> Result<Vec<usize>> { Ok(serde_json::from_value(split[k].clone())?) };
    let data = ml_sdk::datasets::breast_cancer()?;
    let (train, test) = (data.select_rows(&idx("train")?)?, data.select_rows(&idx("test")?)?);

    let spec = logistic()?.fit_pipeline(&train)?.describe()?;
    let model = HeModel::compile(&spec, Calibration::Data(train.features()), QuantConfig::default())?;
    let key = ClientKey::generate();
    let server = ServerContext::new(model.clone())?;
    let x = test.features();
    let n = x.nrows() as f64;

    let encrypt = median_seconds(rounds, || Ok(key.encrypt(&model, x)?.to_bytes()))?;
    let request = key.encrypt(&model, x)?;
    let up = request.to_bytes();
    let score = median_seconds(rounds, || Ok(server.score(&request)?))?;
    // The server's whole step, the request's parsing and the response's writing included.
    let score_io = median_seconds(rounds, || {
        Ok(server
            .score(&EncryptedRequest::from_bytes(&up, usize::MAX)?)?
            .to_bytes())
    })?;
    let one = key.encrypt(&model, x.slice(ml_sdk::core::ndarray::s![..1, ..]))?;
    let score_one = median_seconds(rounds * 20, || Ok(server.score(&one)?))?;
    // Circuit privacy: each score re-randomized under the client's public key, noise flooded.
    let public = key.public_key();
    let privacy = CircuitPrivacy::new(&model, &public, None)?;
    let (flood_bits, statistical_bits) = (privacy.flood_bits, privacy.statistical_bits);
    let private = ServerContext::new(model.clone())?.with_circuit_privacy(privacy);
    let score_private = median_seconds(rounds, || Ok(private.score(&request)?))?;
    let private_exact =
        key.decrypt(&model, &private.score(&request)?)? == model.accumulate_clear(model.quantize(x)?.view());
    // Label mode: one key switch and one bootstrap a row (on the first 40 rows).
    let t = std::time::Instant::now();
    let evaluation_key = key.evaluation_key();
    let evaluation_keygen = t.elapsed().as_secs_f64();
    let evaluation_key_bytes = evaluation_key.to_bytes().len();
    let t = std::time::Instant::now();
    let labeler = LabelContext::new(&model, &evaluation_key)?;
    let label_setup = t.elapsed().as_secs_f64();
    let few = x.slice(ml_sdk::core::ndarray::s![..40, ..]);
    let few_scores = server.score(&key.encrypt(&model, few)?)?;
    let label_seconds = median_seconds(3, || Ok(labeler.labels(&few_scores)?))?;
    let few_labels = key.decrypt_labels(&model, &labeler.labels(&few_scores)?)?;
    let few_clear = labels(&model.predictions(model.accumulate_clear(model.quantize(few)?.view()).view())?)?;
    let label_agreement = few_labels.iter().zip(&few_clear).filter(|(a, b)| a == b).count() as f64 / 40.0;
    let scores = server.score(&request)?;
    let down = scores.to_bytes();
    let decrypt = median_seconds(rounds, || {
        let s = EncryptedScores::from_bytes(&down, usize::MAX)?;
        Ok(key.decrypt_predictions(&model, &s)?)
    })?;
    let acc = key.decrypt(&model, &scores)?;
    let exact = acc == model.accumulate_clear(model.quantize(x)?.view());
    let truth = test.classes()?.0.to_vec();
    let he = labels(&model.predictions(acc.view())?)?;
    let float = labels(&spec.predict(x)?)?;
    let agreement = he.iter().zip(&float).filter(|(a, b)| a == b).count() as f64 / n;
    println!(
        "{}",
        json!({
            "tool": "ml-sdk",
            "scheme": "LWE (TFHE-rs core_crypto), n=2048, TUniform(17), q=2^64",
            "samples": x.nrows(),
            "encrypt_ms": 1e3 * encrypt / n,
            "server_ms": 1e3 * score / n,
            "server_io_ms": 1e3 * score_io / n,
            "server_one_sample_ms": 1e3 * score_one,
            "decrypt_ms": 1e3 * decrypt / n,
            "server_circuit_private_ms": 1e3 * score_private / n,
            "label_ms": 1e3 * label_seconds / 40.0,
            "label_agreement": label_agreement,
            "label_uncertain_margin": labeler.uncertain_margin(),
            "label_evaluation_key_bytes": evaluation_key_bytes,
            "label_keygen_s": evaluation_keygen,
            "label_server_setup_s": label_setup,
            "circuit_private_exact": private_exact,
            "flood_bits": flood_bits,
            "statistical_bits": statistical_bits,
            "public_key_bytes": public.to_bytes().len(),
            "upload_bytes": up.len() as f64 / n,
            "download_bytes": down.len() as f64 / n,
            "client_key_bytes": key.to_bytes().len(),
            "evaluation_key_bytes": 0,
            "accuracy_float": metrics::accuracy(&truth, &float)?,
            "accuracy_encrypted": metrics::accuracy(&truth, &he)?,
            "agreement": agreement,
            "exact": exact,
            "feature_bits": model.config.feature_bits,
            "weight_bits": model.config.weight_bits,
            "accumulator_bits": model.budget.plaintext_bits,
        })
    );
    Ok(())
}
