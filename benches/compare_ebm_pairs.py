#!/usr/bin/env python3
"""EBM fits with many pairwise interactions, side by side with InterpretML.

    .venv/bin/python benches/compare_ebm_pairs.py [K ...]

Both fit an explainable boosting machine with InterpretML's defaults and K
interaction terms (default: 10 and 78, every pair of 13 features) to the
first 124 rows and 13 features of breast_cancer, where the pairs can drive
the validation loss towards zero. InterpretML runs with n_jobs=1; ours is
`mlsdk train --model ebm` (its bags in two threads), built in release mode
unless MLSDK_BIN names a binary. One fit per side and K; wall time.
"""
import csv
import importlib.metadata
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import pandas as pd
from interpret.glassbox import ExplainableBoostingClassifier

ROOT = pathlib.Path(__file__).resolve().parent.parent


def mlsdk() -> str:
    if os.environ.get("MLSDK_BIN"):
        return os.environ["MLSDK_BIN"]
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ml-sdk-cli"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(pathlib.Path(target) / "release" / "mlsdk")


def main() -> None:
    ks = [int(k) for k in sys.argv[1:]] or [10, 78]
    binary = mlsdk()
    with tempfile.TemporaryDirectory() as tmp:
        full = pathlib.Path(tmp) / "bc.csv"
        subprocess.run([binary, "datasets", "export", "breast_cancer", "--out", str(full)], check=True,
                       stdout=subprocess.DEVNULL)
        rows = list(csv.reader(full.open()))
        keep = list(range(13)) + [len(rows[0]) - 1]
        data = pathlib.Path(tmp) / "bc124.csv"
        with data.open("w", newline="") as f:
            csv.writer(f).writerows([[r[i] for i in keep] for r in rows[:125]])
        frame = pd.read_csv(data)
        y = frame.pop("target")
        print(f"interpret {importlib.metadata.version('interpret-core')}, 124 rows x 13 features")
        for k in ks:
            start = time.perf_counter()
            ExplainableBoostingClassifier(interactions=k, n_jobs=1).fit(frame, y)
            theirs = time.perf_counter() - start
            start = time.perf_counter()
            subprocess.run([binary, "train", "--data", str(data), "--target", "target", "--model", "ebm",
                            "--param", f"interactions={k}", "--out", str(pathlib.Path(tmp) / f"ebm{k}")],
                           check=True, stdout=subprocess.DEVNULL)
            ours = time.perf_counter() - start
            print(f"interactions={k}: ml-sdk {ours:.2f} s, InterpretML {theirs:.2f} s, ratio {ours / theirs:.3f}")


if __name__ == "__main__":
    main()
