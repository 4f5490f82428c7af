//! `mlsdk serve` and `mlsdk deploy`: thin wrappers over `ml_sdk::serve`.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};
use ml_sdk::serve::{
    BatchPolicy, DEFAULT_MAX_BODY, ServeConfig, build_repository, parse_model_arg, write_triton_repository,
};

use crate::output::Output;
use crate::train::{RuntimeArg, load_options};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A model to serve, as NAME=URI (repeatable): a saved model, an ONNX
    /// file, an MLflow model directory, models:/NAME@ALIAS, runs:/RUN/PATH.
    /// MLflow's /invocations scores the first one.
    #[arg(long = "model", value_name = "NAME=URI")]
    models: Vec<String>,
    /// A Triton model repository to serve: NAME/VERSION/model.onnx (or model.mlsdk).
    #[arg(long)]
    repository: Option<PathBuf>,
    /// The address to listen on; anything but loopback needs --auth-token-file or --insecure-public.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The HTTP port (0: a free one). Once listening, the bound HTTP address is printed, then the gRPC one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The gRPC port (Open Inference Protocol, inference.GRPCInferenceService; 0: a free one).
    #[arg(long, default_value_t = 8081)]
    grpc_port: u16,
    /// Merge concurrent requests of a model into calls of up to N rows (dynamic batching).
    #[arg(long, value_name = "N")]
    max_batch: Option<usize>,
    /// With --max-batch: how long the first request of a batch waits for others, in microseconds.
    #[arg(long, value_name = "U", default_value_t = 500)]
    batch_delay_us: u64,
    /// Largest request body in bytes, before and after decompression.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY)]
    max_body: usize,
    /// A file holding the bearer token that inference and repository routes require.
    #[arg(long, value_name = "F")]
    auth_token_file: Option<PathBuf>,
    /// Serve on a non-loopback address without a token.
    #[arg(long)]
    insecure_public: bool,
    /// Runtime for ONNX models that do not import to an ml-sdk spec.
    #[arg(long, value_enum, default_value_t)]
    runtime: RuntimeArg,
    /// The store models:/ and runs:/ URIs resolve against: a path or file:
    /// URI, or an MLflow server (http://...) (default: $MLFLOW_TRACKING_URI, else ./mlruns).
    #[arg(long)]
    tracking_uri: Option<String>,
    /// Request logs on stderr (one line a request: id, method, path, status, time).
    #[arg(long, value_enum, default_value_t = LogFormat::Off)]
    log: LogFormat,
}

/// How `mlsdk serve` logs requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// No request logs (warnings still go to stderr).
    Off,
    /// Human-readable lines.
    Text,
    /// JSON lines, for log collectors.
    Json,
}

fn init_logs(format: LogFormat) {
    use tracing_subscriber::filter::LevelFilter;
    let level = if format == LogFormat::Off {
        LevelFilter::WARN
    } else {
        LevelFilter::INFO
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A subscriber set earlier (none in mlsdk) would win; nothing to report then.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        _ => builder.with_ansi(false).try_init(),
    };
}

fn batch_policy(max_batch: Option<usize>, delay_us: u64) -> Option<BatchPolicy> {
    max_batch.map(|max_rows| BatchPolicy {
        max_rows,
        delay: Duration::from_micros(delay_us),
    })
}

pub fn serve(args: &ServeArgs, _out: &Output) -> Result<()> {
    init_logs(args.log);
    let mut config = ServeConfig::new()
        .bind(args.host, args.port)
        .grpc(args.grpc_port)
        .max_body(args.max_body);
    config.batch = batch_policy(args.max_batch, args.batch_delay_us);
    config.insecure_public = args.insecure_public;
    if let Some(f) = &args.auth_token_file {
        config = config.auth_token_file(f)?;
    }
    config.validate()?;
    let models = args
        .models
        .iter()
        .map(|m| parse_model_arg(m))
        .collect::<ml_sdk::core::Result<Vec<_>>>()?;
    let options = load_options(args.runtime, args.tracking_uri.as_deref());
    let repo = build_repository(&models, args.repository.as_deref(), &options)?;
    let mut server = ml_sdk::serve::start(Arc::new(repo), config)?;
    // Signals are ours before the address is out: a client may send SIGTERM
    // as soon as it has read it.
    server.install_signal_handlers()?;
    // A reader that has closed standard output after the first line must
    // not stop a server that is already listening: write errors are ignored.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", server.http_addr());
    if let Some(grpc) = server.grpc_addr() {
        let _ = writeln!(stdout, "{grpc}");
    }
    let _ = stdout.flush();
    server.wait_for_signal()?;
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Write a Triton model repository: OUT/NAME/config.pbtxt and OUT/NAME/1/model.onnx.
    Triton(TritonArgs),
    /// Write a container build context: Dockerfiles, .dockerignore, README.md, the server and the model.
    Docker(DockerArgs),
    /// Write Kubernetes manifests: a Deployment, a Service and a HorizontalPodAutoscaler.
    K8s(KubernetesArgs),
    /// Write a KServe InferenceService running the image as a custom predictor (Open Inference Protocol).
    Kserve(KubernetesArgs),
}

