//! The model registry of the local store: MLflow's `models/` layout
//! (`models/<name>/meta.yaml`, `version-<n>/meta.yaml`, `aliases/<alias>`).

use std::fs;

use ml_core::RunId;
use ml_core::io::write_atomic;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::{MlflowStore, now_ms};
use crate::yaml::{self, Scalar};

/// One registered model version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersionInfo {
    /// Registered model name.
    pub name: String,
    /// Version number, from 1.
    pub version: u64,
    /// `runs:/<run id>/<artifact path>`.
    pub source: String,
    /// The run that logged it.
    pub run_id: String,
    /// Milliseconds since the epoch.
    pub creation_timestamp: i64,
    /// Aliases pointing at this version.
    pub aliases: Vec<String>,
}

/// Check a registered model's name as MLflow does, before any work that
/// would register under it.
///
/// # Errors
/// [`Error::Invalid`].
pub fn check_model_name(name: &str) -> Result<()> {
    let bad = name.trim().is_empty()
        || name.contains('/')
        || name.contains(':')
        || name == "."
        || name == ".."
        || name.chars().any(char::is_control);
    if bad {
        return Err(Error::Invalid {
            field: "registered model name",
            value: name.to_string(),
            reason: "must be non-empty and contain no '/', ':' or control characters".into(),
        });
    }
    Ok(())
}

fn check_alias(alias: &str) -> Result<()> {
    let chars_ok =
        !alias.is_empty() && alias.len() <= 255 && alias.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    let reserved = alias.eq_ignore_ascii_case("latest")
        || (alias.len() > 1 && alias.starts_with(['v', 'V']) && alias[1..].chars().all(|c| c.is_ascii_digit()));
    if !chars_ok || reserved {
        return Err(Error::Invalid {
            field: "model alias",
            value: alias.to_string(),
            reason: "aliases are letters, digits, '_' and '-'; 'latest' and 'v<number>' are reserved".into(),
        });
    }
    Ok(())
}

impl MlflowStore {
    fn model_dir(&self, name: &str) -> Result<std::path::PathBuf> {
        check_model_name(name)?;
        Ok(self.root().join("models").join(name))
    }

    /// Register `runs:/<run>/<artifact_path>` as a new version of the model
    /// `name` (created if missing). The artifact must exist.
    ///
    /// # Errors
    /// Invalid names, an unknown run or artifact, I/O failures.
    pub fn register_model(&self, name: &str, run: &RunId, artifact_path: &str) -> Result<ModelVersionInfo> {
        crate::validate::artifact_path(artifact_path)?;
        let run_dir = self.run_dir(&run.0)?;
        if !run_dir.join("artifacts").join(artifact_path).exists() {
            return Err(Error::NotFound {
                what: "artifact",
                id: format!("runs:/{}/{artifact_path}", run.0),
            });
        }
        let dir = self.model_dir(name)?;
        fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let _lock = self.lock_file(&dir.join(".mlsdk-versions.lock"))?;
        let now = now_ms();
        if !dir.join("meta.yaml").exists() {
            let text = yaml::write(&[
                ("aliases", Scalar::EmptyMap),
                ("creation_timestamp", Scalar::Int(now)),
                ("deployment_job_id", Scalar::Null),
                ("deployment_job_state", Scalar::Null),
                ("description", Scalar::Null),
                ("last_updated_timestamp", Scalar::Int(now)),
                ("name", Scalar::Str(name.to_string())),
                ("workspace", Scalar::Str("default".into())),
            ]);
            write_atomic(&dir.join("meta.yaml"), text.as_bytes())?;
        }
        let version = self.model_versions(name)?.iter().map(|v| v.version).max().unwrap_or(0) + 1;
        let source = format!("runs:/{}/{artifact_path}", run.0);
        let vdir = dir.join(format!("version-{version}"));
        fs::create_dir_all(&vdir).map_err(Error::io("create", &vdir))?;
        let text = yaml::write(&[
            ("creation_timestamp", Scalar::Int(now)),
            ("current_stage", Scalar::Plain("None".into())),
            ("deployment_job_state", Scalar::Null),
            ("description", Scalar::Null),
            ("last_updated_timestamp", Scalar::Int(now)),
            ("model_id", Scalar::Null),
            ("name", Scalar::Str(name.to_string())),
            ("run_id", Scalar::Str(run.0.clone())),
            ("run_link", Scalar::Null),
            ("source", Scalar::Str(source.clone())),
            ("status", Scalar::Str("READY".into())),
            ("status_message", Scalar::Null),
            ("storage_location", Scalar::Str(source.clone())),
            ("user_id", Scalar::Null),
            ("version", Scalar::Int(version as i64)),
            ("workspace", Scalar::Str("default".into())),
        ]);
        write_atomic(&vdir.join("meta.yaml"), text.as_bytes())?;
        Ok(ModelVersionInfo {
            name: name.to_string(),
            version,
            source,
            run_id: run.0.clone(),
            creation_timestamp: now,
            aliases: Vec::new(),
        })
    }

