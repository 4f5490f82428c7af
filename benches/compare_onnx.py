#!/usr/bin/env python3
"""Run the same ONNX files through Python onnxruntime and through ml-sdk's
OnnxModel (ONNX Runtime via ort, and tract) in one run, and print each ratio
(ours / Python's) of median time per call.

    .venv/bin/python benches/compare_onnx.py [ROUNDS] [TRIALS]

Workloads (models exported by skl2onnx without ZipMap, so every side gets
plain tensors):
- single-row latency of a scaler + logistic regression on breast_cancer;
- a batch of 1000 rows through a 100-tree, depth-8 random forest on digits.

Both runtimes load the wheel's libonnxruntime (ort through ORT_DYLIB_PATH,
set here) with ONNX Runtime's default threading. The Rust side is built in
release mode (benches/src/bin/compare_onnx.rs); its time includes
OnnxModel::predict's input checks and the conversion to Predictions. A
fourth column, "ort floor", times ONNX Runtime's bare run, through the ort
crate, of the graph OnnxModel hands it (the file with ZipMap stripped and
scalers folded into linear operators), with no ml-sdk code in the call (rows
bound once, no checks, no conversions, outputs not read): the least time a
call through ONNX Runtime takes on that graph, whatever wraps it. A fifth,
"ml-sdk spec", imports the graph to a ModelSpec (OnnxModel::describe) and
evaluates the spec in ml-sdk's own code, no runtime at all: the path a
server can take for models whose spec it holds.

This 2-core machine switches between speed regimes for seconds at a time
(the same binary measures 4.5 or 8 us per call, 3.9 or 5.3 ms per batch), so
each workload runs TRIALS times with the three sides interleaved; a trial's
ratio compares sides timed seconds apart, and the printed figures are the
medians over trials.
"""
import glob
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime
import skl2onnx
from skl2onnx import to_onnx
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "ml-datasets" / "data"


def python_side(path, x, rounds, calls):
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    feed = {name: x}
    sess.run(None, feed)
    per_call = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            sess.run(None, feed)
        per_call.append((time.perf_counter() - start) / calls)
    return statistics.median(per_call)


def rust_side(path, rows_csv, runtime, batch, rounds, calls):
    cmd = ["cargo", "run", "--release", "--quiet", "-p", "ml-sdk-benches", "--bin", "compare_onnx", "--",
           str(path), str(rows_csv), runtime, str(batch), str(rounds), str(calls)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["seconds_per_call"]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    lib = glob.glob(str(pathlib.Path(onnxruntime.__file__).parent / "capi" / "libonnxruntime.so.*"))[0]
    os.environ["ORT_DYLIB_PATH"] = lib
    bc = np.loadtxt(DATA / "breast_cancer.csv", delimiter=",", skiprows=1)
    digits = np.loadtxt(DATA / "digits.csv", delimiter=",")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        workloads = []
        lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(bc[:, :-1], bc[:, -1])
        rf = RandomForestClassifier(100, max_depth=8, random_state=0, n_jobs=1).fit(digits[:, :-1], digits[:, -1])
        for name, model, x, batch, calls in [
            ("logistic, 1 row (latency)", lr, bc[:, :-1], 1, 200),
            ("forest 100 trees, 1000 rows", rf, digits[:, :-1], 1000, 2),
        ]:
            path = tmp / f"{name.split()[0]}.onnx"
            x32 = x[:batch].astype(np.float32)
            onx = to_onnx(model, x32[:1], options={id(model): {"zipmap": False}})
            path.write_bytes(onx.SerializeToString())
            rows = tmp / f"{name.split()[0]}.csv"
            np.savetxt(rows, x32.astype(np.float64), delimiter=",", fmt="%.9g")
            workloads.append((name, path, rows, x32, batch, calls))

        print(f"onnxruntime {onnxruntime.__version__} (Python and, through ort, ml-sdk), skl2onnx {skl2onnx.__version__}; "
              f"median of {rounds} rounds per trial, medians over {trials} interleaved trials, time per call")
        print(f"{'workload':<30} {'python ort':>11} {'ml-sdk ort':>11} {'ratio':>6} {'ml-sdk tract':>13} {'ratio':>6} "
              f"{'ort floor':>10} {'ratio':>6} {'ml-sdk spec':>12} {'ratio':>6}")
        for name, path, rows, x32, batch, calls in workloads:
            runs = []
            for _ in range(trials):
                py = python_side(path, x32, rounds, calls)
                ort = rust_side(path, rows, "ort", batch, rounds, calls)
                tract = rust_side(path, rows, "tract", batch, rounds, calls)
                floor = rust_side(path, rows, "ort-raw", batch, rounds, calls)
                spec = rust_side(path, rows, "spec", batch, rounds, calls)
                runs.append((py, ort, tract, floor, ort / py, tract / py, floor / py, spec, spec / py))
            py, ort, tract, floor, ort_ratio, tract_ratio, floor_ratio, spec, spec_ratio = (
                statistics.median(col) for col in zip(*runs))
            print(f"{name:<30} {py * 1e6:>9.1f}us {ort * 1e6:>9.1f}us {ort_ratio:>6.3f} "
                  f"{tract * 1e6:>11.1f}us {tract_ratio:>6.3f} {floor * 1e6:>8.1f}us {floor_ratio:>6.3f} "
                  f"{spec * 1e6:>10.1f}us {spec_ratio:>6.3f}")
            spread = ", ".join(f"{r[4]:.2f} (floor {r[6]:.2f})" for r in runs)
            print(f"{'':<30} ort ratio per trial: {spread}")


if __name__ == "__main__":
    main()
