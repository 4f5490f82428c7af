//! `mlsdk he`: encrypted inference. The client commands (`keygen`,
//! `encrypt`, `decrypt`) use the key directory; `score`, the server's side,
//! never reads it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use ml_sdk::core::io;
use ml_sdk::he::{
    CircuitPrivacy, ClientKey, DEFAULT_MESSAGE_LIMIT, EncryptedRequest, EncryptedScores, EvaluationKey, HeModel,
    LabelContext, PublicKey, QuantConfig, ServerContext,
};
use serde_json::json;

use crate::output::Output;
use crate::train::{load_options, read_csv};

#[derive(Debug, Subcommand)]
pub enum HeCommand {
    /// Generate a client key into KEYDIR/client.key (mode 0600; it stays with the client) and its public key, KEYDIR/public.key.
    Keygen(KeygenArgs),
    /// Generate label mode's evaluation key (about 30 MB) from the client key, for the server.
    Evalkey(EvalkeyArgs),
    /// Compile a linear model for encrypted scoring, with feature ranges calibrated on data.
    Compile(CompileArgs),
    /// Quantize and encrypt a CSV's rows (columns matched by name) into a request file.
    Encrypt(EncryptArgs),
    /// The server's side: score an encrypted request with the model; needs no key.
    Score(ScoreArgs),
    /// Decrypt a response into predictions (the columns of `mlsdk predict`).
    Decrypt(DecryptArgs),
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key directory (created; an existing key there is not overwritten).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvalkeyArgs {
    /// The key directory (from `mlsdk he keygen`).
    #[arg(long)]
    key: PathBuf,
    /// The evaluation key file.
    #[arg(long)]
    out: PathBuf,
}

/// How a model is found and, when it is not a compiled file, quantized.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A compiled model (`mlsdk he compile`) or a linear model: saved model, .onnx, MLflow model, models:/, runs:/.
    /// Models that are not compiled take their feature ranges from their scaling steps.
    #[arg(long)]
    model: String,
    /// Bits per quantized feature (for a model that is not compiled; both sides must agree).
    #[arg(long, default_value_t = 8)]
    feature_bits: u32,
    /// Bits per quantized weight (for a model that is not compiled; both sides must agree).
    #[arg(long, default_value_t = 8)]
    weight_bits: u32,
    /// The store models:/ and runs:/ URIs resolve against (default: $MLFLOW_TRACKING_URI, else ./mlruns).
    #[arg(long)]
    tracking_uri: Option<String>,
}

impl ModelArgs {
    fn config(&self) -> QuantConfig {
        QuantConfig {
            feature_bits: self.feature_bits,
            weight_bits: self.weight_bits,
        }
    }

    fn load(&self) -> Result<HeModel> {
        let options = load_options(Default::default(), self.tracking_uri.as_deref());
        ml_sdk::he::load_he_model(&self.model, self.config(), &options)
            .with_context(|| format!("loading model {} for encrypted scoring", self.model))
    }
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Rows to calibrate feature ranges on (the training data or a sample of it).
    #[arg(long)]
    data: PathBuf,
    /// The compiled model file.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// The key directory (from `mlsdk he keygen`).
    #[arg(long)]
    key: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// The rows to encrypt (CSV; columns matched by name, extras ignored).
    #[arg(long)]
    data: PathBuf,
    /// The request file.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The request file.
    #[arg(long)]
    input: PathBuf,
    /// The response file.
    #[arg(long)]
    out: PathBuf,
    /// Largest request accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MESSAGE_LIMIT)]
    max_bytes: usize,
    /// Score with circuit privacy for the client of this public key (KEYDIR/public.key): each score
    /// re-randomized and its noise flooded, so the answer does not reveal the weights' combination.
    #[arg(long, value_name = "PUBLIC_KEY")]
    circuit_privacy: Option<PathBuf>,
    /// With --circuit-privacy: flood noise of TUniform(BITS) (default: the widest the plaintext space allows).
    #[arg(long, requires = "circuit_privacy")]
    flood_bits: Option<u32>,
    /// Label mode (binary models): answer each row's encrypted class instead of its score, by one key switch
    /// and one bootstrap with the client's evaluation key (`mlsdk he evalkey`).
    #[arg(long, value_name = "EVALUATION_KEY")]
    labels: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The key directory (from `mlsdk he keygen`).
    #[arg(long)]
    key: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// The response file.
    #[arg(long)]
    input: PathBuf,
    /// The predictions CSV (`-` for stdout).
    #[arg(long)]
    out: PathBuf,
    /// Largest response accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MESSAGE_LIMIT)]
    max_bytes: usize,
}