    /// Registered model names.
    ///
    /// # Errors
    /// I/O failures.
    pub fn registered_models(&self) -> Result<Vec<String>> {
        let dir = self.root().join("models");
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).map_err(Error::io("list", &dir))? {
            let path = entry.map_err(Error::io("list", &dir))?.path();
            if path.join("meta.yaml").exists() {
                names.push(
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
            }
        }
        names.sort();
        Ok(names)
    }

    /// The versions of a registered model, oldest first, with their aliases.
    ///
    /// # Errors
    /// An unknown model, I/O failures.
    pub fn model_versions(&self, name: &str) -> Result<Vec<ModelVersionInfo>> {
        let dir = self.model_dir(name)?;
        if !dir.join("meta.yaml").exists() {
            return Err(Error::NotFound {
                what: "registered model",
                id: name.into(),
            });
        }
        let aliases = self.aliases(name)?;
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(Error::io("list", &dir))? {
            let path = entry.map_err(Error::io("list", &dir))?.path();
            let is_version = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("version-"));
            if !is_version || !path.join("meta.yaml").exists() {
                continue;
            }
            let m = Self::read_meta(&path.join("meta.yaml"))?;
            let version: u64 = m
                .get("version")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| Error::Malformed {
                    path: path.join("meta.yaml"),
                    reason: "no version".into(),
                })?;
            out.push(ModelVersionInfo {
                name: name.to_string(),
                version,
                source: m.get("source").cloned().unwrap_or_default(),
                run_id: m.get("run_id").cloned().unwrap_or_default(),
                creation_timestamp: m.get("creation_timestamp").and_then(|v| v.parse().ok()).unwrap_or(0),
                aliases: aliases
                    .iter()
                    .filter(|(_, v)| *v == version)
                    .map(|(a, _)| a.clone())
                    .collect(),
            });
        }
        out.sort_by_key(|v| v.version);
        Ok(out)
    }

    fn aliases(&self, name: &str) -> Result<Vec<(String, u64)>> {
        let dir = self.model_dir(name)?.join("aliases");
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(Error::io("list", &dir))? {
            let path = entry.map_err(Error::io("list", &dir))?.path();
            let alias = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if alias.starts_with('.') {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(Error::io("read", &path))?;
            let version = text.trim().parse().map_err(|_| Error::Malformed {
                path: path.clone(),
                reason: format!("alias points at '{}'", text.trim()),
            })?;
            out.push((alias, version));
        }
        out.sort();
        Ok(out)
    }

    /// Point `alias` (e.g. `champion`) at a version.
    ///
    /// # Errors
    /// An invalid or reserved alias, an unknown model or version.
    pub fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        check_alias(alias)?;
        if !self.model_versions(name)?.iter().any(|v| v.version == version) {
            return Err(Error::NotFound {
                what: "model version",
                id: format!("{name} version {version}"),
            });
        }
        let path = self.model_dir(name)?.join("aliases").join(alias);
        fs::create_dir_all(path.parent().unwrap_or(&path)).map_err(Error::io("create", &path))?;
        write_atomic(&path, version.to_string().as_bytes())?;
        Ok(())
    }

    /// Remove an alias.
    ///
    /// # Errors
    /// An unknown alias.
    pub fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        check_alias(alias)?;
        let path = self.model_dir(name)?.join("aliases").join(alias);
        fs::remove_file(&path).map_err(|_| Error::NotFound {
            what: "model alias",
            id: format!("{name}@{alias}"),
        })
    }

    /// The version an alias points at; `latest` is the newest version.
    ///
    /// # Errors
    /// An unknown model or alias.
    pub fn resolve_alias(&self, name: &str, alias: &str) -> Result<ModelVersionInfo> {
        let versions = self.model_versions(name)?;
        let wanted = if alias.eq_ignore_ascii_case("latest") {
            versions.last().map(|v| v.version)
        } else {
            self.aliases(name)?
                .into_iter()
                .find(|(a, _)| a == alias)
                .map(|(_, v)| v)
        };
        wanted
            .and_then(|w| versions.into_iter().find(|v| v.version == w))
            .ok_or_else(|| Error::NotFound {
                what: "model alias",
                id: format!("{name}@{alias}"),
            })
    }
}
