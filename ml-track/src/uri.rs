//! Model URIs as MLflow spells them (`models:/NAME/VERSION`,
//! `models:/NAME@ALIAS`, `runs:/RUN_ID/PATH`) resolved against any
//! [`TrackingStore`], and fetched to a local directory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::read::TrackingStore;
use crate::registry::ModelVersionInfo;

/// Where a model is: a local path, or a URI into a tracking store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelUri {
    /// A file or directory on this machine.
    Path(PathBuf),
    /// `models:/NAME/VERSION`.
    Version {
        /// Registered model name.
        name: String,
        /// Version number.
        version: u64,
    },
    /// `models:/NAME@ALIAS` (`latest` included).
    Alias {
        /// Registered model name.
        name: String,
        /// Alias.
        alias: String,
    },
    /// `runs:/RUN_ID/PATH`.
    Run {
        /// The run.
        run_id: String,
        /// Artifact path inside the run.
        path: String,
    },
}

impl ModelUri {
    /// Parse a model URI; anything without a `models:` or `runs:` scheme is a path.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed `models:/` or `runs:/` URI.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Invalid {
            field: "model URI",
            value: text.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = text.strip_prefix("models:") {
            let rest = rest.trim_start_matches('/');
            if let Some((name, alias)) = rest.split_once('@') {
                if name.is_empty() || alias.is_empty() || alias.contains('/') {
                    return Err(bad("expected models:/NAME@ALIAS"));
                }
                return Ok(ModelUri::Alias {
                    name: name.to_string(),
                    alias: alias.to_string(),
                });
            }
            let (name, version) = rest
                .rsplit_once('/')
                .ok_or_else(|| bad("expected models:/NAME/VERSION or models:/NAME@ALIAS"))?;
            let version: u64 = version
                .parse()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| bad("the version is not a positive integer"))?;
            if name.is_empty() {
                return Err(bad("no model name"));
            }
            return Ok(ModelUri::Version {
                name: name.to_string(),
                version,
            });
        }
        if let Some(rest) = text.strip_prefix("runs:") {
            let rest = rest.trim_start_matches('/');
            let (run_id, path) = rest.split_once('/').ok_or_else(|| bad("expected runs:/RUN_ID/PATH"))?;
            crate::validate::id("run id", run_id)?;
            if path.starts_with('/') {
                return Err(bad(
                    "the artifact path after the run id is relative to the run's artifacts",
                ));
            }
            let path = path.trim_end_matches('/');
            if !path.is_empty() {
                crate::validate::artifact_path(path)?;
            }
            return Ok(ModelUri::Run {
                run_id: run_id.to_string(),
                path: path.to_string(),
            });
        }
        Ok(ModelUri::Path(PathBuf::from(text)))
    }

    /// Whether resolving it needs a tracking store.
    pub fn needs_store(&self) -> bool {
        !matches!(self, ModelUri::Path(_))
    }
}

/// A registered or logged model's place in a store.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    /// The run that holds it.
    pub run_id: String,
    /// Its artifact path in that run.
    pub artifact_path: String,
    /// The registry entry, for `models:/` URIs.
    pub version: Option<ModelVersionInfo>,
}

/// Resolve a `models:/` or `runs:/` URI to a run and artifact path.
///
/// # Errors
/// [`Error::Invalid`] for a plain path; unknown models, versions, aliases;
/// a version whose source is not `runs:/…` ([`Error::UnsupportedUri`]).
pub fn resolve_model_uri(store: &dyn TrackingStore, uri: &ModelUri) -> Result<ResolvedModel> {
    let version = match uri {
        ModelUri::Path(p) => {
            return Err(Error::Invalid {
                field: "model URI",
                value: p.display().to_string(),
                reason: "a local path, not a models:/ or runs:/ URI".into(),
            });
        }
        ModelUri::Run { run_id, path } => {
            return Ok(ResolvedModel {
                run_id: run_id.clone(),
                artifact_path: path.clone(),
                version: None,
            });
        }
        ModelUri::Version { name, version } => store.model_version(name, *version)?,
        ModelUri::Alias { name, alias } => store.resolve_alias(name, alias)?,
    };
    let (run_id, artifact_path) = match ModelUri::parse(&version.source)? {
        ModelUri::Run { run_id, path } => (run_id, path),
        _ => {
            return Err(Error::UnsupportedUri(format!(
                "{} (the source of {} version {}; only runs:/ sources are read)",
                version.source, version.name, version.version
            )));
        }
    };
    Ok(ResolvedModel {
        run_id,
        artifact_path,
        version: Some(version),
    })
}