#[derive(Debug, Args)]
pub struct DockerArgs {
    /// The model, as NAME=URI (a saved model, an ONNX file, models:/…, runs:/…).
    #[arg(long, value_name = "NAME=URI")]
    model: String,
    /// The build context directory (must be new or empty).
    #[arg(long)]
    out: PathBuf,
    /// The image tag the README's commands use (default: mlsdk-NAME:latest).
    #[arg(long)]
    image: Option<String>,
    /// The mlsdk executable to put in the image (default: this one; a stripped release build is smaller).
    #[arg(long, value_name = "PATH")]
    server_binary: Option<PathBuf>,
    /// The store models:/ and runs:/ URIs resolve against (default: $MLFLOW_TRACKING_URI, else ./mlruns).
    #[arg(long)]
    tracking_uri: Option<String>,
}

#[derive(Debug, Args)]
pub struct KubernetesArgs {
    /// The model, as NAME=URI; NAME names the objects, the URI is checked to load.
    #[arg(long, value_name = "NAME=URI")]
    model: String,
    /// The directory for the manifests (created if missing; existing files are not overwritten).
    #[arg(long)]
    out: PathBuf,
    /// The container image, as `mlsdk deploy docker` builds it (default: mlsdk-NAME:latest).
    #[arg(long)]
    image: Option<String>,
    /// Replicas at least (the autoscaler's minimum).
    #[arg(long, default_value_t = 1)]
    replicas: u32,
    /// Replicas at most (the autoscaler's maximum).
    #[arg(long, default_value_t = 4)]
    max_replicas: u32,
    /// The store models:/ and runs:/ URIs resolve against (default: $MLFLOW_TRACKING_URI, else ./mlruns).
    #[arg(long)]
    tracking_uri: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The health route to ask, e.g. http://127.0.0.1:8080/v2/health/ready.
    url: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 2)]
    timeout: u64,
}

/// Exit 0 when the route answers 200 (for container health checks).
pub fn probe(args: &ProbeArgs) -> Result<()> {
    ml_sdk::serve::probe(&args.url, Duration::from_secs(args.timeout))?;
    Ok(())
}

fn kubernetes(args: &KubernetesArgs, kserve: bool, out: &Output) -> Result<()> {
    let (name, uri) = parse_model_arg(&args.model)?;
    let mut spec = ml_sdk::serve::DeploySpec::new(&name).replicas(args.replicas, args.max_replicas);
    if let Some(image) = &args.image {
        spec = spec.image(image.clone());
    }
    spec.validate()?;
    let options = load_options(RuntimeArg::Tract, args.tracking_uri.as_deref());
    let files = ml_sdk::serve::write_kubernetes(&args.out, &uri, &options, &spec, kserve)?;
    out.emit(&serde_json::json!({ "files": files, "image": spec.image }), || {
        let mut text: String = files.iter().map(|f| format!("wrote {}\n", f.display())).collect();
        text.push_str(&format!(
            "apply: kubectl apply -f {} (the image {} must be in a registry the cluster pulls from)\n",
            args.out.display(),
            spec.image
        ));
        text
    });
    Ok(())
}

#[derive(Debug, Args)]
pub struct TritonArgs {
    /// The model, as NAME=URI (a saved model, an ONNX file, models:/…, runs:/…).
    #[arg(long, value_name = "NAME=URI")]
    model: String,
    /// The repository directory (created if missing; OUT/NAME must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Largest batch Triton may form (max_batch_size).
    #[arg(long, value_name = "N", default_value_t = ml_sdk::serve::triton::DEFAULT_MAX_BATCH_SIZE)]
    max_batch: usize,
    /// Triton's dynamic batching delay (max_queue_delay_microseconds).
    #[arg(long, value_name = "U", default_value_t = 500)]
    batch_delay_us: u64,
    /// The store models:/ and runs:/ URIs resolve against (default: $MLFLOW_TRACKING_URI, else ./mlruns).
    #[arg(long)]
    tracking_uri: Option<String>,
}

pub fn deploy(command: &DeployCommand, out: &Output) -> Result<()> {
    match command {
        DeployCommand::K8s(args) => kubernetes(args, false, out),
        DeployCommand::Kserve(args) => kubernetes(args, true, out),
        DeployCommand::Docker(args) => {
            let (name, uri) = parse_model_arg(&args.model)?;
            let options = load_options(RuntimeArg::Tract, args.tracking_uri.as_deref());
            let server = match &args.server_binary {
                Some(path) => path.clone(),
                None => std::env::current_exe()?,
            };
            let dir =
                ml_sdk::serve::write_docker_context(&args.out, &name, &uri, &options, args.image.as_deref(), &server)?;
            let image = args
                .image
                .clone()
                .unwrap_or_else(|| ml_sdk::serve::DeploySpec::new(&name).image);
            out.emit(&serde_json::json!({ "context": dir, "image": image }), || {
                format!(
                    "wrote {}/Dockerfile, Dockerfile.source, .dockerignore, README.md, bin/mlsdk and models/{name}/\n\
                     build: docker build -t {image} {}\n",
                    dir.display(),
                    dir.display()
                )
            });
            Ok(())
        }
        DeployCommand::Triton(args) => {
            let (name, uri) = parse_model_arg(&args.model)?;
            let options = load_options(RuntimeArg::Tract, args.tracking_uri.as_deref());
            let policy = batch_policy(Some(args.max_batch), args.batch_delay_us);
            let dir = write_triton_repository(&args.out, &name, &uri, &options, policy.as_ref())?;
            out.emit(&serde_json::json!({"repository": args.out, "model": dir}), || {
                format!(
                    "wrote {}/config.pbtxt and {}/1/model.onnx\nserve it: tritonserver --model-repository {} (or mlsdk serve --repository {})\n",
                    dir.display(),
                    dir.display(),
                    args.out.display(),
                    args.out.display()
                )
            });
            Ok(())
        }
    }
}
