#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![cfg(unix)]
//! `mlsdk he`: keys, encryption, scoring and decryption as separate
//! processes (the server never reads the key directory), predictions equal
//! to `mlsdk predict`'s for the compiled (quantized) model, the same through
//! `mlsdk serve`'s encrypted route with ml-he's HTTP client on loopback, and
//! the errors a user meets.

mod common;

use common::{Serve, command, run_in};
use ml_sdk::core::Frame;
use ml_sdk::he::{ClientKey, EncryptedScores, HeModel, HttpClient};

fn train(dir: &std::path::Path, data: &str, model: &str, target: &str) {
    run_in(
        dir,
        &[
            "train", "--data", data, "--target", target, "--model", "logistic", "--out", model,
        ],
    );
}

fn json_in(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let text = run_in(dir, &[&["--json"], args].concat());
    serde_json::from_str(&text).unwrap()
}

#[test]
fn encrypt_score_decrypt_predict_as_the_quantized_model_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_in(dir, &["datasets", "export", "breast_cancer", "--out", "bc.csv"]);
    train(dir, "bc.csv", "model", "target");

    let k = json_in(dir, &["he", "keygen", "--out", "keys"]);
    // 2048 key bits and the 66-byte frame (header and digest).
    assert_eq!(k["bytes"].as_u64().unwrap(), 2048 / 8 + 66);
    // A second keygen does not overwrite the key.
    let again = command(&["he", "keygen", "--out", "keys"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(!again.status.success());

    let c = json_in(
        dir,
        &[
            "he", "compile", "--model", "model", "--data", "bc.csv", "--out", "bc.hem",
        ],
    );
    assert_eq!(c["features"], 30);
    assert!(c["margin_sigmas"].as_f64().unwrap() > 13.2);

    let e = json_in(
        dir,
        &[
            "he", "encrypt", "--key", "keys", "--model", "bc.hem", "--data", "bc.csv", "--out", "req.bin",
        ],
    );
    assert_eq!(e["rows"], 569);
    // Upload: a 16-byte seed and 30 64-bit bodies a row, 9 bytes of counts and the frame.
    assert_eq!(e["bytes"].as_u64().unwrap(), 569 * (16 + 30 * 8) + 9 + 66);

    // The server's side runs without the keys (moved away to make sure).
    std::fs::rename(dir.join("keys"), dir.join("client-only")).unwrap();
    let s = json_in(
        dir,
        &[
            "he", "score", "--model", "bc.hem", "--input", "req.bin", "--out", "resp.bin",
        ],
    );
    assert_eq!(s["rows"], 569);
    // With circuit privacy (the public key is the server's to read), the same predictions.
    std::fs::copy(dir.join("client-only/public.key"), dir.join("public.key")).unwrap();
    let p = json_in(
        dir,
        &[
            "he",
            "score",
            "--model",
            "bc.hem",
            "--input",
            "req.bin",
            "--out",
            "resp-private.bin",
            "--circuit-privacy",
            "public.key",
        ],
    );
    assert!(p["circuit_privacy"]["statistical_bits"].as_f64().unwrap() > 10.0, "{p}");
    std::fs::rename(dir.join("client-only"), dir.join("keys")).unwrap();

    let d = json_in(
        dir,
        &[
            "he", "decrypt", "--key", "keys", "--model", "bc.hem", "--input", "resp.bin", "--out", "he.csv",
        ],
    );
    assert_eq!(d["rows"], 569);
    // The compiled model predicts in clear what decryption gives: the same file, byte for byte.
    run_in(
        dir,
        &["predict", "--model", "model", "--data", "bc.csv", "--out", "float.csv"],
    );
    let he = std::fs::read_to_string(dir.join("he.csv")).unwrap();
    run_in(
        dir,
        &[
            "he",
            "decrypt",
            "--key",
            "keys",
            "--model",
            "bc.hem",
            "--input",
            "resp-private.bin",
            "--out",
            "he-private.csv",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("he-private.csv")).unwrap(),
        he,
        "circuit privacy changes no prediction"
    );
    let float = std::fs::read_to_string(dir.join("float.csv")).unwrap();
    assert_eq!(he.lines().next(), float.lines().next(), "the columns of mlsdk predict");
    let label = |l: &str| l.split(',').next().unwrap().to_string();
    let agree = he
        .lines()
        .zip(float.lines())
        .skip(1)
        .filter(|(a, b)| label(a) == label(b))
        .count();
    assert!(agree >= 566, "{agree} of 569 labels agree with the float model");
    let model = HeModel::load(&dir.join("bc.hem")).unwrap();
    let frame = Frame::read_csv(dir.join("bc.csv")).unwrap();
    let x = frame
        .encode(&model.signature.inputs, model.signature.unknown_category)
        .unwrap();
    let mut clear = Vec::new();
    ml_sdk::core::write_predictions_csv(&model.predict_clear(x.view()).unwrap(), &mut clear).unwrap();
    assert_eq!(
        he,
        String::from_utf8(clear).unwrap(),
        "decrypted = the quantized model in clear"
    );

    // Label mode: the server answers encrypted classes (evaluation key sent
    // once); 60 rows, as a bootstrap a row is slow in a debug build.
    let ek = json_in(dir, &["he", "evalkey", "--key", "keys", "--out", "eval.key"]);
    assert!(ek["bytes"].as_u64().unwrap() > 20 << 20, "{ek}");
    let text = std::fs::read_to_string(dir.join("bc.csv")).unwrap();
    std::fs::write(
        dir.join("bc60.csv"),
        text.lines().take(61).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    run_in(
        dir,
        &[
            "he",
            "encrypt",
            "--key",
            "keys",
            "--model",
            "bc.hem",
            "--data",
            "bc60.csv",
            "--out",
            "req60.bin",
        ],
    );
    run_in(
        dir,
        &[
            "he",
            "score",
            "--model",
            "bc.hem",
            "--input",
            "req60.bin",
            "--out",
            "labels.bin",
            "--labels",
            "eval.key",
        ],
    );
    run_in(
        dir,
        &[
            "he",
            "decrypt",
            "--key",
            "keys",
            "--model",
            "bc.hem",
            "--input",
            "labels.bin",
            "--out",
            "labels.csv",
        ],
    );
    let labels = std::fs::read_to_string(dir.join("labels.csv")).unwrap();
    assert_eq!(
        labels.lines().next(),
        Some("prediction"),
        "labels only, no probabilities"
    );
    assert_eq!(labels.lines().count(), 61);
    let same = labels
        .lines()
        .zip(he.lines())
        .skip(1)
        .filter(|(a, b)| label(a) == label(b))
        .count();
    // Rows close to the boundary may flip (LabelContext::uncertain_margin); the rest agree.
    assert!(same >= 57, "{same} of 60 labels agree with the decrypted scores");

    // A plain saved model works too (ranges from its standard scaling), as
    // long as both sides load the same model.
    run_in(
        dir,
        &[
            "he", "encrypt", "--key", "keys", "--model", "model", "--data", "bc.csv", "--out", "req2.bin",
        ],
    );
    run_in(
        dir,
        &[
            "he",
            "score",
            "--model",
            "model",
            "--input",
            "req2.bin",
            "--out",
            "resp2.bin",
        ],
    );
    run_in(
        dir,
        &[
            "he",
            "decrypt",
            "--key",
            "keys",
            "--model",
            "model",
            "--input",
            "resp2.bin",
            "--out",
            "he2.csv",
        ],
    );
    let he2 = std::fs::read_to_string(dir.join("he2.csv")).unwrap();
    let agree2 = he2
        .lines()
        .zip(float.lines())
        .skip(1)
        .filter(|(a, b)| label(a) == label(b))
        .count();
    assert!(agree2 >= 560, "{agree2} of 569");
}

#[test]
fn mistakes_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_in(dir, &["datasets", "export", "breast_cancer", "--out", "bc.csv"]);
    train(dir, "bc.csv", "model", "target");
    run_in(
        dir,
        &[
            "train", "--data", "bc.csv", "--target", "target", "--model", "tree", "--out", "tree",
        ],
    );
    run_in(dir, &["he", "keygen", "--out", "keys"]);
    run_in(dir, &["he", "keygen", "--out", "other"]);
    run_in(
        dir,
        &[
            "he", "encrypt", "--key", "keys", "--model", "model", "--data", "bc.csv", "--out", "req.bin",
        ],
    );
    run_in(
        dir,
        &[
            "he", "score", "--model", "model", "--input", "req.bin", "--out", "resp.bin",
        ],
    );
    let fails = |args: &[&str], needle: &str| {
        let out = command(args).current_dir(dir).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    fails(
        &[
            "he", "decrypt", "--key", "other", "--model", "model", "--input", "resp.bin", "--out", "p.csv",
        ],
        "fingerprint",
    );
    fails(
        &[
            "he",
            "score",
            "--model",
            "model",
            "--feature-bits",
            "6",
            "--input",
            "req.bin",
            "--out",
            "r.bin",
        ],
        "not for this model",
    );
    fails(
        &[
            "he", "encrypt", "--key", "keys", "--model", "tree", "--data", "bc.csv", "--out", "t.bin",
        ],
        "linear model",
    );
    // Truncated and bit-flipped requests; a response given as a request.
    let bytes = std::fs::read(dir.join("req.bin")).unwrap();
    std::fs::write(dir.join("short.bin"), &bytes[..bytes.len() / 2]).unwrap();
    fails(
        &[
            "he",
            "score",
            "--model",
            "model",
            "--input",
            "short.bin",
            "--out",
            "r.bin",
        ],
        "truncated",
    );
    let mut flipped = bytes.clone();
    flipped[500] ^= 4;
    std::fs::write(dir.join("flip.bin"), &flipped).unwrap();
    fails(
        &[
            "he", "score", "--model", "model", "--input", "flip.bin", "--out", "r.bin",
        ],
        "corrupted",
    );
    fails(
        &[
            "he", "score", "--model", "model", "--input", "resp.bin", "--out", "r.bin",
        ],
        "expected a request",
    );
    fails(
        &[
            "he",
            "score",
            "--model",
            "model",
            "--input",
            "req.bin",
            "--out",
            "r.bin",
            "--max-bytes",
            "1000",
        ],
        "limit",
    );
    assert!(!dir.join("r.bin").exists(), "no output file after a failure");
    // A key file that was tampered with.
    let mut key = std::fs::read(dir.join("keys/client.key")).unwrap();
    key[70] ^= 1;
    std::fs::write(dir.join("other/client.key"), &key).unwrap();
    fails(
        &[
            "he", "decrypt", "--key", "other", "--model", "model", "--input", "resp.bin", "--out", "p.csv",
        ],
        "client key",
    );
}

#[test]
fn served_linear_models_take_encrypted_requests_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    run_in(dir, &["datasets", "export", "german_credit", "--out", "credit.csv"]);
    train(dir, "credit.csv", "model", "risk");
    run_in(
        dir,
        &[
            "he",
            "compile",
            "--model",
            "model",
            "--data",
            "credit.csv",
            "--out",
            "credit.hem",
        ],
    );
    run_in(
        dir,
        &[
            "train",
            "--data",
            "credit.csv",
            "--target",
            "risk",
            "--model",
            "tree",
            "--out",
            "tree",
        ],
    );
    let server = Serve::start(
        dir,
        &[
            "--model",
            "credit=credit.hem",
            "--model",
            "plain=model",
            "--model",
            "tree=tree",
        ],
    );
    let client = HttpClient::new(format!("http://{}", server.http));
    let key = ClientKey::generate();
    let frame = Frame::read_csv(dir.join("credit.csv")).unwrap();

    // The compiled file: encrypted answers equal the clear quantized model's.
    let model = HeModel::load(&dir.join("credit.hem")).unwrap();
    let request = ml_sdk::he::encrypt_frame(&key, &model, &frame).unwrap();
    let scores: EncryptedScores = client.score("credit", &request).unwrap();
    let x = frame
        .encode(&model.signature.inputs, model.signature.unknown_category)
        .unwrap();
    assert_eq!(
        key.decrypt(&model, &scores).unwrap(),
        model.accumulate_clear(model.quantize(x.view()).unwrap().view())
    );

    // A plain saved model is compiled by the server as the client compiles it.
    let options = ml_sdk::ModelLoadOptions::new();
    let plain = ml_sdk::he::load_he_model(&dir.join("model").to_string_lossy(), Default::default(), &options).unwrap();
    let request = ml_sdk::he::encrypt_frame(&key, &plain, &frame).unwrap();
    let predictions = key
        .decrypt_predictions(&plain, &client.score("plain", &request).unwrap())
        .unwrap();
    assert_eq!(predictions.len(), frame.n_rows());

    // Refusals: a request for another model (409), a tree (400), no such model (404).
    let err = client
        .score("plain", &ml_sdk::he::encrypt_frame(&key, &model, &frame).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("409"), "{err}");
    let err = client.score("tree", &request).unwrap_err();
    assert!(
        err.to_string().contains("400") && err.to_string().contains("linear"),
        "{err}"
    );
    assert!(client.score("nope", &request).unwrap_err().to_string().contains("404"));
    server.terminate(std::time::Duration::from_secs(10));
}