/// A model on this machine: in place (a local path, a local store, a server's
/// shared artifact directory) or downloaded to a temporary directory that
/// lives as long as this value.
#[derive(Debug)]
pub struct FetchedModel {
    path: PathBuf,
    resolved: Option<ResolvedModel>,
    _download: Option<tempfile::TempDir>,
}

impl FetchedModel {
    /// The model's file or directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run and registry entry it came from, for URIs.
    pub fn resolved(&self) -> Option<&ResolvedModel> {
        self.resolved.as_ref()
    }
}

/// Bring a model to this machine: a path as it is; a `models:/` or `runs:/`
/// URI resolved against `store` and read in place where the artifacts are
/// local, else downloaded.
///
/// # Errors
/// As [`resolve_model_uri`]; a `models:/` or `runs:/` URI without a store;
/// a missing artifact; download failures.
pub fn fetch_model(uri: &ModelUri, store: Option<&dyn TrackingStore>) -> Result<FetchedModel> {
    if let ModelUri::Path(p) = uri {
        return Ok(FetchedModel {
            path: p.clone(),
            resolved: None,
            _download: None,
        });
    }
    let store = store.ok_or_else(|| Error::Invalid {
        field: "model URI",
        value: format!("{uri:?}"),
        reason: "needs a tracking store".into(),
    })?;
    let resolved = resolve_model_uri(store, uri)?;
    if let Some(path) = store.local_artifact_path(&resolved.run_id, &resolved.artifact_path)? {
        if !path.exists() {
            return Err(Error::NotFound {
                what: "artifact",
                id: format!("runs:/{}/{}", resolved.run_id, resolved.artifact_path),
            });
        }
        // Read in place, every file of the model must lie inside the run's
        // artifacts, links resolved, as a download would have it.
        if let Some(root) = store.local_artifact_path(&resolved.run_id, "")? {
            crate::read::check_tree_confined(&root, &path)?;
        }
        return Ok(FetchedModel {
            path,
            resolved: Some(resolved),
            _download: None,
        });
    }
    let dir = tempfile::Builder::new()
        .prefix("mlsdk-model-")
        .tempdir()
        .map_err(Error::io("create a temporary directory in", &std::env::temp_dir()))?;
    let path = store.download_artifacts(&resolved.run_id, &resolved.artifact_path, &dir.path().join("m"))?;
    Ok(FetchedModel {
        path,
        resolved: Some(resolved),
        _download: Some(dir),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mlflow_model_uris() {
        assert_eq!(
            ModelUri::parse("models:/credit@champion").unwrap(),
            ModelUri::Alias {
                name: "credit".into(),
                alias: "champion".into()
            }
        );
        assert_eq!(
            ModelUri::parse("models:/credit/3").unwrap(),
            ModelUri::Version {
                name: "credit".into(),
                version: 3
            }
        );
        assert_eq!(
            ModelUri::parse("runs:/0123abcd/model").unwrap(),
            ModelUri::Run {
                run_id: "0123abcd".into(),
                path: "model".into()
            }
        );
        assert_eq!(
            ModelUri::parse("model/").unwrap(),
            ModelUri::Path(PathBuf::from("model/"))
        );
        for bad in [
            "models:/credit",
            "models:/credit/0",
            "models:/credit/x",
            "models:/@a",
            "runs:/abc",
            "runs:/../x/model",
            "runs:/abc//etc/model",
            "runs:/abc/model/../../outside",
        ] {
            assert!(ModelUri::parse(bad).is_err(), "{bad}");
        }
    }
}
