//! The read side of tracking, and the model registry, behind one trait that
//! the local store and the REST client both implement: [`TrackingStore`].
//! Code that lists runs, reads metric histories, downloads artifacts or
//! resolves registered models takes a `&dyn TrackingStore` and works the same
//! on a `mlruns/` directory and on an MLflow server.

use std::path::{Path, PathBuf};

use ml_core::{MetricPoint, RunId, Tracker};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::registry::ModelVersionInfo;
use crate::store::{ExperimentInfo, MlflowStore, RunInfo, RunRecord};

/// One entry of a run's artifact listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactEntry {
    /// The path relative to the run's artifact root, `/`-separated.
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes, for files (when the back end reports it).
    pub file_size: Option<u64>,
}

/// Most files and bytes one [`TrackingStore::download_artifacts`] call writes:
/// a listing that claims more is refused before anything is written.
pub const MAX_DOWNLOAD_FILES: usize = 100_000;
/// See [`MAX_DOWNLOAD_FILES`].
pub const MAX_DOWNLOAD_BYTES: u64 = 8 << 30;

/// A tracking back end that can be read as well as written: experiments,
/// runs, metric histories, artifacts and the model registry (versions and
/// aliases).
///
/// # Design
/// Implemented by [`MlflowStore`] (a local `mlruns/` directory) and, with the
/// `rest` feature, by [`crate::MlflowRestClient`] (an MLflow tracking server,
/// with artifacts proxied by the server or in a directory it shares). It
/// extends [`Tracker`], so one boxed store both logs and reads; it is
/// object-safe, and [`open_tracking_store`](crate::open_tracking_store) picks the implementation from a
/// tracking URI as MLflow's clients do.
pub trait TrackingStore: Tracker {
    /// The URI this store was opened from.
    fn tracking_uri(&self) -> String;

    /// Active experiments.
    ///
    /// # Errors
    /// Back-end failures.
    fn experiments(&self) -> Result<Vec<ExperimentInfo>>;

    /// The active experiment of this name, if there is one.
    ///
    /// # Errors
    /// Back-end failures.
    fn experiment_by_name(&self, name: &str) -> Result<Option<ExperimentInfo>>;

    /// The runs of an experiment, newest first.
    ///
    /// # Errors
    /// An unknown experiment, back-end failures.
    fn runs(&self, experiment_id: &str) -> Result<Vec<RunInfo>>;

    /// A run with its params, tags and full metric histories.
    ///
    /// # Errors
    /// An unknown run ([`Error::NotFound`] or the server's
    /// `RESOURCE_DOES_NOT_EXIST`), back-end failures.
    fn run(&self, run_id: &str) -> Result<RunRecord>;

    /// Every value logged for one metric of a run, in logging order.
    ///
    /// # Errors
    /// As [`TrackingStore::run`].
    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>>;

    /// The entries directly below `path` (empty: the artifact root) of a run's
    /// artifacts. A path naming a file, or nothing, lists as empty.
    ///
    /// # Errors
    /// An invalid path, an unknown run, an artifact location this build
    /// cannot read ([`Error::UnsupportedUri`] naming its scheme), back-end
    /// failures.
    fn list_artifacts(&self, run_id: &str, path: &str) -> Result<Vec<ArtifactEntry>>;

    /// One artifact file's bytes.
    ///
    /// # Errors
    /// As [`TrackingStore::list_artifacts`]; a missing file.
    fn download_artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>>;

    /// Where a run's artifact already lies on this machine, if it does (a
    /// local store, or a server whose artifact root is a shared directory),
    /// so it can be read in place instead of copied.
    ///
    /// # Errors
    /// An unknown run, an invalid path.
    fn local_artifact_path(&self, run_id: &str, path: &str) -> Result<Option<PathBuf>> {
        let _ = (run_id, path);
        Ok(None)
    }

