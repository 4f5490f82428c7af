//! [`MlflowStore`]: a local `mlruns/` directory in MLflow's file-store layout.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ml_core::{MetricPoint, RunId, RunStatus, Tracker, io::write_atomic};
use rand::RngExt;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::validate;
use crate::yaml::{self, Scalar};

/// MLflow's run-status numbers in `meta.yaml`.
fn status_code(s: RunStatus) -> i64 {
    match s {
        RunStatus::Running => 1,
        RunStatus::Finished => 3,
        RunStatus::Failed => 4,
        RunStatus::Killed => 5,
    }
}

fn status_from_code(c: &str) -> Option<RunStatus> {
    Some(match c {
        "1" | "RUNNING" | "2" | "SCHEDULED" => RunStatus::Running,
        "3" | "FINISHED" => RunStatus::Finished,
        "4" | "FAILED" => RunStatus::Failed,
        "5" | "KILLED" => RunStatus::Killed,
        _ => return None,
    })
}

/// A `meta.yaml` read as MLflow's file store writes it: required fields
/// present, numbers numbers; anything else is [`Error::Malformed`] naming
/// the file.
struct Meta<'a> {
    path: &'a Path,
    map: BTreeMap<String, String>,
}

impl Meta<'_> {
    fn malformed(&self, reason: String) -> Error {
        Error::Malformed {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn required(&self, key: &str) -> Result<String> {
        match self.map.get(key) {
            Some(v) if !v.is_empty() && v != "null" => Ok(v.clone()),
            _ => Err(self.malformed(format!("no '{key}'"))),
        }
    }

    fn optional(&self, key: &str) -> Option<String> {
        self.map.get(key).filter(|v| !v.is_empty() && *v != "null").cloned()
    }

    fn time(&self, key: &str) -> Result<Option<i64>> {
        self.optional(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| self.malformed(format!("'{key}' is not a time in milliseconds: '{v}'")))
            })
            .transpose()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// An experiment as listed by the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentInfo {
    /// Id (a directory name under the root).
    pub experiment_id: String,
    /// Name.
    pub name: String,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
    /// Where its runs' artifacts go.
    pub artifact_location: String,
    /// Milliseconds since the epoch.
    pub creation_time: i64,
}

/// A run's metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// Run id (32 hex digits).
    pub run_id: String,
    /// Its experiment.
    pub experiment_id: String,
    /// Run name.
    pub run_name: String,
    /// Status.
    pub status: RunStatus,
    /// Milliseconds since the epoch.
    pub start_time: i64,
    /// Milliseconds since the epoch, once ended.
    pub end_time: Option<i64>,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
    /// Artifact directory URI.
    pub artifact_uri: String,
}

/// A run with everything logged to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Metadata.
    pub info: RunInfo,
    /// Parameters.
    pub params: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Metric histories, in logging order.
    pub metrics: BTreeMap<String, Vec<MetricPoint>>,
}

/// A local MLflow file store (`mlruns/`): experiments with `meta.yaml`, runs
/// with `meta.yaml`, `params/`, `tags/`, `metrics/` (lines `timestamp value
/// step`) and `artifacts/`, deleted experiments under `.trash/`, exactly as
/// MLflow 3 writes it, so `MlflowClient` (with `MLFLOW_ALLOW_FILE_STORE=true`),
/// the MLflow UI and `mlflow migrate-filestore` read it.
///
/// Safe for concurrent writers, threads and processes: metric lines are single
/// appends, params are created atomically once, tags and `meta.yaml` files are
/// replaced atomically, experiment creation is serialized by a lock file.
#[derive(Debug)]
pub struct MlflowStore {
    root: PathBuf,
    root_uri: String,
    run_experiment: Mutex<HashMap<String, String>>,
    /// Per run: the `meta.yaml` modification time last seen and whether the
    /// run was active then, so a log call costs one `stat`, not a parse.
    run_state: Mutex<HashMap<String, (SystemTime, bool)>>,
    /// Open append handles of metric files, reused across calls.
    metric_files: Mutex<HashMap<PathBuf, fs::File>>,
}

/// Most metric files kept open at once.
const MAX_OPEN_METRIC_FILES: usize = 256;

