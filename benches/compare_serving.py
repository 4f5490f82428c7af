#!/usr/bin/env python3
"""Serve the same models with `mlsdk serve`, MLServer (its scikit-learn
runtime) and `mlflow models serve` (MLflow's ONNX flavor, on the model
`mlsdk train --log-onnx` logs), load each with wrk over loopback in one run,
and print throughput, p50 and p99 latency and the ratios.

    .venv/bin/python benches/compare_serving.py [SECONDS]

Models: a scaler + logistic regression on breast_cancer, and a 100-tree
random forest on digits (scikit-learn's for MLServer, trained with the same
hyper-parameters; ml-sdk's for the other two). One row a request, JSON
bodies: the Open Inference Protocol's `/v2/models/NAME/infer` for ml-sdk and
MLServer, `/invocations` with `{"inputs": [[...]]}` for MLflow. wrk (Debian's
package, installed here if missing) runs 1 thread and 1 connection, then 2
threads and 16 connections, SECONDS (default 10) each, client on the same 2
cores as the server. A last run measures dynamic batching: `mlsdk serve`
with and without `--max-batch 64` at 64 connections on the forest.

Every server answers one request before it is timed (MLflow's answer is
checked against ml-sdk's, which serve the same ONNX export), so a server that
errors fails the run instead of being timed.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from timing import release_dir

ROOT = pathlib.Path(__file__).resolve().parent.parent
SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=180):
    start = time.time()
    while time.time() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def post(url, body):
    req = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def run(cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def ensure_wrk():
    if shutil.which("wrk"):
        return
    run(["apt-get", "install", "-y", "-q", "wrk"], stdout=subprocess.DEVNULL)


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("BODY_FILE")):read("*a")
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %f %f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk(url, body, threads, connections, seconds, tmp):
    body_file = os.path.join(tmp, "body.json")
    with open(body_file, "w") as f:
        f.write(body)
    script = os.path.join(tmp, "post.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
        env={**os.environ, "BODY_FILE": body_file}, capture_output=True, text=True, check=True,
    ).stdout
    m = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", out)
    requests, errors, duration_us, p50_us, p99_us = m.groups()
    return {
        "rps": int(requests) / (int(duration_us) / 1e6),
        "errors": int(errors),
        "p50_ms": float(p50_us) / 1000,
        "p99_ms": float(p99_us) / 1000,
    }


class Server:
    def __init__(self, cmd, ready_url, env=None, cwd=None):
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_http(ready_url)

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def main():
    ensure_wrk()
    run(["cargo", "build", "--release", "--quiet", "-p", "ml-sdk-cli"], cwd=ROOT)
    mlsdk = str(release_dir() / "mlsdk")
    run(["bash", str(ROOT / "scripts" / "setup-python.sh"), "mlserver"], stdout=subprocess.DEVNULL)
    mlserver_bin = ROOT / ".venv-mlserver" / "bin"
    venv_bin = pathlib.Path(sys.executable).parent
    tmp = tempfile.mkdtemp(prefix="compare_serving-")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
           "PATH": f"{venv_bin}:{os.environ['PATH']}"}

    models = {
        "logistic": ("breast_cancer", "logistic", []),
        "forest": ("digits", "forest", ["--param", "n_trees=100", "--param", "max_depth=8", "--seed", "1"]),
    }
    rows = {}
    for name, (dataset, algorithm, params) in models.items():
        d = os.path.join(tmp, name)
        os.makedirs(d)
        run([mlsdk, "datasets", "export", dataset, "--out", "data.csv"], cwd=d, stdout=subprocess.DEVNULL)
        run([mlsdk, "train", "--data", "data.csv", "--target", "target", "--model", algorithm, *params,
             "--out", "model", "--tracking-uri", "mlruns", "--log-onnx", "--json"], cwd=d, stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "data.csv")) as f:
            header = f.readline().strip().split(",")
            first = f.readline().strip().split(",")
        t = header.index("target")
        rows[name] = [float(v) for j, v in enumerate(first) if j != t]

    # MLServer's scikit-learn models: the same estimators and hyper-parameters.
    mlserver_repo = os.path.join(tmp, "mlserver")
    train = f"""
