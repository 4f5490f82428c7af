//! Serving any model the loader reads: ml-serve's server with models loaded
//! by path or URI, Triton model repositories read and written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ml_core::{Error, Model, Result};
use ml_serve::{LabelKind, ModelInterface, ModelLoader, ServedModel, TritonConfig};

use crate::{ModelFormat, ModelLoadOptions, load_model};

/// Load `uri` (anything [`load_model`] takes) to serve as `name`.
///
/// ml-sdk models predict through their spec, compiled once
/// ([`ml_core::CompiledSpec`]). ONNX models that import to a spec (ml-sdk's
/// exports; scikit-learn's linear and tree models through skl2onnx) predict
/// through the compiled spec too, with the graph's tensor names;
/// other graphs run on the configured ONNX runtime. A `models:/` URI is
/// served as its registry version number, anything else as version `1`.
///
/// # Errors
/// As [`load_model`]; an invalid name.
///
/// With the `he` feature, linear models also take encrypted requests: a
/// compiled encrypted model (`mlsdk he compile`) is served as it is (in
/// clear it predicts as its quantized self), and any other linear model
/// whose scaling steps give its feature ranges is compiled with the default
/// quantization, as `mlsdk he encrypt --model URI` compiles it on the client.
pub fn served_model(name: &str, uri: &str, options: &ModelLoadOptions) -> Result<ServedModel> {
    #[cfg(feature = "he")]
    if let Some(served) = served_he_file(name, uri)? {
        return Ok(served);
    }
    let loaded = load_model(uri, options)?;
    let version = served_version(&loaded);
    let served = served_from(name, &version, uri, loaded)?;
    #[cfg(feature = "he")]
    let served = match served.model().describe().ok().and_then(|spec| {
        ml_he::HeModel::compile(&spec, ml_he::Calibration::default(), ml_he::QuantConfig::default()).ok()
    }) {
        Some(compiled) => served.with_encrypted(Arc::new(ml_he::ServerContext::new(compiled).map_err(he_error)?)),
        None => served,
    };
    Ok(served)
}

/// A compiled encrypted model file, served in clear and encrypted.
#[cfg(feature = "he")]
fn served_he_file(name: &str, uri: &str) -> Result<Option<ServedModel>> {
    let path = Path::new(uri);
    if !path.is_file() || !ml_he::HeModel::sniff(&crate::encrypted::read_head(path).map_err(he_error)?) {
        return Ok(None);
    }
    let model = ml_he::HeModel::load(path).map_err(he_error)?;
    let context = Arc::new(ml_he::ServerContext::new(model.clone()).map_err(he_error)?);
    Ok(Some(
        ServedModel::new(name, "1", Arc::new(model), ModelInterface::default())?
            .with_origin("ml-sdk-he", uri)
            .with_encrypted(context),
    ))
}

#[cfg(feature = "he")]
fn he_error(e: ml_he::Error) -> Error {
    match e {
        ml_he::Error::Core(e) => e,
        e => Error::Unsupported(e.to_string()),
    }
}

/// The version a loaded model is served as: its registry version for a
/// `models:/` URI, else `1`.
fn served_version(loaded: &crate::LoadedModel) -> String {
    loaded
        .source()
        .and_then(|s| s.version.as_ref())
        .map_or_else(|| "1".to_string(), |v| v.version.to_string())
}

fn served_from(name: &str, version: &str, uri: &str, loaded: crate::LoadedModel) -> Result<ServedModel> {
    if loaded.format() == ModelFormat::Saved {
        let saved = loaded.require_saved()?.clone();
        return Ok(
            ServedModel::new(name, version, Arc::new(saved), ModelInterface::default())?.with_origin("ml-sdk", uri),
        );
    }
    let onnx = loaded
        .onnx()
        .ok_or_else(|| Error::Unsupported(format!("{uri}: neither an ml-sdk nor an ONNX model")))?;
    let names = onnx.output_names();
    let defaults = ModelInterface::default();
    let interface = ModelInterface::default()
        .with_input(onnx.input_name())
        .with_double(onnx.takes_double())
        .with_outputs(
            names.label.unwrap_or(defaults.label),
            names.scores.unwrap_or(defaults.probabilities),
            names.value.unwrap_or(defaults.value),
        )
        .with_labels(if onnx.labels_are_indices() {
            LabelKind::Index
        } else {
            LabelKind::Value
        });
    let (model, platform): (Arc<dyn Model>, &str) = match onnx.describe() {
        Ok(spec) => (Arc::new(ml_core::CompiledSpec::new(spec)), "ml-sdk"),
        Err(_) => {
            let platform = match onnx.runtime() {
                ml_onnx::Runtime::Tract => "tract",
                _ => "onnxruntime_onnx",
            };
            (Arc::new(loaded), platform)
        }
    };
    Ok(ServedModel::new(name, version, model, interface)?.with_origin(platform, uri))
}

