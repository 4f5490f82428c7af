#!/usr/bin/env python3
"""Run the training workloads through scikit-learn and through ml-sdk in one run
and print each ratio (ours / theirs) of median fit times, with the quality each
side reached.

    .venv/bin/python benches/compare_sklearn.py [RUNS]

Both sides are held to one thread (OMP/OpenBLAS/MKL for scikit-learn; ml-sdk's
trainers are single-threaded). The Rust side is built in release mode and
timed by benches/src/bin/compare.rs on the same data and splits.
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

for var in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]:
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "ml-datasets" / "data"


def median_seconds(runs, fit):
    fit()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fit()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sklearn_side(runs):
    bc = np.loadtxt(DATA / "breast_cancer.csv", delimiter=",", skiprows=1)
    xb, yb = bc[:, :-1], bc[:, -1].astype(int)
    digits = np.loadtxt(DATA / "digits.csv", delimiter=",")
    xd, yd = digits[:, :-1], digits[:, -1].astype(int)
    split = json.loads((ROOT / "testdata" / "sklearn_models.json").read_text())["digits_split"]
    tr, te = np.array(split["train"]), np.array(split["test"])

    out = {}
    lr = lambda: make_pipeline(StandardScaler(), LogisticRegression()).fit(xb, yb)  # noqa: E731
    out["logistic_breast_cancer"] = (median_seconds(runs, lr), lr().score(xb, yb))
    rf = lambda: RandomForestClassifier(100, max_depth=8, n_jobs=1, random_state=0).fit(xd[tr], yd[tr])  # noqa: E731
    r = max(1, (runs + 3) // 4)
    out["forest100_depth8_digits"] = (median_seconds(r, rf), rf().score(xd[te], yd[te]))
    km = lambda: KMeans(10, n_init=10, random_state=0).fit(xd)  # noqa: E731
    out["kmeans10_ninit10_digits"] = (median_seconds(r, km), km().inertia_)
    return out


def ours(runs):
    cmd = ["cargo", "run", "--release", "--quiet", "-p", "ml-sdk-benches", "--bin", "compare", "--", str(runs)]
    text = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return {r["workload"]: r for r in map(json.loads, text.strip().splitlines())}


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rust = ours(runs)
    py = sklearn_side(runs)
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, one thread each, median of runs")
    print(f"{'workload':<26} {'ml-sdk s':>10} {'sklearn s':>10} {'ratio':>7}   quality (ml-sdk / sklearn)")
    for name, (secs, quality) in py.items():
        r = rust[name]
        print(
            f"{name:<26} {r['seconds']:>10.5f} {secs:>10.5f} {r['seconds'] / secs:>7.3f}   "
            f"{r['quality_metric']}: {r['quality']:.4f} / {quality:.4f}"
        )


if __name__ == "__main__":
    main()