const DEFAULT_EXPERIMENT_ID: &str = "0";
const LOCK_FILE: &str = ".mlsdk-experiments.lock";
/// How long a writer waits for another to release a lock.
const LOCK_WAIT: Duration = Duration::from_secs(120);

impl MlflowStore {
    /// Open (creating if needed) a store at `root`, with MLflow's `Default`
    /// experiment `0` and `.trash/`.
    ///
    /// # Errors
    /// I/O failures.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        fs::create_dir_all(root.join(".trash")).map_err(Error::io("create", root))?;
        let root = fs::canonicalize(root).map_err(Error::io("resolve", root))?;
        let store = Self {
            root_uri: format!("file://{}", root.display()),
            root,
            run_experiment: Mutex::new(HashMap::new()),
            run_state: Mutex::new(HashMap::new()),
            metric_files: Mutex::new(HashMap::new()),
        };
        if !store.root.join(DEFAULT_EXPERIMENT_ID).join("meta.yaml").exists() {
            let _lock = store.lock()?;
            if !store.root.join(DEFAULT_EXPERIMENT_ID).join("meta.yaml").exists() {
                store.write_experiment(DEFAULT_EXPERIMENT_ID, "Default")?;
            }
        }
        Ok(store)
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self) -> Result<LockGuard> {
        self.lock_file(&self.root.join(LOCK_FILE))
    }

    /// Hold an exclusive lock on `path` (created if missing): the operating
    /// system's advisory file lock, released when the guard drops or the
    /// process dies, so a slow or stopped holder keeps it and a dead one
    /// never blocks the others. The file itself stays: removing it would let
    /// two processes lock two different files of the same name.
    pub(crate) fn lock_file(&self, path: &Path) -> Result<LockGuard> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(Error::io("open lock file", path))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(LockGuard { _file: file }),
                Err(fs::TryLockError::WouldBlock) => {
                    if start.elapsed() > LOCK_WAIT {
                        return Err(Error::Conflict(format!(
                            "could not lock {} within {} s (another writer holds it)",
                            path.display(),
                            LOCK_WAIT.as_secs()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", path)(e)),
            }
        }
    }

    fn write_experiment(&self, id: &str, name: &str) -> Result<()> {
        let dir = self.root.join(id);
        fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let now = now_ms();
        let text = yaml::write(&[
            ("artifact_location", Scalar::Str(format!("{}/{id}", self.root_uri))),
            ("creation_time", Scalar::Int(now)),
            ("effective_trace_archival_retention", Scalar::Null),
            ("experiment_id", Scalar::Str(id.to_string())),
            ("last_update_time", Scalar::Int(now)),
            ("lifecycle_stage", Scalar::Str("active".into())),
            ("name", Scalar::Str(name.to_string())),
            ("trace_location", Scalar::Null),
            ("workspace", Scalar::Str("default".into())),
        ]);
        write_atomic(&dir.join("meta.yaml"), text.as_bytes())?;
        Ok(())
    }

    pub(crate) fn read_meta(path: &Path) -> Result<BTreeMap<String, String>> {
        let text = fs::read_to_string(path).map_err(Error::io("read", path))?;
        yaml::read(&text).ok_or_else(|| Error::Malformed {
            path: path.to_path_buf(),
            reason: "not a flat YAML mapping".into(),
        })
    }

    fn experiment_from_meta(path: &Path) -> Result<ExperimentInfo> {
        let m = Meta {
            path,
            map: Self::read_meta(path)?,
        };
        Ok(ExperimentInfo {
            experiment_id: m.required("experiment_id")?,
            name: m.required("name")?,
            lifecycle_stage: m.optional("lifecycle_stage").unwrap_or_else(|| "active".into()),
            artifact_location: m.required("artifact_location")?,
            // Stores written before MLflow 1.x have no creation time.
            creation_time: m.time("creation_time")?.unwrap_or(0),
        })
    }

    /// Active experiments.
    ///
    /// # Errors
    /// I/O failures or a malformed `meta.yaml`.
    pub fn experiments(&self) -> Result<Vec<ExperimentInfo>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(Error::io("list", &self.root))? {
            let entry = entry.map_err(Error::io("list", &self.root))?;
            let meta = entry.path().join("meta.yaml");
            if entry.file_name().to_string_lossy().starts_with('.') || !meta.exists() {
                continue;
            }
            out.push(Self::experiment_from_meta(&meta)?);
        }
        out.sort_by(|a, b| {
            a.creation_time
                .cmp(&b.creation_time)
                .then(a.experiment_id.cmp(&b.experiment_id))
        });
        Ok(out)
    }

    /// The active experiment of this name.
    ///
    /// # Errors
    /// As [`MlflowStore::experiments`].
    pub fn experiment_by_name(&self, name: &str) -> Result<Option<ExperimentInfo>> {
        Ok(self
            .experiments()?
            .into_iter()
            .find(|e| e.name == name && e.lifecycle_stage == "active"))
    }

    /// The id of the active experiment of this name, created if missing.
    ///
    /// # Errors
    /// An invalid name, I/O failures.
    pub fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        validate::name("experiment name", name)?;
        if let Some(e) = self.experiment_by_name(name)? {
            return Ok(e.experiment_id);
        }
        let _lock = self.lock()?;
        if let Some(e) = self.experiment_by_name(name)? {
            return Ok(e.experiment_id);
        }
        // MLflow's file store ids: 18 random digits.
        let mut rng = rand::rng();
        let id = loop {
            let first = rng.random_range(1..10u8);
            let id: String = std::iter::once(char::from(b'0' + first))
                .chain((0..17).map(|_| char::from(b'0' + rng.random_range(0..10u8))))
                .collect();
            if !self.root.join(&id).exists() && !self.root.join(".trash").join(&id).exists() {
                break id;
            }
        };
        self.write_experiment(&id, name)?;
        Ok(id)
    }

    /// Mark an experiment deleted and move it under `.trash/`, as MLflow does.
    ///
    /// # Errors
    /// An unknown experiment, I/O failures.
    pub fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        validate::id("experiment id", experiment_id)?;
        let dir = self.root.join(experiment_id);
        let meta_path = dir.join("meta.yaml");
        if !meta_path.exists() {
            return Err(Error::NotFound {
                what: "experiment",
                id: experiment_id.into(),
            });
        }
        let mut meta = Self::read_meta(&meta_path)?;
        meta.insert("lifecycle_stage".into(), "deleted".into());
        meta.insert("last_update_time".into(), now_ms().to_string());
        write_atomic(&meta_path, rewrite(&meta).as_bytes())?;
        let target = self.root.join(".trash").join(experiment_id);
        fs::rename(&dir, &target).map_err(Error::io("move to .trash", &dir))?;
        Ok(())
    }

    pub(crate) fn run_dir(&self, run_id: &str) -> Result<PathBuf> {
        validate::id("run id", run_id)?;
        if let Some(exp) = self
            .run_experiment
            .lock()
            .map_err(|_| Error::Conflict("lock poisoned".into()))?
            .get(run_id)
        {
            return Ok(self.root.join(exp).join(run_id));
        }
        for e in self.experiments()? {
            let dir = self.root.join(&e.experiment_id).join(run_id);
            if dir.join("meta.yaml").exists() {
                if let Ok(mut map) = self.run_experiment.lock() {
                    map.insert(run_id.to_string(), e.experiment_id);
                }
                return Ok(dir);
            }
        }
        Err(Error::NotFound {
            what: "run",
            id: run_id.into(),
        })
    }

    fn run_info_at(dir: &Path) -> Result<RunInfo> {
        let path = dir.join("meta.yaml");
        let m = Meta {
            path: &path,
            map: Self::read_meta(&path)?,
        };
        // MLflow 1.x wrote `run_uuid` only.
        let run_id = m
            .optional("run_id")
            .or_else(|| m.optional("run_uuid"))
            .ok_or_else(|| m.malformed("no 'run_id'".into()))?;
        if dir.file_name().is_some_and(|d| d != run_id.as_str()) {
            return Err(m.malformed(format!("run id '{run_id}' is not its directory's name")));
        }
        let status = m.required("status")?;
        Ok(RunInfo {
            run_id,
            experiment_id: m.required("experiment_id")?,
            run_name: m.optional("run_name").unwrap_or_default(),
            status: status_from_code(&status).ok_or_else(|| m.malformed(format!("unknown run status '{status}'")))?,
            start_time: m.time("start_time")?.unwrap_or(0),
            end_time: m.time("end_time")?,
            lifecycle_stage: m.optional("lifecycle_stage").unwrap_or_else(|| "active".into()),
            artifact_uri: m.required("artifact_uri")?,
        })
    }

    /// The runs of an experiment, newest first.
    ///
    /// # Errors
    /// An unknown experiment, I/O failures.
    pub fn runs(&self, experiment_id: &str) -> Result<Vec<RunInfo>> {
        validate::id("experiment id", experiment_id)?;
        let dir = self.root.join(experiment_id);
        if !dir.join("meta.yaml").exists() {
            return Err(Error::NotFound {
                what: "experiment",
                id: experiment_id.into(),
            });
        }
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(Error::io("list", &dir))? {
            let path = entry.map_err(Error::io("list", &dir))?.path();
            if path.join("meta.yaml").exists() {
                out.push(Self::run_info_at(&path)?);
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.start_time));
        Ok(out)
    }

    /// A run with its params, tags and metric histories.
    ///
    /// # Errors
    /// An unknown run, I/O failures, a malformed metric line (named).
    pub fn run(&self, run_id: &str) -> Result<RunRecord> {
        let dir = self.run_dir(run_id)?;
        let info = Self::run_info_at(&dir)?;
        let params = read_tree(&dir.join("params"))?
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let tags = read_tree(&dir.join("tags"))?
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let mut metrics = BTreeMap::new();
        for (key, bytes) in read_tree(&dir.join("metrics"))? {
            let points = parse_metric_lines(&dir.join("metrics").join(&key), &key, &bytes)?;
            metrics.insert(key, points);
        }
        Ok(RunRecord {
            info,
            params,
            tags,
            metrics,
        })
    }

    /// Every value of one metric of a run, in logging order (empty when
    /// the run has none of that key).
    ///
    /// # Errors
    /// An invalid key, an unknown run, I/O failures, a malformed line (named).
    pub fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        validate::key("metric key", key)?;
        let path = self.run_dir(run_id)?.join("metrics").join(key);
        match fs::read(&path) {
            Ok(bytes) => parse_metric_lines(&path, key, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io("read", &path)(e)),
        }
    }

    fn active_run_dir(&self, run: &RunId) -> Result<PathBuf> {
        let dir = self.run_dir(&run.0)?;
        let meta = dir.join("meta.yaml");
        let mtime = fs::metadata(&meta)
            .and_then(|m| m.modified())
            .map_err(Error::io("stat", &meta))?;
        let cached = self.run_state.lock().ok().and_then(|m| m.get(&run.0).copied());
        let active = match cached {
            Some((seen, active)) if seen == mtime => active,
            _ => {
                let active = Self::run_info_at(&dir)?.lifecycle_stage == "active";
                if let Ok(mut m) = self.run_state.lock() {
                    m.insert(run.0.clone(), (mtime, active));
                }
                active
            }
        };
        if !active {
            return Err(Error::Conflict(format!("run '{}' is deleted", run.0)));
        }
        Ok(dir)
    }

    fn set_tag_at(dir: &Path, key: &str, value: &str) -> Result<()> {
        let path = dir.join("tags").join(key);
        create_parent(&path)?;
        write_atomic(&path, value.as_bytes())?;
        Ok(())
    }

    /// Start a run in the experiment with this id (see [`Tracker::start_run`]
    /// for starting by experiment name).
    ///
    /// # Errors
    /// An unknown experiment, an invalid run name, I/O failures.
    pub fn start_run_in(&self, experiment_id: &str, run_name: Option<&str>) -> Result<RunId> {
        validate::id("experiment id", experiment_id)?;
        if !self.root.join(experiment_id).join("meta.yaml").exists() {
            return Err(Error::NotFound {
                what: "experiment",
                id: experiment_id.into(),
            });
        }
        let mut bytes = [0u8; 16];
        rand::rng().fill(&mut bytes);
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // a version-4 UUID, as MLflow's
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let run_id = ml_core::io::hex(&bytes);
        let run_name = match run_name {
            Some(n) => {
                validate::name("run name", n)?;
                n.to_string()
            }
            None => format!("run-{}", &run_id[..8]),
        };
        let dir = self.root.join(experiment_id).join(&run_id);
        for sub in ["params", "metrics", "tags", "artifacts"] {
            fs::create_dir_all(dir.join(sub)).map_err(Error::io("create", &dir))?;
        }
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let source = std::env::args().next().unwrap_or_default();
        for (k, v) in [
            ("mlflow.runName", run_name.as_str()),
            ("mlflow.user", user.as_str()),
            ("mlflow.source.name", source.as_str()),
            ("mlflow.source.type", "LOCAL"),
        ] {
            Self::set_tag_at(&dir, k, v)?;
        }
        let text = yaml::write(&[
            (
                "artifact_uri",
                Scalar::Str(format!("{}/{experiment_id}/{run_id}/artifacts", self.root_uri)),
            ),
            ("end_time", Scalar::Null),
            ("entry_point_name", Scalar::Str(String::new())),
            ("experiment_id", Scalar::Str(experiment_id.to_string())),
            ("lifecycle_stage", Scalar::Str("active".into())),
            ("run_id", Scalar::Str(run_id.clone())),
            ("run_name", Scalar::Str(run_name)),
            ("source_name", Scalar::Str(String::new())),
            ("source_type", Scalar::Int(4)),
            ("source_version", Scalar::Str(String::new())),
            ("start_time", Scalar::Int(now_ms())),
            ("status", Scalar::Int(status_code(RunStatus::Running))),
            ("tags", Scalar::EmptyList),
            ("user_id", Scalar::Str(user)),
        ]);
        // meta.yaml last: a run directory without it is not yet a run.
        write_atomic(&dir.join("meta.yaml"), text.as_bytes())?;
        if let Ok(mut map) = self.run_experiment.lock() {
            map.insert(run_id.clone(), experiment_id.to_string());
        }
        Ok(RunId(run_id))
    }

    fn log_params_checked(&self, run: &RunId, params: &[(String, String)]) -> Result<()> {
        for (k, v) in params {
            validate::key("param key", k)?;
            validate::value("param value", v, validate::MAX_PARAM_VAL_LENGTH)?;
        }
        let dir = self.active_run_dir(run)?;
        for (k, v) in params {
            let path = dir.join("params").join(k);
            create_parent(&path)?;
            // Write-once: create the full file under a temporary name and link
            // it into place, which fails if the param exists.
            let tmp = path.with_file_name(format!(".{}.tmp-{}", file_name(&path), rand::rng().random::<u64>()));
            fs::write(&tmp, v.as_bytes()).map_err(Error::io("write", &tmp))?;
            let linked = fs::hard_link(&tmp, &path);
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let current = fs::read_to_string(&path).map_err(Error::io("read", &path))?;
                    if &current != v {
                        return Err(Error::Conflict(format!(
                            "Changing param values is not allowed. Param with key='{k}' was already logged with value='{current}' for run ID='{}'. Attempted logging new value '{v}'.",
                            run.0
                        )));
                    }
                }
                Err(e) => return Err(Error::io("write", &path)(e)),
            }
        }
        Ok(())
    }

    fn log_metrics_checked(&self, run: &RunId, metrics: &[MetricPoint]) -> Result<()> {
        for m in metrics {
            validate::key("metric key", &m.key)?;
            if m.timestamp_ms < 0 {
                return Err(Error::Invalid {
                    field: "metric timestamp",
                    value: m.timestamp_ms.to_string(),
                    reason: "must be a non-negative number of milliseconds".into(),
                });
            }
        }
        let dir = self.active_run_dir(run)?;
        // Group lines per key so each file gets one append.
        let mut by_key: BTreeMap<&str, String> = BTreeMap::new();
        for m in metrics {
            let line = by_key.entry(&m.key).or_default();
            line.push_str(&format!("{} {} {}\n", m.timestamp_ms, format_float(m.value), m.step));
        }
        let mut files = self
            .metric_files
            .lock()
            .map_err(|_| Error::Conflict("metric file cache poisoned".into()))?;
        for (key, lines) in by_key {
            let path = dir.join("metrics").join(key);
            if !files.contains_key(&path) {
                if files.len() >= MAX_OPEN_METRIC_FILES {
                    files.clear();
                }
                create_parent(&path)?;
                let f = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(Error::io("open", &path))?;
                files.insert(path.clone(), f);
            }
            let f = files.get_mut(&path).expect("inserted above");
            // One write call per batch: appends (O_APPEND) from other threads
            // or processes land before or after it, never inside it.
            if let Err(e) = f.write_all(lines.as_bytes()) {
                files.remove(&path);
                return Err(Error::io("append", &path)(e));
            }
        }
        Ok(())
    }

    fn set_tags_checked(&self, run: &RunId, tags: &[(String, String)]) -> Result<()> {
        for (k, v) in tags {
            validate::key("tag key", k)?;
            validate::value("tag value", v, validate::MAX_TAG_VAL_LENGTH)?;
        }
        let dir = self.active_run_dir(run)?;
        for (k, v) in tags {
            Self::set_tag_at(&dir, k, v)?;
            if k == "mlflow.runName" {
                self.update_meta(&dir, &[("run_name", v.clone())])?;
            }
        }
        Ok(())
    }

    fn update_meta(&self, dir: &Path, changes: &[(&str, String)]) -> Result<()> {
        let path = dir.join("meta.yaml");
        let mut meta = Self::read_meta(&path)?;
        for (k, v) in changes {
            meta.insert(k.to_string(), v.clone());
        }
        write_atomic(&path, rewrite(&meta).as_bytes())?;
        Ok(())
    }

    fn log_artifact_checked(&self, run: &RunId, path: &str, contents: &[u8]) -> Result<()> {
        validate::artifact_path(path)?;
        let dir = self.active_run_dir(run)?;
        let target = dir.join("artifacts").join(path);
        create_parent(&target)?;
        write_atomic(&target, contents)?;
        Ok(())
    }

    fn end_run_checked(&self, run: &RunId, status: RunStatus) -> Result<()> {
        let dir = self.run_dir(&run.0)?;
        self.update_meta(
            &dir,
            &[
                ("status", status_code(status).to_string()),
                ("end_time", now_ms().to_string()),
            ],
        )
    }
}

