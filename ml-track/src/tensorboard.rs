//! [`TensorBoardWriter`]: TensorBoard event files (`events.out.tfevents.*`)
//! with scalars (`simple_value`), histograms and hyper-parameters (the hparams
//! plugin's session-start record), framed as TFRecords with masked CRC-32C.
//!
//! The few protobuf messages involved (`Event`, `Summary`, `HistogramProto`,
//! `SummaryMetadata`, `HParamsPluginData`) are encoded by hand: fields are
//! written in number order with their standard wire types, which is all a
//! protobuf reader needs.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ml_core::protobuf::ProtoWriter as Proto;
use ml_core::{MetricPoint, RunId, RunStatus, Tracker};

use crate::error::{Error, Result};
use crate::store::now_ms;
use crate::validate;

/// TFRecord's CRC: CRC-32C, rotated and offset so that CRCs of data that
/// contain CRCs stay well distributed.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord: length, its masked CRC, data, the data's masked CRC.
pub fn frame_record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

/// `Event { wall_time, step, summary { value } }`.
fn summary_event(wall_time: f64, step: i64, value: &[u8]) -> Vec<u8> {
    let summary = Proto::new().bytes(1, value).into_bytes();
    Proto::new()
        .double(1, wall_time)
        .int(2, step)
        .bytes(5, &summary)
        .into_bytes()
}

/// `Summary.Value { tag, simple_value }`.
fn scalar_value(tag: &str, v: f64) -> Vec<u8> {
    Proto::new().bytes(1, tag.as_bytes()).float(2, v as f32).into_bytes()
}

/// `Summary.Value { tag, histo }` with TensorFlow's default bucketing idea:
/// `buckets` equal-width buckets between min and max, right edges as limits.
fn histogram_value(tag: &str, values: &[f64], buckets: usize) -> Vec<u8> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (min, max) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let (min, max) = if finite.is_empty() { (0.0, 0.0) } else { (min, max) };
    let n = buckets.max(1);
    let width = if max > min { (max - min) / n as f64 } else { 1.0 };
    let mut counts = vec![0.0; n];
    for &v in &finite {
        let i = (((v - min) / width) as usize).min(n - 1);
        counts[i] += 1.0;
    }
    let limits: Vec<f64> = (1..=n)
        .map(|i| if i == n { max } else { min + width * i as f64 })
        .collect();
    let histo = Proto::new()
        .double(1, min)
        .double(2, max)
        .double(3, finite.len() as f64)
        .double(4, finite.iter().sum())
        .double(5, finite.iter().map(|v| v * v).sum())
        .packed_doubles(6, &limits)
        .packed_doubles(7, &counts)
        .into_bytes();
    Proto::new().bytes(1, tag.as_bytes()).bytes(5, &histo).into_bytes()
}

/// The hparams plugin's session-start summary value for these parameters
/// (numbers as `number_value`, `true`/`false` as `bool_value`, anything else
/// as `string_value`).
fn hparams_value(params: &[(String, String)]) -> Vec<u8> {
    let mut start = Proto::new();
    for (k, v) in params {
        let value = match (v.parse::<f64>(), v.as_str()) {
            (Ok(x), _) if x.is_finite() => Proto::new().double(2, x).into_bytes(),
            (_, "true") => Proto::new().int(4, 1).into_bytes(),
            (_, "false") => Proto::new().int(4, 0).into_bytes(),
            _ => Proto::new().bytes(3, v.as_bytes()).into_bytes(),
        };
        let entry = Proto::new().bytes(1, k.as_bytes()).bytes(2, &value).into_bytes();
        start = start.bytes(1, &entry);
    }
    start = start.double(5, now_ms() as f64 / 1000.0);
    // HParamsPluginData field 3: session_start_info (version 0 is the default).
    hparams_summary(
        "_hparams_/session_start_info",
        &Proto::new().bytes(3, &start.into_bytes()).into_bytes(),
    )
}

/// The hparams plugin's session-end summary value: how the run ended, so the
/// HPARAMS tab shows its status.
fn session_end_value(status: RunStatus, end_time_secs: f64) -> Vec<u8> {
    // tensorboard.hparams.Status: UNKNOWN 0, SUCCESS 1, FAILURE 2, RUNNING 3.
    let code = match status {
        RunStatus::Finished => 1,
        RunStatus::Failed | RunStatus::Killed => 2,
        RunStatus::Running => 3,
    };
    let end = Proto::new().int(1, code).double(2, end_time_secs).into_bytes();
    // HParamsPluginData field 4: session_end_info.
    hparams_summary("_hparams_/session_end_info", &Proto::new().bytes(4, &end).into_bytes())
}