pub fn run(command: &HeCommand, out: &Output) -> Result<()> {
    match command {
        HeCommand::Keygen(a) => keygen(a, out),
        HeCommand::Evalkey(a) => evalkey(a, out),
        HeCommand::Compile(a) => compile(a, out),
        HeCommand::Encrypt(a) => encrypt(a, out),
        HeCommand::Score(a) => score(a, out),
        HeCommand::Decrypt(a) => decrypt(a, out),
    }
}

fn keygen(args: &KeygenArgs, out: &Output) -> Result<()> {
    let existing = args.out.join(ml_sdk::he::CLIENT_KEY_FILE);
    if existing.exists() {
        anyhow::bail!("{} exists; refusing to overwrite a key", existing.display());
    }
    let start = Instant::now();
    let key = ClientKey::generate();
    let path = key.save(&args.out)?;
    let public = key.public_key().save(&args.out)?;
    let seconds = start.elapsed().as_secs_f64();
    let value = json!({
        "key": path, "public_key": public, "fingerprint": key.fingerprint().to_string(), "parameters": key.params().name,
        "bytes": file_len(&path), "public_key_bytes": file_len(&public), "seconds": seconds,
    });
    out.emit(&value, || {
        format!(
            "wrote client key {} (fingerprint {}); keep it private: only encrypt and decrypt read it\n",
            path.display(),
            key.fingerprint()
        )
    });
    Ok(())
}

fn evalkey(args: &EvalkeyArgs, out: &Output) -> Result<()> {
    let key = ClientKey::load(&args.key).with_context(|| format!("reading the key in {}", args.key.display()))?;
    let start = Instant::now();
    let bytes = key.evaluation_key().to_bytes();
    let seconds = start.elapsed().as_secs_f64();
    io::write_atomic(&args.out, &bytes)?;
    report(out, "evaluation key generated", 0, bytes.len(), seconds, &args.out);
    Ok(())
}

fn compile(args: &CompileArgs, out: &Output) -> Result<()> {
    let start = Instant::now();
    let options = load_options(Default::default(), args.model.tracking_uri.as_deref());
    let frame = read_csv(&args.data)?;
    let model = ml_sdk::he::compile_he_model(&args.model.model, &frame, args.model.config(), &options)
        .with_context(|| format!("compiling {} for encrypted scoring", args.model.model))?;
    model.save(&args.out)?;
    let b = &model.budget;
    let value = json!({
        "out": args.out, "features": model.n_features(), "outputs": model.n_outputs(),
        "feature_bits": model.config.feature_bits, "weight_bits": model.config.weight_bits,
        "plaintext_bits": b.plaintext_bits, "max_accumulator": b.max_accumulator,
        "noise_std": b.output_noise_std, "margin_sigmas": b.margin_sigmas,
        "fingerprint": io::hex(&model.fingerprint()), "rows": frame.n_rows(),
        "seconds": start.elapsed().as_secs_f64(),
    });
    out.emit(&value, || {
        format!(
            "wrote {}: {} features × {} bits, weights {} bits, {}-bit accumulator, Δ/2 = {:.1} σ of the noise\n",
            args.out.display(),
            model.n_features(),
            model.config.feature_bits,
            model.config.weight_bits,
            b.plaintext_bits,
            b.margin_sigmas
        )
    });
    Ok(())
}