/// Write a `meta.yaml` map back: numbers and null as MLflow writes them,
/// everything else quoted.
fn rewrite(meta: &BTreeMap<String, String>) -> String {
    let entries: Vec<(&str, Scalar)> = meta
        .iter()
        .map(|(k, v)| {
            let numeric = matches!(
                k.as_str(),
                "creation_time" | "last_update_time" | "start_time" | "end_time" | "status" | "source_type"
            );
            let value = match (numeric, v.parse::<i64>()) {
                (true, Ok(i)) => Scalar::Int(i),
                (true, Err(_)) => Scalar::Null,
                _ if k == "tags" => Scalar::EmptyList,
                _ if v.is_empty() && matches!(k.as_str(), "trace_location" | "effective_trace_archival_retention") => {
                    Scalar::Null
                }
                _ => Scalar::Str(v.clone()),
            };
            (k.as_str(), value)
        })
        .collect();
    yaml::write(&entries)
}

/// Python's `str(float)` spelling for the special values, shortest round-trip digits otherwise.
fn format_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{v:?}")
    }
}

/// A metric file's lines (`timestamp value step`) as points of `key`.
fn parse_metric_lines(path: &Path, key: &str, bytes: &[u8]) -> Result<Vec<MetricPoint>> {
    let text = String::from_utf8_lossy(bytes);
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split(' ').collect();
        let parsed = (f.len() >= 3)
            .then(|| Some((f[0].parse::<i64>().ok()?, parse_float(f[1])?, f[2].parse::<i64>().ok()?)))
            .flatten();
        let (timestamp_ms, value, step) = parsed.ok_or_else(|| Error::Malformed {
            path: path.to_path_buf(),
            reason: format!("line {}: '{line}'", i + 1),
        })?;
        points.push(MetricPoint {
            key: key.to_string(),
            value,
            step,
            timestamp_ms,
        });
    }
    Ok(points)
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        "nan" | "NaN" => Some(f64::NAN),
        "inf" | "Infinity" => Some(f64::INFINITY),
        "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(Error::io("create", parent))?;
    }
    Ok(())
}

