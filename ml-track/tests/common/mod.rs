//! Child-process helpers shared by the tracking tests.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![allow(dead_code)]

use std::process::{Child, Command};

use ml_core::{MetricPoint, RunId, Tracker};
use ml_track::MlflowStore;

/// Environment variable that turns the `child_writer` helper test on.
pub const CHILD_ENV: &str = "MLSDK_TRACK_CHILD";

/// Spawn this test binary's `child_writer` helper: it appends `count` metric
/// values to `key` of `run` (`count` 0: forever, until killed).
pub fn spawn_writer(root: &std::path::Path, run: &RunId, key: &str, count: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_writer", "--nocapture"])
        .env(CHILD_ENV, format!("{}|{}|{key}|{count}", root.display(), run.0))
        .spawn()
        .expect("spawn child writer")
}

/// The body of the `child_writer` helper.
pub fn child_writer_body() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let parts: Vec<&str> = spec.split('|').collect();
    let store = MlflowStore::open(parts[0]).unwrap();
    let run = RunId(parts[1].to_string());
    let count: usize = parts[3].parse().unwrap();
    let mut i = 0;
    while count == 0 || i < count {
        store
            .log_metrics(
                &run,
                &[MetricPoint {
                    key: parts[2].into(),
                    value: i as f64,
                    step: i as i64,
                    timestamp_ms: 1_700_000_000_000 + i as i64,
                }],
            )
            .unwrap();
        i += 1;
        if count == 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
