//! Times the tracking workloads of `benches/compare_tracking.py` and prints
//! one JSON object per workload: `{"workload", "seconds", "count"}`.
//!
//! - `compare_tracking local N_METRICS N_SCALARS`: the file store and
//!   TensorBoard workloads.
//! - `compare_tracking server URL N`: N metric values to a fresh run on a
//!   tracking server in one `log_metrics` call (sent in batches of 1,000).

use std::time::Instant;

use anyhow::Result;
use ml_sdk::core::{MetricPoint, RunStatus, Tracker};
use ml_sdk::track::{EventFile, MlflowRestClient, MlflowStore, now_ms};
use serde_json::json;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["local", n_metrics, n_scalars] => local(n_metrics.parse()?, n_scalars.parse()?),
        ["server", url, n] => server(url, n.parse()?),
        _ => anyhow::bail!("usage: compare_tracking local N_METRICS N_SCALARS | server URL N"),
    }
}

fn local(n_metrics: usize, n_scalars: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("mlsdk-bench-{}", std::process::id()));

    let store = MlflowStore::open(dir.join("mlruns"))?;
    let run = store.start_run("bench", None)?;
    let start = Instant::now();
    for i in 0..n_metrics {
        let p = MetricPoint {
            key: "loss".into(),
            value: 1.0 / (1.0 + i as f64),
            step: i as i64,
            timestamp_ms: now_ms(),
        };
        store.log_metrics(&run, std::slice::from_ref(&p))?;
    }
    let secs = start.elapsed().as_secs_f64();
    store.end_run(&run, RunStatus::Finished)?;
    assert_eq!(store.run(&run.0)?.metrics["loss"].len(), n_metrics);
    println!(
        "{}",
        json!({"workload": "mlflow_store_log_metric_one_per_call", "seconds": secs, "count": n_metrics})
    );

    let start = Instant::now();
    let mut events = EventFile::create(&dir.join("tb"))?;
    for i in 0..n_scalars {
        events.scalar("loss", 1.0 / (1.0 + i as f64), i as i64, now_ms())?;
    }
    events.flush()?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"workload": "tensorboard_scalars", "seconds": secs, "count": n_scalars})
    );
    std::fs::remove_dir_all(&dir)?;

    Ok(())
}

fn server(url: &str, n: usize) -> Result<()> {
    let client = MlflowRestClient::new(url);
    let run = client.start_run("bench-rust", None)?;
    let now = now_ms();
    let points: Vec<MetricPoint> = (0..n)
        .map(|i| MetricPoint {
            key: "loss".into(),
            value: 1.0 / (1.0 + i as f64),
            step: i as i64,
            timestamp_ms: now,
        })
        .collect();
    let start = Instant::now();
    client.log_metrics(&run, &points)?;
    let secs = start.elapsed().as_secs_f64();
    client.end_run(&run, RunStatus::Finished)?;
    println!(
        "{}",
        json!({"workload": "server_log_batch", "seconds": secs, "count": n})
    );
    Ok(())
}
