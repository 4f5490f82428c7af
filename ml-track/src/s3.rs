//! Run artifacts in an S3-compatible object store (feature `s3`), as
//! MLflow's own client reaches them when a server hands out `s3://` artifact
//! locations (`mlflow server --default-artifact-root s3://bucket/path
//! --no-serve-artifacts`).
//!
//! Configuration ([`S3Config`]) comes from the environment by default, as
//! MLflow's client (boto3) reads it: `MLFLOW_S3_ENDPOINT_URL` for an
//! S3-compatible server other than AWS (MinIO, Ceph, moto; path-style
//! requests, plain HTTP allowed when the URL says `http://`),
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_DEFAULT_REGION` or `AWS_REGION` (default `us-east-1`).
//!
//! The requests run on a runtime of this module's own, on one background
//! thread; the calls here block the calling thread until they finish, from
//! any thread (an async caller should use its runtime's blocking pool).

use std::fmt;
use std::sync::{Arc, OnceLock};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::read::{ArtifactEntry, join_artifact_path};
use crate::{Error, Result};

/// The runtime every S3 request runs on: a current-thread runtime driven by
/// one background thread, so callers need no runtime of their own.
fn runtime() -> Result<&'static tokio::runtime::Handle> {
    static HANDLE: OnceLock<std::result::Result<tokio::runtime::Handle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let handle = rt.handle().clone();
            std::thread::Builder::new()
                .name("ml-track-s3".into())
                .spawn(move || rt.block_on(std::future::pending::<()>()))
                .map_err(|e| e.to_string())?;
            Ok(handle)
        })
        .as_ref()
        .map_err(|e| Error::Transport {
            url: "s3".into(),
            reason: format!("starting the S3 client's runtime: {e}"),
        })
}

/// Run `f` on the S3 runtime and wait for it.
fn block_on<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().map_err(|_| Error::Transport {
        url: "s3".into(),
        reason: "the S3 request was dropped".into(),
    })
}

/// A run's artifact directory in a bucket: `s3://BUCKET/PREFIX`.
#[derive(Clone)]
pub(crate) struct S3Location {
    uri: String,
    store: Arc<AmazonS3>,
    prefix: String,
}

impl fmt::Debug for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Location")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// How to reach an S3-compatible store: [`S3Config::from_env`] reads what
/// MLflow's client reads; the setters override it.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct S3Config {
    /// An S3-compatible server other than AWS (`http://127.0.0.1:9000`):
    /// requests go path-style, plain HTTP is allowed when it says `http://`.
    pub endpoint: Option<String>,
    /// The access key.
    pub access_key_id: Option<String>,
    /// The secret key (never printed by `Debug`).
    pub secret_access_key: Option<String>,
    /// A session token for temporary credentials.
    pub session_token: Option<String>,
    /// The region (default `us-east-1`).
    pub region: Option<String>,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("region", &self.region)
            .finish()
    }
}

impl S3Config {
    /// `MLFLOW_S3_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_DEFAULT_REGION` (or `AWS_REGION`).
    pub fn from_env() -> Self {
        S3Config {
            endpoint: env("MLFLOW_S3_ENDPOINT_URL"),
            access_key_id: env("AWS_ACCESS_KEY_ID"),
            secret_access_key: env("AWS_SECRET_ACCESS_KEY"),
            session_token: env("AWS_SESSION_TOKEN"),
            region: env("AWS_DEFAULT_REGION").or_else(|| env("AWS_REGION")),
        }
    }

    /// Use this S3-compatible server.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Use these credentials.
    pub fn credentials(mut self, access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(secret_access_key.into());
        self
    }

    /// Use this region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
}

impl S3Location {
    /// The location an `s3://bucket/prefix` URI names, reached with `config`.
    pub(crate) fn from_uri(uri: &str, config: &S3Config) -> Result<Self> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| Error::UnsupportedUri(format!("{uri} is not an s3:// URI")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::UnsupportedUri(format!("{uri} names no bucket")));
        }
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(config.region.clone().unwrap_or_else(|| "us-east-1".into()));
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token);
        }
        if let Some(endpoint) = config.endpoint.clone() {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false)
                .with_endpoint(endpoint);
        }
        // reqwest's TLS takes the process's rustls provider; install ring
        // (the one ureq uses) unless the application chose one.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let store = builder.build().map_err(|e| Error::Transport {
            url: uri.into(),
            reason: format!("configuring the S3 client: {e}"),
        })?;
        Ok(S3Location {
            uri: uri.to_string(),
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    fn key(&self, path: &str) -> ObjectPath {
        let path = path.trim_matches('/');
        if path.is_empty() {
            ObjectPath::from(self.prefix.as_str())
        } else {
            ObjectPath::from(join_artifact_path(&self.prefix, path))
        }
    }

    /// The `s3://` URL of an artifact, for error messages.
    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.uri.trim_end_matches('/'), path.trim_matches('/'))
    }

    fn failure(&self, path: &str, e: object_store::Error) -> Error {
        match e {
            object_store::Error::NotFound { .. } => Error::NotFound {
                what: "artifact",
                id: path.to_string(),
            },
            other => Error::Transport {
                url: self.url(path),
                reason: other.to_string(),
            },
        }
    }

    /// Write one object.
    pub(crate) fn put(&self, path: &str, contents: &[u8]) -> Result<()> {
        let (store, key) = (self.store.clone(), self.key(path));
        let payload = PutPayload::from(contents.to_vec());
        block_on(async move { store.put(&key, payload).await })?
            .map(drop)
            .map_err(|e| self.failure(path, e))
    }

    /// Read one object of at most `limit` bytes.
    pub(crate) fn get(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let (store, key) = (self.store.clone(), self.key(path));
        let result = block_on(async move {
            let got = store.get(&key).await?;
            let size = got.meta.size;
            if size > limit {
                return Ok(Err(size));
            }
            got.bytes().await.map(|b| Ok(b.to_vec()))
        })?
        .map_err(|e| self.failure(path, e))?;
        result.map_err(|size| Error::Transport {
            url: self.url(path),
            reason: format!("the object holds {size} bytes, over the {limit}-byte limit"),
        })
    }

    /// The entries directly below `path`.
    pub(crate) fn list(&self, path: &str) -> Result<Vec<ArtifactEntry>> {
        let path = path.trim_matches('/');
        let (store, key) = (self.store.clone(), self.key(path));
        let root = key.clone();
        let listing = block_on(async move {
            let prefix = (!root.as_ref().is_empty()).then_some(&root);
            store.list_with_delimiter(prefix).await
        })?
        .map_err(|e| self.failure(path, e))?;
        let name_of = |p: &ObjectPath| p.filename().map(str::to_string);
        let joined = |name: String| join_artifact_path(path, &name);
        let mut out: Vec<ArtifactEntry> = listing
            .common_prefixes
            .iter()
            .filter_map(name_of)
            .map(|name| ArtifactEntry {
                path: joined(name),
                is_dir: true,
                file_size: None,
            })
            .chain(listing.objects.iter().filter(|o| o.location != key).filter_map(|o| {
                name_of(&o.location).map(|name| ArtifactEntry {
                    path: joined(name),
                    is_dir: false,
                    file_size: Some(o.size),
                })
            }))
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}