/// Every file below `dir`, keyed by its `/`-joined relative path (hidden
/// temporary files skipped).
fn read_tree(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(Error::io("list", &d))? {
            let entry = entry.map_err(Error::io("list", &d))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let key = crate::read::join_artifact_path(&prefix, &name);
            let path = entry.path();
            if path.is_dir() {
                stack.push((path, key));
            } else {
                out.insert(key, fs::read(&path).map_err(Error::io("read", &path))?);
            }
        }
    }
    Ok(out)
}

/// An exclusive lock held on an open file; closing the file releases it.
#[derive(Debug)]
pub(crate) struct LockGuard {
    _file: fs::File,
}

impl Tracker for MlflowStore {
    fn start_run(&self, experiment: &str, run_name: Option<&str>) -> ml_core::Result<RunId> {
        let id = self.get_or_create_experiment(experiment)?;
        Ok(self.start_run_in(&id, run_name)?)
    }

    fn log_params(&self, run: &RunId, params: &[(String, String)]) -> ml_core::Result<()> {
        Ok(self.log_params_checked(run, params)?)
    }

    fn log_metrics(&self, run: &RunId, metrics: &[MetricPoint]) -> ml_core::Result<()> {
        Ok(self.log_metrics_checked(run, metrics)?)
    }

    fn set_tags(&self, run: &RunId, tags: &[(String, String)]) -> ml_core::Result<()> {
        Ok(self.set_tags_checked(run, tags)?)
    }