fn encrypt(args: &EncryptArgs, out: &Output) -> Result<()> {
    let key = ClientKey::load(&args.key).with_context(|| format!("reading the key in {}", args.key.display()))?;
    let model = args.model.load()?;
    let frame = read_csv(&args.data)?;
    let start = Instant::now();
    let request = ml_sdk::he::encrypt_frame(&key, &model, &frame)?;
    let bytes = request.to_bytes();
    let seconds = start.elapsed().as_secs_f64();
    io::write_atomic(&args.out, &bytes)?;
    report(out, "encrypted", request.n_rows(), bytes.len(), seconds, &args.out);
    Ok(())
}

fn score(args: &ScoreArgs, out: &Output) -> Result<()> {
    let model = args.model.load()?;
    let mut server = ServerContext::new(model.clone())?;
    if let Some(path) = &args.circuit_privacy {
        let public = PublicKey::load(path).with_context(|| format!("reading {}", path.display()))?;
        server = server.with_circuit_privacy(CircuitPrivacy::new(&model, &public, args.flood_bits)?);
    }
    let bytes = read_limited(&args.input, args.max_bytes)?;
    let start = Instant::now();
    let request = EncryptedRequest::from_bytes(&bytes, args.max_bytes)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let mut scores = server.score(&request)?;
    if let Some(path) = &args.labels {
        let key = EvaluationKey::load(path).with_context(|| format!("reading {}", path.display()))?;
        scores = LabelContext::new(&model, &key)?.labels(&scores)?;
    }
    let response = scores.to_bytes();
    let seconds = start.elapsed().as_secs_f64();
    io::write_atomic(&args.out, &response)?;
    let privacy = server.circuit_privacy().map(|p| {
        (
            "circuit_privacy",
            json!({"flood_bits": p.flood_bits, "statistical_bits": p.statistical_bits}),
            format!(
                "with circuit privacy (flood 2^{}, about {:.0} bits of statistical hiding)",
                p.flood_bits, p.statistical_bits
            ),
        )
    });
    report_with(
        out,
        "scored",
        request.n_rows(),
        response.len(),
        seconds,
        &args.out,
        privacy,
    );
    Ok(())
}

fn decrypt(args: &DecryptArgs, out: &Output) -> Result<()> {
    let key = ClientKey::load(&args.key).with_context(|| format!("reading the key in {}", args.key.display()))?;
    let model = args.model.load()?;
    let bytes = read_limited(&args.input, args.max_bytes)?;
    let start = Instant::now();
    let scores = EncryptedScores::from_bytes(&bytes, args.max_bytes)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let pred = key.decrypt_predictions(&model, &scores)?;
    let seconds = start.elapsed().as_secs_f64();
    let mut csv = Vec::new();
    ml_sdk::core::write_predictions_csv(&pred, &mut csv)?;
    match Some(args.out.as_path()).filter(|p| p.as_os_str() != "-") {
        Some(path) => {
            io::write_atomic(path, &csv)?;
            report(out, "decrypted", pred.len(), bytes.len(), seconds, path);
        }
        None => crate::output::write_stdout(&csv),
    }
    Ok(())
}

fn report(out: &Output, what: &str, rows: usize, bytes: usize, seconds: f64, path: &Path) {
    report_with(out, what, rows, bytes, seconds, path, None);
}

/// [`report`] with a field `extra.0` holding `extra.1`, named in the text too.
fn report_with(
    out: &Output,
    what: &str,
    rows: usize,
    bytes: usize,
    seconds: f64,
    path: &Path,
    extra: Option<(&str, serde_json::Value, String)>,
) {
    let mut value = json!({ "step": what, "rows": rows, "bytes": bytes, "seconds": seconds, "out": path });
    let mut what = what.to_string();
    if let Some((key, v, text)) = extra {
        value[key] = v;
        what = format!("{what} {text}");
    }
    out.emit(&value, || {
        format!(
            "{what} {rows} rows in {:.3} s ({bytes} bytes), wrote {}\n",
            seconds,
            path.display()
        )
    });
}

fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>> {
    Ok(io::read_limited("encrypted message", path, limit as u64)?)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