    /// Copy an artifact (a file, or a directory with everything below it)
    /// into `dest`, which must not exist yet; returns the copy's path
    /// (`dest/<last path component>`). On failure nothing is left behind.
    ///
    /// # Errors
    /// As [`TrackingStore::download_artifact`]; a listing over
    /// [`MAX_DOWNLOAD_FILES`] files or [`MAX_DOWNLOAD_BYTES`] bytes; I/O
    /// failures writing the copy.
    fn download_artifacts(&self, run_id: &str, path: &str, dest: &Path) -> Result<PathBuf> {
        download_tree(self, run_id, path, dest)
    }

    /// Registered model names, sorted.
    ///
    /// # Errors
    /// Back-end failures.
    fn registered_models(&self) -> Result<Vec<String>>;

    /// The versions of a registered model, oldest first, with their aliases.
    ///
    /// # Errors
    /// An unknown model, back-end failures.
    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersionInfo>>;

    /// One version of a registered model.
    ///
    /// # Errors
    /// An unknown model or version, back-end failures.
    fn model_version(&self, name: &str, version: u64) -> Result<ModelVersionInfo> {
        self.model_versions(name)?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or_else(|| Error::NotFound {
                what: "model version",
                id: format!("{name} version {version}"),
            })
    }

    /// Register `runs:/<run>/<artifact_path>` as a new version of `name`
    /// (created if missing).
    ///
    /// # Errors
    /// Invalid names, an unknown run or artifact, back-end failures.
    fn register_model(&self, name: &str, run: &RunId, artifact_path: &str) -> Result<ModelVersionInfo>;

    /// Point `alias` (e.g. `champion`) at a version.
    ///
    /// # Errors
    /// An invalid or reserved alias, an unknown model or version.
    fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()>;

    /// Remove an alias.
    ///
    /// # Errors
    /// An unknown alias, back-end failures.
    fn delete_alias(&self, name: &str, alias: &str) -> Result<()>;

    /// The version an alias points at (`latest`: the newest version).
    ///
    /// # Errors
    /// An unknown model or alias.
    fn resolve_alias(&self, name: &str, alias: &str) -> Result<ModelVersionInfo>;
}

/// The files below an artifact path, by their paths relative to the artifact
/// root; `path` itself if it is a file.
fn walk<S: TrackingStore + ?Sized>(store: &S, run_id: &str, path: &str) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let mut dirs = vec![path.to_string()];
    let mut total: u64 = 0;
    let mut any_dir = false;
    while let Some(dir) = dirs.pop() {
        for entry in store.list_artifacts(run_id, &dir)? {
            if entry.is_dir {
                any_dir = true;
                dirs.push(entry.path);
            } else {
                total = total.saturating_add(entry.file_size.unwrap_or(0));
                files.push(entry.path);
            }
            if files.len() + dirs.len() > MAX_DOWNLOAD_FILES || total > MAX_DOWNLOAD_BYTES {
                return Err(Error::Invalid {
                    field: "artifact path",
                    value: path.to_string(),
                    reason: format!(
                        "holds more than {MAX_DOWNLOAD_FILES} files or {MAX_DOWNLOAD_BYTES} bytes; refusing to copy it"
                    ),
                });
            }
        }
    }
    if files.is_empty() && !any_dir {
        // A file, or nothing: the download says which.
        files.push(path.to_string());
    }
    Ok(files)
}

