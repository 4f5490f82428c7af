"""Helpers shared by the comparison scripts: timing, CSV files, and where
cargo puts release builds (ml-learn's fit_timing example for
benches/compare_boosting.py and compare_neighbors.py; the rl and serving
comparisons' binaries)."""
import json
import pathlib
import subprocess
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


def best_of(runs, f):
    """The best time of `runs` calls of `f`, with the last call's result."""
    best, out = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def write_csv(path, x, y):
    """Features f0, f1, … and `target` (integers stay integers: classes)."""
    header = ",".join([f"f{j}" for j in range(x.shape[1])] + ["target"])
    fmt = "%.17g" if y.dtype.kind == "f" else ["%.17g"] * x.shape[1] + ["%d"]
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header, comments="", fmt=fmt)


def release_dir():
    """Cargo's release output directory (CARGO_TARGET_DIR or the workspace's
    `target`, as cargo reports it)."""
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout
    return pathlib.Path(json.loads(meta)["target_directory"]) / "release"


def fit_timing_binary():
    """Build ml-learn's fit_timing example in release mode; its path."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ml-learn", "--example", "fit_timing"],
                   cwd=ROOT, check=True)
    return release_dir() / "examples" / "fit_timing"


def fit_timing(binary, train_csv, test_csv, runs, params, one_cpu):
    """Run fit_timing (pinned to one CPU with taskset when `one_cpu`: its
    prediction sizes its threads by the CPUs it may use); its JSON line."""
    pin = ["taskset", "-c", "0"] if one_cpu else []
    out = subprocess.run([*pin, str(binary), str(train_csv), str(test_csv), str(runs), *params],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])
