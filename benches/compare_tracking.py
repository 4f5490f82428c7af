#!/usr/bin/env python3
"""Tracking throughput side by side with the Python writers, ratio printed.

    .venv/bin/python benches/compare_tracking.py [N_METRICS] [N_SCALARS]

- N_METRICS (default 10,000) metric values logged one call each to a local
  file store: mlflow.log_metric on MLflow's file store vs ml-sdk's MlflowStore.
- N_SCALARS (default 100,000) TensorBoard scalars: TensorBoard's own
  EventFileWriter (the writer PyTorch's SummaryWriter uses) vs ml-sdk's EventFile.
- N_SERVER (default 20,000) metric values sent in batches of 1,000 to a real
  `mlflow server` (SQLite backend, started here on 127.0.0.1): MlflowClient.log_batch
  vs ml-sdk's MlflowRestClient (which chunks one call into batches itself).
  Both sides are warmed, then run REPS (default 5) times each, alternating
  which goes first, each time into a fresh run; the medians are compared.
  (A server is slow on its first requests and on runs that already hold
  many metrics, so a side run once, first or into a filled run, is not
  measured fairly.)
"""
import json
import os
import signal
import statistics
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
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


def start_server():
    import socket
    import urllib.request

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = tempfile.mkdtemp()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{d}/mlflow.db", "--artifacts-destination", f"{d}/artifacts"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            return proc, url
        except Exception:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("mlflow server did not start")


def server_side(url, n):
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    exp = client.create_experiment(f"bench-python-{time.time_ns()}")
    run = client.create_run(exp).info.run_id
    now = int(time.time() * 1000)
    metrics = [Metric("loss", 1.0 / (1.0 + i), now, i) for i in range(n)]
    start = time.perf_counter()
    for k in range(0, n, 1000):
        client.log_batch(run, metrics=metrics[k : k + 1000])
    return time.perf_counter() - start


def ours(binary, *args):
    out = subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout
    return {r["workload"]: r for r in map(json.loads, out.strip().splitlines())}


def main():
    n_metrics = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    n_scalars = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    n_server = int(sys.argv[3]) if len(sys.argv) > 3 else 20_000
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "ml-sdk-benches", "--bin", "compare_tracking"],
                   cwd=ROOT, check=True)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = str(target / "release" / "compare_tracking")
    rust = ours(binary, "local", str(n_metrics), str(n_scalars))
    theirs = {
        "mlflow_store_log_metric_one_per_call": mlflow_side(n_metrics),
        "tensorboard_scalars": tensorboard_side(n_scalars),
    }
    proc, url = start_server()
    try:
        # Warm the server with both clients before timing either.
        server_side(url, 5000)
        ours(binary, "server", url, "5000")
        py_times, rust_times = [], []
        for rep in range(reps):
            order = ["python", "rust"] if rep % 2 == 0 else ["rust", "python"]
            for side in order:
                if side == "python":
                    py_times.append(server_side(url, n_server))
                else:
                    rust_times.append(ours(binary, "server", url, str(n_server))["server_log_batch"]["seconds"])
        print("server log_batch per rep (s): python " + " ".join(f"{t:.3f}" for t in py_times)
              + " | ml-sdk " + " ".join(f"{t:.3f}" for t in rust_times))
        rust["server_log_batch"] = {"count": n_server, "seconds": statistics.median(rust_times)}
        theirs["server_log_batch"] = statistics.median(py_times)
    finally:
        # The server's uvicorn and job runners share its session: stop them all.
        os.killpg(proc.pid, signal.SIGKILL)
    import mlflow
    import tensorboard

    print(f"mlflow {mlflow.__version__}, tensorboard {tensorboard.__version__}")
    print(f"{'workload':<40} {'count':>8} {'ml-sdk s':>10} {'python s':>10} {'ratio':>8} {'per call (ours / theirs)':>28}")
    for name, secs in theirs.items():
        r = rust[name]
        n = r["count"]
        print(
            f"{name:<40} {n:>8} {r['seconds']:>10.4f} {secs:>10.4f} {r['seconds'] / secs:>8.4f} "
            f"{1e6 * r['seconds'] / n:>12.2f} us / {1e6 * secs / n:.2f} us"
        )


if __name__ == "__main__":
    main()