/// Loads models by path or URI for a server's repository (`POST
/// /v2/repository/models/{m}/load` re-resolves through it).
#[derive(Debug, Clone, Default)]
pub struct UriLoader {
    options: ModelLoadOptions,
}

impl UriLoader {
    /// Load with these options (tracking store, ONNX runtime).
    pub fn new(options: ModelLoadOptions) -> Self {
        Self { options }
    }
}

impl ModelLoader for UriLoader {
    fn load(&self, name: &str, uri: &str) -> Result<ServedModel> {
        served_model(name, uri, &self.options)
    }
}

/// The model file of one version directory of a Triton repository: Triton's
/// `model.onnx`, or an ml-sdk `model.mlsdk`.
fn version_file(dir: &Path) -> Option<PathBuf> {
    ["model.onnx", ml_core::MODEL_FILE]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// Read a Triton model repository: every `REPO/NAME/VERSION/model.onnx`
/// (or `model.mlsdk`), versions being the numbered directories. Directories
/// that hold no model are skipped; `config.pbtxt` is not needed (the ONNX
/// graph says what its tensors are).
///
/// # Errors
/// An unreadable directory, a repository without models, a model that
/// cannot be loaded (named with its path).
pub fn load_triton_repository(repo: &Path, options: &ModelLoadOptions) -> Result<Vec<ServedModel>> {
    let io = |source, path: &Path| Error::Io {
        op: "read directory",
        path: path.to_path_buf(),
        source,
    };
    let mut models = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(repo)
        .map_err(|e| io(e, repo))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    for model_dir in names {
        let Some(name) = model_dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        let mut versions: Vec<(u64, PathBuf)> = std::fs::read_dir(&model_dir)
            .map_err(|e| io(e, &model_dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                let v = p.file_name()?.to_str()?.parse::<u64>().ok()?;
                Some((v, p))
            })
            .collect();
        versions.sort();
        for (version, dir) in versions {
            let Some(file) = version_file(&dir) else { continue };
            let uri = file.to_string_lossy().to_string();
            let loaded = load_model(&uri, options)
                .map_err(|e| Error::invalid("repository", format!("{}: {e}", file.display())))?;
            models.push(served_from(&name, &version.to_string(), &uri, loaded)?);
        }
    }
    if models.is_empty() {
        return Err(Error::invalid(
            "repository",
            format!("{} holds no NAME/VERSION/model.onnx", repo.display()),
        ));
    }
    Ok(models)
}

/// Write a Triton model repository for `model`: `OUT/NAME/config.pbtxt`
/// (platform `onnxruntime_onnx`, tensors from the model's interface,
/// dynamic batching) and `OUT/NAME/1/model.onnx` (the ONNX file as loaded
/// with any `ZipMap` replaced by the probability tensor it wraps, or the
/// export of an ml-sdk model). Staged and renamed into place, so a
/// failure leaves no half-written model directory.
///
/// # Errors
/// A model that has no ONNX form, an existing `OUT/NAME`, I/O failures.
pub fn write_triton_repository(
    out: &Path,
    name: &str,
    uri: &str,
    options: &ModelLoadOptions,
    batch: Option<&ml_serve::BatchPolicy>,
) -> Result<PathBuf> {
    let loaded = load_model(uri, options)?;
    let onnx_bytes = match loaded.format() {
        // Triton's ONNX Runtime back end serves tensors only: a ZipMap's
        // sequence of maps becomes the probability matrix it wraps.
        ModelFormat::Onnx => {
            let bytes = ml_core::io::read_limited("ONNX model", loaded.file(), ml_onnx::MAX_MODEL_BYTES)?;
            let mut graph = ml_onnx::OnnxGraph::parse(&bytes)?;
            ml_onnx::rewrite::strip_zipmap(&mut graph)?;
            graph.to_bytes()
        }
        _ => ml_onnx::export(&loaded.require_saved()?.spec)?,
    };
    let served = served_from(name, "1", uri, loaded)?;
    let config = TritonConfig::new(&served, batch, true).to_pbtxt();
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        op: "create directory",
        path: out.to_path_buf(),
        source,
    })?;
    let target = out.join(name);
    if target.exists() {
        return Err(Error::invalid(
            "out",
            format!("{} exists; remove it or choose another --out", target.display()),
        ));
    }
    let staged = ml_core::io::StagedDir::new(&target)?;
    let write = |path: PathBuf, bytes: &[u8]| ml_core::io::write_atomic(&path, bytes);
    write(staged.path().join("config.pbtxt"), config.as_bytes())?;
    let version = staged.path().join("1");
    std::fs::create_dir_all(&version).map_err(|source| Error::Io {
        op: "create directory",
        path: version.clone(),
        source,
    })?;
    write(version.join("model.onnx"), &onnx_bytes)?;
    staged.commit()?;
    Ok(target)
}