/// A summary value carrying hparams plugin data under `tag`, with the null
/// tensor the plugin's own writer attaches.
fn hparams_summary(tag: &str, plugin_data: &[u8]) -> Vec<u8> {
    let plugin = Proto::new().bytes(1, b"hparams").bytes(2, plugin_data).into_bytes();
    let metadata = Proto::new().bytes(1, &plugin).into_bytes();
    const NULL_TENSOR: [u8; 6] = [0x08, 0x01, 0x12, 0x02, 0x12, 0x00];
    Proto::new()
        .bytes(1, tag.as_bytes())
        .bytes(8, &NULL_TENSOR)
        .bytes(9, &metadata)
        .into_bytes()
}

/// One event file being written.
#[derive(Debug)]
pub struct EventFile {
    path: PathBuf,
    out: BufWriter<File>,
    /// Whether a session-start record was written, so the end gets one too.
    session_started: bool,
}

impl EventFile {
    /// Create `events.out.tfevents.<secs>.<host>.<pid>.<n>` in `dir` and write
    /// the file-version record.
    ///
    /// # Errors
    /// I/O failures.
    pub fn create(dir: &Path) -> Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
        let host = crate::provenance::hostname().unwrap_or_else(|| "localhost".into());
        let name = format!(
            "events.out.tfevents.{}.{host}.{}.{}",
            now_ms() / 1000,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = File::create(&path).map_err(Error::io("create", &path))?;
        let mut ef = Self {
            path,
            out: BufWriter::new(file),
            session_started: false,
        };
        let version = Proto::new()
            .double(1, now_ms() as f64 / 1000.0)
            .bytes(3, b"brain.Event:2")
            .into_bytes();
        ef.write_event(&version)?;
        Ok(ef)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_event(&mut self, event: &[u8]) -> Result<()> {
        self.out
            .write_all(&frame_record(event))
            .map_err(Error::io("write", &self.path))
    }

    /// A scalar at a step.
    ///
    /// # Errors
    /// An invalid tag, I/O failures.
    pub fn scalar(&mut self, tag: &str, value: f64, step: i64, wall_time_ms: i64) -> Result<()> {
        validate::key("scalar tag", tag)?;
        self.write_event(&summary_event(
            wall_time_ms as f64 / 1000.0,
            step,
            &scalar_value(tag, value),
        ))
    }

    /// A histogram of `values` in `buckets` equal-width buckets.
    ///
    /// # Errors
    /// An invalid tag, I/O failures.
    pub fn histogram(&mut self, tag: &str, values: &[f64], buckets: usize, step: i64) -> Result<()> {
        validate::key("histogram tag", tag)?;
        self.write_event(&summary_event(
            now_ms() as f64 / 1000.0,
            step,
            &histogram_value(tag, values, buckets),
        ))
    }

    /// Hyper-parameters, shown by TensorBoard's HPARAMS tab.
    ///
    /// # Errors
    /// I/O failures.
    pub fn hparams(&mut self, params: &[(String, String)]) -> Result<()> {
        self.write_event(&summary_event(now_ms() as f64 / 1000.0, 0, &hparams_value(params)))?;
        self.session_started = true;
        Ok(())
    }

    /// Record how the hyper-parameter session ended (only after
    /// [`EventFile::hparams`]; the plugin pairs the two records).
    ///
    /// # Errors
    /// I/O failures.
    pub fn session_end(&mut self, status: RunStatus) -> Result<()> {
        if !self.session_started {
            return Ok(());
        }
        let now = now_ms() as f64 / 1000.0;
        self.write_event(&summary_event(now, 0, &session_end_value(status, now)))
    }

    /// Push buffered records to the file.
    ///
    /// # Errors
    /// I/O failures.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(Error::io("flush", &self.path))
    }
}

/// A [`Tracker`] writing one TensorBoard run directory per run:
/// `<logdir>/<experiment>/<run name>`. Metrics become scalars and params
/// hyper-parameters. TensorBoard has no tags or artifacts: they are validated
/// and not stored here (pair this writer with an [`crate::MlflowStore`]
/// through [`crate::FanOutTracker`] to keep them).
#[derive(Debug)]
pub struct TensorBoardWriter {
    logdir: PathBuf,
    runs: Mutex<HashMap<String, EventFile>>,
}