import json, os, sys, joblib
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
root = sys.argv[1]
for name, (X, y), est in [
    ("logistic", load_breast_cancer(return_X_y=True), make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
    ("forest", load_digits(return_X_y=True), RandomForestClassifier(n_estimators=100, max_depth=8, random_state=1)),
]:
    d = os.path.join(root, name)
    os.makedirs(d)
    est.fit(X, y)
    joblib.dump(est, os.path.join(d, "model.joblib"))
    json.dump({{"name": name, "implementation": "mlserver_sklearn.SKLearnModel",
               "parameters": {{"uri": "./model.joblib"}}}}, open(os.path.join(d, "model-settings.json"), "w"))
json.dump({{"http_port": int(sys.argv[2]), "grpc_port": int(sys.argv[3]), "metrics_port": int(sys.argv[4]),
           "parallel_workers": 0}}, open(os.path.join(root, "settings.json"), "w"))
"""
    os.makedirs(mlserver_repo)
    ports = [free_port() for _ in range(3)]
    run([str(mlserver_bin / "python"), "-c", train, mlserver_repo, *map(str, ports)])

    results = {}

    def measure(label, base, path, body_of, check):
        for model in models:
            body = body_of(model)
            answer = post(base + path(model), body)
            check(model, answer)
            for threads, conns in [(1, 1), (2, 16)]:
                r = wrk(base + path(model), body, threads, conns, SECONDS, tmp)
                results[(label, model, conns)] = r
                print(f"{label:8} {model:8} c={conns:<3} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:7.3f} ms  "
                      f"p99 {r['p99_ms']:7.3f} ms  errors {r['errors']}", flush=True)

    def oip(model):
        return json.dumps({"inputs": [{"name": "input", "shape": [1, len(rows[model])], "datatype": "FP64",
                                       "data": rows[model]}]})

    expected = {}

    # ml-sdk: the saved models (specs), HTTP/1.1 keep-alive.
    port = free_port()
    ours = Server([mlsdk, "serve", "--model", f"logistic={tmp}/logistic/model", "--model", f"forest={tmp}/forest/model",
                   "--port", str(port), "--grpc-port", "0"], f"http://127.0.0.1:{port}/v2/health/ready")

    def check_ours(model, answer):
        expected[model] = answer["outputs"][0]["data"][0]
    measure("ml-sdk", f"http://127.0.0.1:{port}", lambda m: f"/v2/models/{m}/infer", oip, check_ours)
    ours.stop()

    # MLServer, scikit-learn runtime, one process (parallel inference off, as its docs advise for small models).
    mls = Server([str(mlserver_bin / "mlserver"), "start", mlserver_repo],
                 f"http://127.0.0.1:{ports[0]}/v2/health/ready", env={**os.environ, "PATH": f"{mlserver_bin}:{os.environ['PATH']}"})

    def mlserver_body(model):
        return json.dumps({"inputs": [{"name": "predict", "shape": [1, len(rows[model])], "datatype": "FP64",
                                       "data": rows[model]}]})

    def check_mlserver(model, answer):
        # scikit-learn's labels are its own encoding of the classes; only the answer's form is checked.
        assert answer["outputs"][0]["shape"][0] == 1, answer
    measure("MLServer", f"http://127.0.0.1:{ports[0]}", lambda m: f"/v2/models/{m}/infer", mlserver_body, check_mlserver)
    mls.stop()

    # mlflow models serve on each logged ONNX model, one server per model.
    for model in models:
        logged = next(pathlib.Path(tmp, model, "mlruns").glob("*/*/artifacts/onnx-model"))
        port = free_port()
        srv = Server([str(venv_bin / "mlflow"), "models", "serve", "-m", str(logged), "--env-manager", "local",
                      "--host", "127.0.0.1", "-p", str(port)], f"http://127.0.0.1:{port}/ping", env=env)
        body = json.dumps({"inputs": [rows[model]]})
        answer = post(f"http://127.0.0.1:{port}/invocations", body)
        assert answer["predictions"]["label"][0] == expected[model], answer
        for threads, conns in [(1, 1), (2, 16)]:
            r = wrk(f"http://127.0.0.1:{port}/invocations", body, threads, conns, SECONDS, tmp)
            results[("mlflow", model, conns)] = r
            print(f"{'mlflow':8} {model:8} c={conns:<3} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:7.3f} ms  "
                  f"p99 {r['p99_ms']:7.3f} ms  errors {r['errors']}", flush=True)
        srv.stop()

    # Dynamic batching on the forest at 64 connections.
    for label, extra in [("unbatched", []), ("batched", ["--max-batch", "64", "--batch-delay-us", "200"])]:
        port = free_port()
        srv = Server([mlsdk, "serve", "--model", f"forest={tmp}/forest/model", "--port", str(port), "--grpc-port", "0",
                      *extra], f"http://127.0.0.1:{port}/v2/health/ready")
        r = wrk(f"http://127.0.0.1:{port}/v2/models/forest/infer", oip("forest"), 2, 64, SECONDS, tmp)
        results[(label, "forest", 64)] = r
        print(f"{label:9} forest   c=64  {r['rps']:9.0f} req/s  p50 {r['p50_ms']:7.3f} ms  p99 {r['p99_ms']:7.3f} ms  "
              f"errors {r['errors']}", flush=True)
        srv.stop()

    print("\nthroughput ratio, ml-sdk / peer (higher is better):")
    for model in models:
        for conns in (1, 16):
            ours = results[("ml-sdk", model, conns)]["rps"]
            print(f"  {model:8} c={conns:<3} vs MLServer {ours / results[('MLServer', model, conns)]['rps']:6.1f}x   "
                  f"vs mlflow {ours / results[('mlflow', model, conns)]['rps']:6.1f}x")
    b, u = results[("batched", "forest", 64)], results[("unbatched", "forest", 64)]
    print(f"  batching at c=64 on the forest: {b['rps'] / u['rps']:.2f}x the unbatched throughput")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