    fn log_artifact(&self, run: &RunId, path: &str, contents: &[u8]) -> ml_core::Result<()> {
        Ok(self.log_artifact_checked(run, path, contents)?)
    }

    fn end_run(&self, run: &RunId, status: RunStatus) -> ml_core::Result<()> {
        Ok(self.end_run_checked(run, status)?)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    /// Set in the child process this test starts: the store's path.
    const CHILD: &str = "MLSDK_TEST_LOCK_HOLDER";
    /// Longer than the 30 s after which the store once took a lock over.
    const STOPPED: Duration = Duration::from_secs(35);

    /// A writer stopped (SIGSTOP) in the middle of creating an experiment,
    /// for longer than any takeover timeout, keeps the store's lock: another
    /// process asking for the same experiment waits for it and then finds
    /// its experiment instead of creating a second one.
    #[test]
    fn a_stopped_writer_keeps_its_lock() {
        if let Ok(root) = std::env::var(CHILD) {
            // The child: what get_or_create_experiment does under the lock,
            // with a pause in which the parent stops it.
            let store = MlflowStore::open(&root).unwrap();
            let _lock = store.lock().unwrap();
            assert!(store.experiment_by_name("shared").unwrap().is_none());
            println!("locked");
            std::thread::sleep(Duration::from_millis(500));
            store.write_experiment("111111111111111111", "shared").unwrap();
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = MlflowStore::open(dir.path()).unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::tests::a_stopped_writer_keeps_its_lock",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(
            lines.any(|l| l.unwrap().contains("locked")),
            "the child never took the lock"
        );
        let pid = child.id().to_string();
        // A failed assertion must not leave a stopped process behind.
        struct Reap(Option<String>);
        impl Drop for Reap {
            fn drop(&mut self) {
                if let Some(pid) = &self.0 {
                    let _ = Command::new("kill").args(["-KILL", pid]).stderr(Stdio::null()).status();
                }
            }
        }
        let mut reap = Reap(Some(pid.clone()));
        assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
        let start = Instant::now();
        let waiter = std::thread::spawn(move || {
            let id = store.get_or_create_experiment("shared");
            (id, start.elapsed())
        });
        std::thread::sleep(STOPPED);
        assert!(!waiter.is_finished(), "the lock was taken from a stopped writer");
        assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
        let (id, waited) = waiter.join().unwrap();
        let status = child.wait().unwrap();
        reap.0 = None;
        assert!(status.success());
        assert_eq!(id.unwrap(), "111111111111111111");
        assert!(waited >= STOPPED);
        let store = MlflowStore::open(dir.path()).unwrap();
        let shared: Vec<_> = crate::TrackingStore::experiments(&store)
            .unwrap()
            .into_iter()
            .filter(|e| e.name == "shared")
            .collect();
        assert_eq!(shared.len(), 1, "{shared:?}");
        // The lock file stays, so later writers lock the same file.
        assert!(dir.path().join(LOCK_FILE).exists());
    }
}
