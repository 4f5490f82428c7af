#!/usr/bin/env python3
"""Check ml-onnx exports with the real onnx and onnxruntime.

    check_onnx.py DIR

DIR holds NAME.onnx files and NAME.json files ({"input": rows, "probabilities"
or "values" or "labels": our predictions}), written by ml-onnx/tests/onnxruntime.rs.
Every model must pass onnx.checker.check_model(full_check=True), and
onnxruntime's outputs must equal ours: probabilities and values within 1e-5
(relative for values), labels exactly (except on probability ties within 1e-5).
"""
import json
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort


def fail(msg):
    print(f"MISMATCH: {msg}", file=sys.stderr)
    sys.exit(1)


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
        print(f"{path.name}: checker full_check ok, onnxruntime agrees on {len(x)} rows")
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}: {len(models)} models agree")


if __name__ == "__main__":
    main(sys.argv[1])
