//! [`TensorBoardWriter`]: TensorBoard event files (`events.out.tfevents.*`)
//! with scalars (`simple_value`), histograms and hyper-parameters (the hparams
//! plugin's session-start record), framed as TFRecords with masked CRC-32C.
//!
//! The protobuf messages (`Event`, `Summary`, `HistogramProto`,
//! `SummaryMetadata`, `HParamsPluginData`) are ml-proto's, generated from
//! the schemas the tensorboard wheel ships.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ml_core::{MetricPoint, RunId, RunStatus, Tracker};
use ml_proto::google::protobuf::{Value as PbValue, value::Kind};
use ml_proto::prost::Message;
use ml_proto::tensorboard::hparams::{self, HParamsPluginData, SessionEndInfo, SessionStartInfo, h_params_plugin_data};
use ml_proto::tensorboard::{
    DataType, Event, HistogramProto, Summary, SummaryMetadata, TensorProto, TensorShapeProto, event, summary,
    summary_metadata, tensor_shape_proto,
};

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
fn summary_event(wall_time: f64, step: i64, value: summary::Value) -> Vec<u8> {
    Event {
        wall_time,
        step,
        what: Some(event::What::Summary(Summary { value: vec![value] })),
        ..Default::default()
    }
    .encode_to_vec()
}

/// `Summary.Value { tag, simple_value }`.
fn scalar_value(tag: &str, v: f64) -> summary::Value {
    summary::Value {
        tag: tag.to_string(),
        value: Some(summary::value::Value::SimpleValue(v as f32)),
        ..Default::default()
    }
}

/// `Summary.Value { tag, histo }` with TensorFlow's default bucketing idea:
/// `buckets` equal-width buckets between min and max, right edges as limits.
fn histogram_value(tag: &str, values: &[f64], buckets: usize) -> summary::Value {
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
    let histo = HistogramProto {
        min,
        max,
        num: finite.len() as f64,
        sum: finite.iter().sum(),
        sum_squares: finite.iter().map(|v| v * v).sum(),
        bucket_limit: limits,
        bucket: counts,
    };
    summary::Value {
        tag: tag.to_string(),
        value: Some(summary::value::Value::Histo(histo)),
        ..Default::default()
    }
}

/// The hparams plugin's session-start data for these parameters (numbers
/// as `number_value`, `true`/`false` as `bool_value`, anything else as
/// `string_value`).
fn session_start_data(params: &[(String, String)], start_time_secs: f64) -> HParamsPluginData {
    let hparams = params
        .iter()
        .map(|(k, v)| {
            let kind = match (v.parse::<f64>(), v.as_str()) {
                (Ok(x), _) if x.is_finite() => Kind::NumberValue(x),
                (_, "true") => Kind::BoolValue(true),
                (_, "false") => Kind::BoolValue(false),
                _ => Kind::StringValue(v.clone()),
            };
            (k.clone(), PbValue { kind: Some(kind) })
        })
        .collect();
    HParamsPluginData {
        version: 0,
        data: Some(h_params_plugin_data::Data::SessionStartInfo(SessionStartInfo {
            hparams,
            start_time_secs,
            ..Default::default()
        })),
    }
}

/// The hparams plugin's session-start summary value.
fn hparams_value(params: &[(String, String)]) -> summary::Value {
    hparams_summary(
        "_hparams_/session_start_info",
        &session_start_data(params, now_ms() as f64 / 1000.0),
    )
}

/// The hparams plugin's session-end summary value: how the run ended, so the
/// HPARAMS tab shows its status.
fn session_end_value(status: RunStatus, end_time_secs: f64) -> summary::Value {
    let status = match status {
        RunStatus::Finished => hparams::Status::Success,
        RunStatus::Failed | RunStatus::Killed => hparams::Status::Failure,
        RunStatus::Running => hparams::Status::Running,
    };
    let data = HParamsPluginData {
        version: 0,
        data: Some(h_params_plugin_data::Data::SessionEndInfo(SessionEndInfo {
            status: status as i32,
            end_time_secs,
        })),
    };
    hparams_summary("_hparams_/session_end_info", &data)
}

/// A summary value carrying hparams plugin data under `tag`, with the null
/// tensor (a float tensor of shape `[0]`) the plugin's own writer attaches.
fn hparams_summary(tag: &str, data: &HParamsPluginData) -> summary::Value {
    let null_tensor = TensorProto {
        dtype: DataType::DtFloat as i32,
        tensor_shape: Some(TensorShapeProto {
            dim: vec![tensor_shape_proto::Dim::default()],
            ..Default::default()
        }),
        ..Default::default()
    };
    summary::Value {
        tag: tag.to_string(),
        metadata: Some(SummaryMetadata {
            plugin_data: Some(summary_metadata::PluginData {
                plugin_name: "hparams".into(),
                content: data.encode_to_vec(),
            }),
            ..Default::default()
        }),
        value: Some(summary::value::Value::Tensor(null_tensor)),
        ..Default::default()
    }
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
        let version = Event {
            wall_time: now_ms() as f64 / 1000.0,
            what: Some(event::What::FileVersion("brain.Event:2".into())),
            ..Default::default()
        }
        .encode_to_vec();
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
            scalar_value(tag, value),
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
            histogram_value(tag, values, buckets),
        ))
    }

    /// Hyper-parameters, shown by TensorBoard's HPARAMS tab.
    ///
    /// # Errors
    /// I/O failures.
    pub fn hparams(&mut self, params: &[(String, String)]) -> Result<()> {
        self.write_event(&summary_event(now_ms() as f64 / 1000.0, 0, hparams_value(params)))?;
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
        self.write_event(&summary_event(now, 0, session_end_value(status, now)))
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
        let params = [
            ("lr".to_string(), "0.5".to_string()),
            ("opt".to_string(), "adam".to_string()),
        ];
        let data = session_start_data(&params, 0.0).encode_to_vec();
        assert_eq!(
            ml_core::io::hex(&data),
            "1a200a0f0a026c72120911000000000000e03f0a0d0a036f707412061a046164616d"
        );
        // HParamsPluginData(session_end_info=SessionEndInfo(status=STATUS_SUCCESS,
        // end_time_secs=2.5)) as TensorBoard's protobuf classes serialize it,
        // under the session-end tag with the plugin's null tensor.
        let end = session_end_value(RunStatus::Finished, 2.5).encode_to_vec();
        assert!(ml_core::io::hex(&end).contains("220b0801110000000000000440"));
        assert!(ml_core::io::hex(&end).contains(&ml_core::io::hex(b"_hparams_/session_end_info")));
        assert!(
            ml_core::io::hex(&end).contains("4206080112021200"),
            "{}",
            ml_core::io::hex(&end)
        );
    }
}
