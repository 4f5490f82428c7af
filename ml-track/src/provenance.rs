//! Run provenance: which code, which dependencies, which data.

use std::path::{Path, PathBuf};
use std::process::Command;

use ml_core::io::sha256_hex;
use ml_core::{Dataset, RunId, RunStatus, Tracker};

/// What a run records about where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// `git rev-parse HEAD` of the working directory, if it is a repository.
    pub git_commit: Option<String>,
    /// Whether the work tree had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// The `Cargo.lock` found from the working directory upwards: its text.
    pub cargo_lock: Option<String>,
    /// The compiler that built this binary.
    pub rustc: String,
    /// Host name.
    pub host: String,
    /// The command line.
    pub command: String,
    /// SHA-256 of the training data, if given.
    pub data_sha256: Option<String>,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).current_dir(dir).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// This machine's host name, if it can be read.
pub(crate) fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

fn find_upwards(start: &Path, name: &str) -> Option<PathBuf> {
    start.ancestors().map(|d| d.join(name)).find(|p| p.is_file())
}

impl Provenance {
    /// Collect from the current process and working directory.
    pub fn collect() -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let git_commit = git(&cwd, &["rev-parse", "HEAD"]);
        let git_dirty = git_commit
            .as_ref()
            .and_then(|_| git(&cwd, &["status", "--porcelain"]))
            .map(|s| !s.is_empty());
        Self {
            git_commit,
            git_dirty,
            cargo_lock: find_upwards(&cwd, "Cargo.lock").and_then(|p| std::fs::read_to_string(p).ok()),
            rustc: env!("MLSDK_RUSTC_VERSION").to_string(),
            host: hostname().unwrap_or_else(|| "unknown".into()),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            data_sha256: None,
        }
    }

    /// Add the digest of a data file's bytes.
    pub fn with_data_bytes(mut self, bytes: &[u8]) -> Self {
        self.data_sha256 = Some(sha256_hex(bytes));
        self
    }

    /// Add the digest of a data set (features, column names, target).
    pub fn with_dataset(mut self, data: &Dataset) -> Self {
        let mut bytes = Vec::with_capacity(data.n_samples() * data.n_features() * 8);
        for v in data.features().iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend_from_slice(data.feature_names().join("\u{1f}").as_bytes());
        if let Ok(t) = serde_json::to_vec(&data.target()) {
            bytes.extend_from_slice(&t);
        }
        self.data_sha256 = Some(sha256_hex(&bytes));
        self
    }

    /// The dependency list of the `Cargo.lock`: `name version` lines.
    pub fn dependencies(&self) -> Option<String> {
        let lock = self.cargo_lock.as_ref()?;
        let mut out = String::new();
        let mut name = None;
        for line in lock.lines() {
            if let Some(n) = line.strip_prefix("name = ") {
                name = Some(n.trim_matches('"').to_string());
            } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
                out.push_str(&format!("{n} {}\n", v.trim_matches('"')));
            }
        }
        Some(out)
    }

    /// Tags and artifacts for a run: MLflow's `mlflow.source.git.commit`, and
    /// `mlsdk.*` tags for the rest; `provenance/Cargo.lock` and
    /// `provenance/dependencies.txt` as artifacts.
    ///
    /// # Errors
    /// Tracker failures.
    pub fn record(&self, tracker: &dyn Tracker, run: &RunId) -> ml_core::Result<()> {
        let mut tags = vec![
            ("mlsdk.rustc".to_string(), self.rustc.clone()),
            ("mlsdk.host".to_string(), self.host.clone()),
            (
                "mlsdk.command".to_string(),
                truncate(&self.command, crate::validate::MAX_TAG_VAL_LENGTH),
            ),
            ("mlsdk.sdk_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ];
        if let Some(c) = &self.git_commit {
            tags.push(("mlflow.source.git.commit".into(), c.clone()));
        }
        if let Some(d) = self.git_dirty {
            tags.push(("mlsdk.git.dirty".into(), d.to_string()));
        }
        if let Some(d) = &self.data_sha256 {
            tags.push(("mlsdk.data.sha256".into(), d.clone()));
        }
        if let Some(lock) = &self.cargo_lock {
            tags.push(("mlsdk.cargo_lock.sha256".into(), sha256_hex(lock.as_bytes())));
            tracker.log_artifact(run, "provenance/Cargo.lock", lock.as_bytes())?;
        }
        if let Some(deps) = self.dependencies() {
            tracker.log_artifact(run, "provenance/dependencies.txt", deps.as_bytes())?;
        }
        tracker.set_tags(run, &tags)
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Ends a run when dropped: `KILLED` if the thread is panicking, `FAILED` if
/// the run was neither finished nor failed explicitly. Keeps a store
/// consistent when training code returns early or panics.
#[derive(Debug)]
pub struct RunGuard<'a> {
    tracker: &'a dyn Tracker,
    run: RunId,
    ended: bool,
}

impl<'a> RunGuard<'a> {
    /// Guard `run`.
    pub fn new(tracker: &'a dyn Tracker, run: RunId) -> Self {
        Self {
            tracker,
            run,
            ended: false,
        }
    }

    /// The guarded run.
    pub fn run(&self) -> &RunId {
        &self.run
    }

    /// End with a status now.
    ///
    /// # Errors
    /// Tracker failures.
    pub fn end(mut self, status: RunStatus) -> ml_core::Result<()> {
        self.ended = true;
        self.tracker.end_run(&self.run, status)
    }
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let status = if std::thread::panicking() {
                RunStatus::Killed
            } else {
                RunStatus::Failed
            };
            let _ = self.tracker.end_run(&self.run, status);
        }
    }
}
