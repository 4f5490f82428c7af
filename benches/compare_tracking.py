#!/usr/bin/env python3
"""Tracking throughput side by side with the Python writers, ratio printed.

    .venv/bin/python benches/compare_tracking.py [N_METRICS] [N_SCALARS]

- N_METRICS (default 10,000) metric values logged one call each to a local
  file store: mlflow.log_metric on MLflow's file store vs ml-sdk's MlflowStore.
- N_SCALARS (default 100,000) TensorBoard scalars: TensorBoard's own
  EventFileWriter (the writer PyTorch's SummaryWriter uses) vs ml-sdk's EventFile.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
ROOT = pathlib.Path(__file__).resolve().parent.parent


def mlflow_side(n):
    import mlflow

    d = tempfile.mkdtemp()
    mlflow.set_tracking_uri(pathlib.Path(d).as_uri())
    mlflow.set_experiment("bench")
    with mlflow.start_run():
        start = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (1.0 + i), step=i)
        return time.perf_counter() - start


def tensorboard_side(n):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    d = tempfile.mkdtemp()
    start = time.perf_counter()
    w = EventFileWriter(d)
    for i in range(n):
        s = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (1.0 + i))])
        w.add_event(event_pb2.Event(summary=s, step=i, wall_time=time.time()))
    w.close()
    return time.perf_counter() - start


def main():
    n_metrics = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    n_scalars = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    cmd = ["cargo", "run", "--release", "--quiet", "-p", "ml-sdk-benches", "--bin", "compare_tracking", "--", str(n_metrics), str(n_scalars)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    ours = {r["workload"]: r for r in map(json.loads, out.strip().splitlines())}
    theirs = {
        "mlflow_store_log_metric_one_per_call": mlflow_side(n_metrics),
        "tensorboard_scalars": tensorboard_side(n_scalars),
    }
    import mlflow
    import tensorboard

    print(f"mlflow {mlflow.__version__}, tensorboard {tensorboard.__version__}")
    print(f"{'workload':<40} {'count':>8} {'ml-sdk s':>10} {'python s':>10} {'ratio':>8} {'per call (ours / theirs)':>28}")
    for name, secs in theirs.items():
        r = ours[name]
        n = r["count"]
        print(
            f"{name:<40} {n:>8} {r['seconds']:>10.4f} {secs:>10.4f} {r['seconds'] / secs:>8.4f} "
            f"{1e6 * r['seconds'] / n:>12.2f} us / {1e6 * secs / n:.2f} us"
        )


if __name__ == "__main__":
    main()