/// Split a `NAME=URI` model argument.
///
/// # Errors
/// No `=`, or an empty name or URI.
pub fn parse_model_arg(arg: &str) -> Result<(String, String)> {
    match arg.split_once('=') {
        Some((name, uri)) if !name.is_empty() && !uri.is_empty() => Ok((name.to_string(), uri.to_string())),
        _ => Err(Error::invalid(
            "model",
            format!("'{}' is not NAME=URI", ml_core::limits::shorten(arg, 100)),
        )),
    }
}

/// The repository a server starts with: each `(name, uri)` loaded (and
/// re-resolvable by URI), then every model of a Triton repository directory.
///
/// # Errors
/// Nothing to serve, a name given twice, a model that does not load.
pub fn build_repository(
    models: &[(String, String)],
    triton: Option<&Path>,
    options: &ModelLoadOptions,
) -> Result<ml_serve::Repository> {
    if models.is_empty() && triton.is_none() {
        return Err(Error::invalid(
            "model",
            "nothing to serve: give --model NAME=URI or --repository DIR",
        ));
    }
    let repo = ml_serve::Repository::with_loader(Arc::new(UriLoader::new(options.clone())));
    let mut seen = std::collections::BTreeSet::new();
    for (name, uri) in models {
        if !seen.insert(name.clone()) {
            return Err(Error::invalid("model", format!("the name '{name}' is given twice")));
        }
        repo.load(name, uri)
            .map_err(|e| Error::invalid("model", format!("{name}={uri}: {e}")))?;
    }
    if let Some(dir) = triton {
        for model in load_triton_repository(dir, options)? {
            if seen.contains(model.name()) {
                return Err(Error::invalid(
                    "repository",
                    format!("'{}' is also given by --model", model.name()),
                ));
            }
            repo.insert(model);
        }
    }
    Ok(repo)
}

/// A served name must be usable in URL paths and file names.
fn check_model_name(name: &str) -> Result<()> {
    ml_serve::model::check_name("model name", name).map_err(|e| Error::invalid("model", e.to_string()))
}

/// The model file behind `uri` and the version it is served as, checked by
/// loading it.
fn model_file(uri: &str, options: &ModelLoadOptions) -> Result<(Vec<u8>, &'static str, String)> {
    let loaded = load_model(uri, options)?;
    let version = served_version(&loaded);
    let (limit, file) = match loaded.format() {
        ModelFormat::Onnx => (ml_onnx::MAX_MODEL_BYTES, "model.onnx"),
        _ => (ml_core::MAX_MODEL_BYTES, ml_core::MODEL_FILE),
    };
    let bytes = ml_core::io::read_limited("model file", loaded.file(), limit)?;
    Ok((bytes, file, version))
}