fn download_tree<S: TrackingStore + ?Sized>(store: &S, run_id: &str, path: &str, dest: &Path) -> Result<PathBuf> {
    crate::validate::artifact_path(path)?;
    if dest.exists() {
        return Err(Error::Conflict(format!("{} exists already", dest.display())));
    }
    let path = path.trim_matches('/');
    let last = path.rsplit('/').next().unwrap_or(path);
    let target = dest.join(last);
    let files = walk(store, run_id, path)?;
    // Everything goes to a hidden sibling first, renamed into place at the end.
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".mlsdk-download-")
        .tempdir_in(parent)
        .map_err(Error::io("create a staging directory in", parent))?;
    let staged_target = staging.path().join(last);
    for file in &files {
        let bytes = store.download_artifact(run_id, file)?;
        let rel = file.strip_prefix(path).unwrap_or(file).trim_start_matches('/');
        let out = if rel.is_empty() {
            staged_target.clone()
        } else {
            crate::validate::artifact_path(rel)?;
            staged_target.join(rel)
        };
        if let Some(p) = out.parent() {
            std::fs::create_dir_all(p).map_err(Error::io("create", p))?;
        }
        std::fs::write(&out, &bytes).map_err(Error::io("write", &out))?;
    }
    std::fs::rename(staging.path(), dest).map_err(Error::io("move into place", dest))?;
    // The staging directory now lives at `dest`; nothing is left to remove.
    let _ = staging.keep();
    Ok(target)
}

/// A local artifact location (`/dir`, `file:/dir`, `file:///dir`) as a path;
/// `None` for other schemes.
pub fn local_artifact_root(uri: &str) -> Option<PathBuf> {
    if let Some(rest) = uri.strip_prefix("file://") {
        // file://localhost/dir or file:///dir
        let rest = rest.strip_prefix("localhost").unwrap_or(rest);
        return rest.starts_with('/').then(|| PathBuf::from(rest));
    }
    if let Some(rest) = uri.strip_prefix("file:") {
        return Some(PathBuf::from(rest));
    }
    if uri.contains("://") || uri.starts_with("mlflow-artifacts:") {
        return None;
    }
    Some(PathBuf::from(uri))
}

