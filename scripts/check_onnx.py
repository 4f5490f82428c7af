#!/usr/bin/env python3
"""Check ml-onnx exports with the real onnx and onnxruntime.

    check_onnx.py DIR

DIR holds NAME.onnx files and NAME.json files ({"input": rows, "probabilities"
or "values" or "labels" or "margins": our predictions}), written by
ml-onnx/tests/onnxruntime.rs.
Every model must pass onnx.checker.check_model(full_check=True), and
onnxruntime's outputs must equal ours: probabilities and values within 1e-5
(relative for values), labels exactly (except on probability ties within 1e-5).
"""
import json
import os
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort


def fail(msg):
    print(f"MISMATCH: {msg}", file=sys.stderr)
    sys.exit(1)


def check_pyfunc(directory, path, expected, x):
    """The same export, logged with MLflow's onnx flavor, loads and predicts in mlflow.pyfunc."""
    import mlflow

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri((pathlib.Path(directory) / "mlruns").resolve().as_uri())
    model = mlflow.pyfunc.load_model(f"runs:/{expected['mlflow_run']}/model")
    out = model.predict(x)
    if "probabilities" in expected:
        err = np.abs(np.asarray(out["probabilities"]) - np.asarray(expected["probabilities"])).max()
    elif "margins" in expected:
        err = np.abs(np.asarray(out["scores"]) - np.asarray(expected["margins"])).max()
    elif "values" in expected:
        want = np.asarray(expected["values"])
        err = (np.abs(np.asarray(out["variable"])[:, 0] - want) / np.maximum(1.0, np.abs(want))).max()
    else:
        err = float((np.asarray(out["label"]) != np.asarray(expected["clusters"])).sum())
    if err > 1e-5:
        fail(f"{path.name}: mlflow.pyfunc predictions differ by {err}")


def main(directory):
    models = sorted(pathlib.Path(directory).glob("*.onnx"))
    if not models:
        fail("no models to check")
    for path in models:
        expected = json.loads(path.with_suffix(".json").read_text())
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        x = np.asarray(expected["input"], dtype=np.float64)
        names = [o.name for o in sess.get_outputs()]
        out = dict(zip(names, sess.run(None, {"input": x})))
        if "probabilities" in expected:
            p = out["probabilities"]
            want = np.asarray(expected["probabilities"])
            err = np.abs(p - want).max()
            if err > 1e-5:
                fail(f"{path.name}: probabilities differ by {err}")
            labels = out["label"]
            for i, (got, w) in enumerate(zip(labels, expected["labels"])):
                if got != w and abs(want[i, got] - want[i, w]) > 1e-5:
                    fail(f"{path.name}: row {i} label {got} != {w}")
        if "margins" in expected:
            m = out["scores"]
            want = np.asarray(expected["margins"])
            err = (np.abs(m - want) / np.maximum(1.0, np.abs(want))).max()
            if err > 1e-5:
                fail(f"{path.name}: margins differ by {err} (relative)")
            if (out["label"] != np.asarray(expected["labels"])).any():
                fail(f"{path.name}: labels differ")
        if "values" in expected:
            v = out["variable"][:, 0]
            want = np.asarray(expected["values"])
            err = (np.abs(v - want) / np.maximum(1.0, np.abs(want))).max()
            if err > 1e-5:
                fail(f"{path.name}: values differ by {err} (relative)")
        if "clusters" in expected:
            got = out["label"]
            scores = out["scores"]
            for i, (g, w) in enumerate(zip(got, expected["clusters"])):
                if g != w and abs(scores[i, g] - scores[i, w]) > 1e-3 * max(1.0, abs(scores[i, w])):
                    fail(f"{path.name}: row {i} cluster {g} != {w}")
        meta = {p.key: p.value for p in model.metadata_props}
        if model.producer_name != "ml-sdk" or "feature_names" not in meta:
            fail(f"{path.name}: metadata {model.producer_name} {sorted(meta)}")
        if "mlflow_run" in expected:
            check_pyfunc(directory, path, expected, x)
        print(f"{path.name}: checker full_check ok, onnxruntime and mlflow.pyfunc agree on {len(x)} rows")
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}: {len(models)} models agree")


if __name__ == "__main__":
    main(sys.argv[1])