/// Write a container build context for serving `uri` as `name`:
/// `Dockerfile` and `Dockerfile.source` (see
/// [`ml_serve::DeploySpec::dockerfiles`]), `.dockerignore`,
/// `README.md` with the commands, `bin/mlsdk` (a copy of `server`, the
/// `mlsdk` executable to run in the image) and `models/NAME/VERSION/` (the
/// model file, served as a repository). Staged and moved into place; `out`
/// must not exist or be empty.
///
/// # Errors
/// A model that does not load, a non-empty `out`, an unreadable `server`, I/O failures.
pub fn write_docker_context(
    out: &Path,
    name: &str,
    uri: &str,
    options: &ModelLoadOptions,
    image: Option<&str>,
    server: &Path,
) -> Result<PathBuf> {
    check_model_name(name)?;
    let (bytes, file, version) = model_file(uri, options)?;
    if out.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::invalid(
            "out",
            format!("{} is not empty; choose a new directory", out.display()),
        ));
    }
    let mut spec = ml_serve::DeploySpec::new(name);
    if let Some(image) = image {
        spec = spec.image(image);
    }
    let staged = ml_core::io::StagedDir::new(out)?;
    let dir = staged.path();
    let io = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    };
    let write = |rel: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("create directory", parent))?;
        }
        ml_core::io::write_atomic(&path, bytes)
    };
    let (dockerfile, from_source) = spec.dockerfiles(env!("CARGO_PKG_VERSION"));
    write("Dockerfile", dockerfile.as_bytes())?;
    write("Dockerfile.source", from_source.as_bytes())?;
    write(
        ".dockerignore",
        b"# Only the server and the models go into the image.\n*\n!bin/mlsdk\n!models/\n",
    )?;
    write(&format!("models/{name}/{version}/{file}"), &bytes)?;
    let binary = dir.join("bin/mlsdk");
    std::fs::create_dir_all(dir.join("bin")).map_err(io("create directory", &dir.join("bin")))?;
    std::fs::copy(server, &binary).map_err(io("copy", server))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).map_err(io("chmod", &binary))?;
    }
    let readme = format!(
        "# {name}: a container serving `{uri}`\n\n\
         Written by `mlsdk deploy docker`. The image runs `mlsdk serve` on the model repository in `models/`\n\
         (HTTP/REST on port 8080: the Open Inference Protocol and MLflow's `/invocations`; gRPC on 8081).\n\n\
         ```sh\n\
         docker build -t {image} .\n\
         docker run --rm -p 127.0.0.1:8080:8080 -p 127.0.0.1:8081:8081 {image}\n\
         curl http://127.0.0.1:8080/v2/models/{name}\n\
         ```\n\n\
         With podman, build with `--format docker` (the OCI format drops `HEALTHCHECK`) and run with `--init`\n\
         so SIGTERM reaches the server, which then finishes its requests and exits.\n\n\
         `bin/mlsdk` is the `mlsdk` that wrote this directory (Linux, glibc; Debian bookworm runs it). To build\n\
         the server in the image from crates.io instead: `docker build -f Dockerfile.source -t {image} .`.\n\n\
         The server binds every interface inside the container and runs without a token (`--insecure-public`):\n\
         publish the ports on 127.0.0.1 as above, or mount a token file and replace `--insecure-public` with\n\
         `--auth-token-file PATH` in the command.\n",
        image = spec.image
    );
    write("README.md", readme.as_bytes())?;
    staged.commit()?;
    Ok(out.to_path_buf())
}

/// Write Kubernetes manifests for a server of `uri` as `name` (checked by
/// loading it): `deployment.yaml`, `service.yaml`, `hpa.yaml` into `out`, or
/// with `kserve`, `inferenceservice.yaml` (KServe's v1beta1
/// InferenceService with the image as a custom v2 predictor).
///
/// # Errors
/// A model that does not load, an invalid name, existing files, I/O failures.
pub fn write_kubernetes(
    out: &Path,
    uri: &str,
    options: &ModelLoadOptions,
    spec: &ml_serve::DeploySpec,
    kserve: bool,
) -> Result<Vec<PathBuf>> {
    check_model_name(&spec.name)?;
    spec.validate().map_err(|e| Error::invalid("replicas", e.to_string()))?;
    model_file(uri, options)?;
    let objects = if kserve {
        vec![("inferenceservice.yaml".to_string(), spec.kserve())]
    } else {
        spec.kubernetes()
    };
    ml_serve::deploy::write_manifests(out, &objects)
}