impl TensorBoardWriter {
    /// Write under `logdir` (created if needed).
    ///
    /// # Errors
    /// I/O failures.
    pub fn new(logdir: impl AsRef<Path>) -> Result<Self> {
        let logdir = logdir.as_ref().to_path_buf();
        fs::create_dir_all(&logdir).map_err(Error::io("create", &logdir))?;
        Ok(Self {
            logdir,
            runs: Mutex::new(HashMap::new()),
        })
    }

    /// Run something on a run's event file.
    ///
    /// # Errors
    /// An unknown run, or what `f` returns.
    pub fn with_run<T>(&self, run: &RunId, f: impl FnOnce(&mut EventFile) -> Result<T>) -> Result<T> {
        let mut runs = self
            .runs
            .lock()
            .map_err(|_| Error::Conflict("tensorboard writer lock poisoned".into()))?;
        let file = runs.get_mut(&run.0).ok_or_else(|| Error::NotFound {
            what: "run",
            id: run.0.clone(),
        })?;
        f(file)
    }
}

impl Tracker for TensorBoardWriter {
    fn start_run(&self, experiment: &str, run_name: Option<&str>) -> ml_core::Result<RunId> {
        validate::name("experiment name", experiment)?;
        let safe = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        };
        let base = safe(run_name.unwrap_or("run"));
        let mut runs = self
            .runs
            .lock()
            .map_err(|_| Error::Conflict("tensorboard writer lock poisoned".into()))?;
        let mut n = 0;
        let (id, dir) = loop {
            let name = if n == 0 { base.clone() } else { format!("{base}-{n}") };
            let dir = self.logdir.join(safe(experiment)).join(&name);
            let id = format!("{}/{name}", safe(experiment));
            if !runs.contains_key(&id) && !dir.exists() {
                break (id, dir);
            }
            n += 1;
        };
        let file = EventFile::create(&dir)?;
        runs.insert(id.clone(), file);
        Ok(RunId(id))
    }

    fn log_params(&self, run: &RunId, params: &[(String, String)]) -> ml_core::Result<()> {
        Ok(self.with_run(run, |f| f.hparams(params))?)
    }

    fn log_metrics(&self, run: &RunId, metrics: &[MetricPoint]) -> ml_core::Result<()> {
        Ok(self.with_run(run, |f| {
            for m in metrics {
                f.scalar(&m.key, m.value, m.step, m.timestamp_ms)?;
            }
            Ok(())
        })?)
    }

    fn set_tags(&self, run: &RunId, tags: &[(String, String)]) -> ml_core::Result<()> {
        for (k, _) in tags {
            validate::key("tag key", k)?;
        }
        self.with_run(run, |_| Ok(()))?;
        Ok(())
    }

    fn log_artifact(&self, run: &RunId, path: &str, _contents: &[u8]) -> ml_core::Result<()> {
        validate::artifact_path(path)?;
        self.with_run(run, |_| Ok(()))?;
        Ok(())
    }

    fn end_run(&self, run: &RunId, status: RunStatus) -> ml_core::Result<()> {
        let mut runs = self
            .runs
            .lock()
            .map_err(|_| Error::Conflict("tensorboard writer lock poisoned".into()))?;
        let mut file = runs.remove(&run.0).ok_or_else(|| Error::NotFound {
            what: "run",
            id: run.0.clone(),
        })?;
        file.session_end(status)?;
        Ok(file.flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_hparams_bytes_match_references() {
        // CRC-32C check value of "123456789" is 0xE3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        // The hparams plugin data TensorBoard's own Python writes for
        // {"lr": 0.5, "opt": "adam"} (without start time).
        let mut start = Proto::new();
        for (k, v) in [
            ("lr", Proto::new().double(2, 0.5).into_bytes()),
            ("opt", Proto::new().bytes(3, b"adam").into_bytes()),
        ] {
            let entry = Proto::new().bytes(1, k.as_bytes()).bytes(2, &v).into_bytes();
            start = start.bytes(1, &entry);
        }
        let data = Proto::new().bytes(3, &start.into_bytes()).into_bytes();
        assert_eq!(
            ml_core::io::hex(&data),
            "1a200a0f0a026c72120911000000000000e03f0a0d0a036f707412061a046164616d"
        );
        // HParamsPluginData(session_end_info=SessionEndInfo(status=STATUS_SUCCESS,
        // end_time_secs=2.5)) as TensorBoard's protobuf classes serialize it.
        let end = session_end_value(RunStatus::Finished, 2.5);
        assert!(ml_core::io::hex(&end).contains("220b0801110000000000000440"));
        assert!(ml_core::io::hex(&end).contains(&ml_core::io::hex(b"_hparams_/session_end_info")));
    }
}
