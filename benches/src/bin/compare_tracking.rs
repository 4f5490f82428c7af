//! Times the tracking workloads of `benches/compare_tracking.py` and prints
//! one JSON object per workload: `{"workload", "seconds", "count"}`.
//! Arguments: N_METRICS N_SCALARS [SERVER_URL N_SERVER_METRICS].

use std::time::Instant;

use anyhow::Result;
use ml_sdk::core::{MetricPoint, RunStatus, Tracker};
use ml_sdk::track::{EventFile, MlflowRestClient, MlflowStore, now_ms};
use serde_json::json;

fn main() -> Result<()> {
    let n_metrics: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let n_scalars: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
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

    // Batched logging to a tracking server, when one is given.
    if let (Some(url), Some(n)) = (std::env::args().nth(3), std::env::args().nth(4)) {
        let n: usize = n.parse()?;
        let client = MlflowRestClient::new(&url);
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
    }
    Ok(())
}