/// List a local artifact directory `root/path` in [`ArtifactEntry`] form.
/// `dir/name`, or `name` alone below the root (`dir` empty): how artifact
/// paths, listings and store keys are joined everywhere.
pub(crate) fn join_artifact_path(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// `root/path` for an artifact path, confined to `root` as MLflow confines
/// artifact paths: relative, without `.` or `..` segments, and, where it
/// exists, still inside `root` once symbolic links are resolved.
///
/// # Errors
/// [`Error::Invalid`] for a path that is not relative or clean, or that a
/// link leads out of the root.
pub(crate) fn confined(root: &Path, path: &str) -> Result<PathBuf> {
    let rel = path.trim_end_matches('/');
    if rel.is_empty() {
        return Ok(root.to_path_buf());
    }
    crate::validate::artifact_path(rel)?;
    let joined = root.join(rel);
    if let (Ok(real_root), Ok(real)) = (root.canonicalize(), joined.canonicalize())
        && !real.starts_with(&real_root)
    {
        return Err(leads_out(path));
    }
    Ok(joined)
}

/// The refusal of an artifact path that a link leads out of its run's artifacts.
fn leads_out(path: impl std::fmt::Display) -> Error {
    Error::Invalid {
        field: "artifact path",
        value: path.to_string(),
        reason: "a symbolic link leads out of the run's artifacts".into(),
    }
}

/// Check that everything under `path` (a file or a directory, at most
/// [`MAX_DOWNLOAD_FILES`] entries) resolves, links followed, to a place
/// inside `root`.
///
/// # Errors
/// [`Error::Invalid`] naming the first entry that leads out; a tree over the
/// limit; I/O failures listing it.
pub(crate) fn check_tree_confined(root: &Path, path: &Path) -> Result<()> {
    let real_root = root.canonicalize().map_err(Error::io("resolve", root))?;
    let mut stack = vec![path.to_path_buf()];
    let mut seen = 0usize;
    while let Some(p) = stack.pop() {
        seen += 1;
        if seen > MAX_DOWNLOAD_FILES {
            return Err(Error::Conflict(format!(
                "{} holds more than {MAX_DOWNLOAD_FILES} files",
                path.display()
            )));
        }
        let real = p.canonicalize().map_err(Error::io("resolve", &p))?;
        if !real.starts_with(&real_root) {
            return Err(leads_out(p.display()));
        }
        // Links to directories are followed too (a link inside them could
        // lead out); the entry limit ends a cycle of links.
        if real.is_dir() {
            for entry in std::fs::read_dir(&p).map_err(Error::io("list", &p))? {
                stack.push(entry.map_err(Error::io("list", &p))?.path());
            }
        }
    }
    Ok(())
}

pub(crate) fn list_local(root: &Path, path: &str) -> Result<Vec<ArtifactEntry>> {
    let dir = confined(root, path)?;
    let path = path.trim_matches('/');
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(Error::io("list", &dir))? {
        let entry = entry.map_err(Error::io("list", &dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let meta = entry.metadata().map_err(Error::io("stat", &entry.path()))?;
        out.push(ArtifactEntry {
            path: join_artifact_path(path, &name),
            is_dir: meta.is_dir(),
            file_size: meta.is_file().then_some(meta.len()),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Read a local artifact file `root/path`.
pub(crate) fn read_local(root: &Path, path: &str) -> Result<Vec<u8>> {
    let file = confined(root, path)?;
    if !file.is_file() {
        return Err(Error::NotFound {
            what: "artifact",
            id: path.to_string(),
        });
    }
    std::fs::read(&file).map_err(Error::io("read", &file))
}

impl MlflowStore {
    fn artifact_root(&self, run_id: &str) -> Result<PathBuf> {
        Ok(self.run_dir(run_id)?.join("artifacts"))
    }
}

impl TrackingStore for MlflowStore {
    fn tracking_uri(&self) -> String {
        format!("file://{}", self.root().display())
    }

    fn experiments(&self) -> Result<Vec<ExperimentInfo>> {
        MlflowStore::experiments(self)
    }

    fn experiment_by_name(&self, name: &str) -> Result<Option<ExperimentInfo>> {
        MlflowStore::experiment_by_name(self, name)
    }

    fn runs(&self, experiment_id: &str) -> Result<Vec<RunInfo>> {
        MlflowStore::runs(self, experiment_id)
    }

    fn run(&self, run_id: &str) -> Result<RunRecord> {
        MlflowStore::run(self, run_id)
    }

    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        MlflowStore::metric_history(self, run_id, key)
    }

    fn list_artifacts(&self, run_id: &str, path: &str) -> Result<Vec<ArtifactEntry>> {
        list_local(&self.artifact_root(run_id)?, path)
    }

    fn download_artifact(&self, run_id: &str, path: &str) -> Result<Vec<u8>> {
        read_local(&self.artifact_root(run_id)?, path)
    }

    fn local_artifact_path(&self, run_id: &str, path: &str) -> Result<Option<PathBuf>> {
        Ok(Some(confined(&self.artifact_root(run_id)?, path)?))
    }

    fn registered_models(&self) -> Result<Vec<String>> {
        MlflowStore::registered_models(self)
    }

    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersionInfo>> {
        MlflowStore::model_versions(self, name)
    }

    fn register_model(&self, name: &str, run: &RunId, artifact_path: &str) -> Result<ModelVersionInfo> {
        MlflowStore::register_model(self, name, run, artifact_path)
    }

    fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        MlflowStore::set_alias(self, name, alias, version)
    }

    fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        MlflowStore::delete_alias(self, name, alias)
    }

    fn resolve_alias(&self, name: &str, alias: &str) -> Result<ModelVersionInfo> {
        MlflowStore::resolve_alias(self, name, alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_roots_from_uris() {
        assert_eq!(local_artifact_root("/a/b"), Some(PathBuf::from("/a/b")));
        assert_eq!(local_artifact_root("file:///a/b"), Some(PathBuf::from("/a/b")));
        assert_eq!(local_artifact_root("file://localhost/a"), Some(PathBuf::from("/a")));
        assert_eq!(local_artifact_root("file:/a"), Some(PathBuf::from("/a")));
        assert_eq!(local_artifact_root("mlflow-artifacts:/1/x/artifacts"), None);
        assert_eq!(local_artifact_root("s3://bucket/x"), None);
    }
}
